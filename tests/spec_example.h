/* The example of shared/spec/trace-format.md, verbatim: the trace every
 * implementation must reproduce exactly. Shared by the tests. */
#ifndef MMREF_TESTS_SPEC_EXAMPLE_H
#define MMREF_TESTS_SPEC_EXAMPLE_H

static const char spec_example[] = "mmtrace 1\n"
                                   "# an mprotect in the middle of a VMA splits it in three\n"
                                   "mmap +0 16K rw- private,anonymous,fixed_noreplace => +0x0\n"
                                   "touch +4K w => ok\n"
                                   "touch +0 r => ok\n"
                                   "mprotect +4K 4K r-- => 0\n"
                                   "touch +4K w => SEGV_ACCERR pf=0x7\n"
                                   "maps\n"
                                   "| 100000000000-100000001000 rw-p 00000000 anon\n"
                                   "| 100000001000-100000002000 r--p 00000000 anon\n"
                                   "| 100000002000-100000004000 rw-p 00000000 anon\n"
                                   "pages +0 16K\n"
                                   "| +0x0 zero\n"
                                   "| +0x1000 anon\n"
                                   "| +0x2000 none\n"
                                   "| +0x3000 none\n";

#endif
