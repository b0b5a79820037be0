# CMake generated Testfile for 
# Source directory: /work/wt-fork/trace
# Build directory: /work/wt-fork/build-dev/trace
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
