# CMake generated Testfile for 
# Source directory: /work/wt-fork/harness
# Build directory: /work/wt-fork/build-dev/harness
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("walkcheck")
