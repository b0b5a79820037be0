# CMake generated Testfile for 
# Source directory: /work/wt-fork/model/tests
# Build directory: /work/wt-fork/build-dev/model/tests
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test([=[test_model_internals]=] "/work/wt-fork/build-dev/model/tests/test_model_internals")
set_tests_properties([=[test_model_internals]=] PROPERTIES  SKIP_RETURN_CODE "77" TIMEOUT "900" _BACKTRACE_TRIPLES "/work/wt-fork/model/tests/CMakeLists.txt;11;add_test;/work/wt-fork/model/tests/CMakeLists.txt;0;")
add_test([=[test_vma_tree]=] "/work/wt-fork/build-dev/model/tests/test_vma_tree")
set_tests_properties([=[test_vma_tree]=] PROPERTIES  SKIP_RETURN_CODE "77" TIMEOUT "900" _BACKTRACE_TRIPLES "/work/wt-fork/model/tests/CMakeLists.txt;11;add_test;/work/wt-fork/model/tests/CMakeLists.txt;0;")
