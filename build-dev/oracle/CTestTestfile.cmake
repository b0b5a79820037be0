# CMake generated Testfile for 
# Source directory: /work/wt-fork/oracle
# Build directory: /work/wt-fork/build-dev/oracle
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("naive")
subdirs("kernel")
subdirs("kvm")
