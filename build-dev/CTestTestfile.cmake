# CMake generated Testfile for 
# Source directory: /work/wt-fork
# Build directory: /work/wt-fork/build-dev
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("model")
subdirs("trace")
subdirs("oracle")
subdirs("harness")
subdirs("cli")
subdirs("tests")
subdirs("bench")
