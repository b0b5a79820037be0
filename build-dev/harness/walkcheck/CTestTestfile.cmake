# CMake generated Testfile for 
# Source directory: /work/wt-fork/harness/walkcheck
# Build directory: /work/wt-fork/build-dev/harness/walkcheck
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
