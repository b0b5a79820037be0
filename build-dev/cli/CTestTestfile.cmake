# CMake generated Testfile for 
# Source directory: /work/wt-fork/cli
# Build directory: /work/wt-fork/build-dev/cli
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
