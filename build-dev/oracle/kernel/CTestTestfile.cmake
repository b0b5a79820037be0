# CMake generated Testfile for 
# Source directory: /work/wt-fork/oracle/kernel
# Build directory: /work/wt-fork/build-dev/oracle/kernel
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
