# CMake generated Testfile for 
# Source directory: /work/wt-fork/oracle/naive
# Build directory: /work/wt-fork/build-dev/oracle/naive
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
