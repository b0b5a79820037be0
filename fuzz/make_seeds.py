#!/usr/bin/env python3
"""Writes the seed corpora corpus/seeds/<target>/ (deterministic: run it
again and the same files come out). Byte layouts: harness/decode.c and
fuzz/pagewalk.c; docs/fuzzing.md.

    fuzz/make_seeds.py [MMREF]    # MMREF: an mmref binary for trace_parser seeds
"""
import os
import random
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SEEDS = os.path.join(ROOT, "corpus", "seeds")

# Operation bytes (r0 % 32) of harness/decode.c.
MMAP, MUNMAP, MPROTECT, MREMAP, MADVISE, MLOCK, MUNLOCK, MSEAL, TOUCH, STATE = 0, 8, 11, 15, 18, 22, 24, 25, 26, 31
# Address modes (r1 & 7): region start/end/inside, low window.
START, END, INSIDE, WIN = 0, 1, 2, 3
READ, WRITE, EXEC = 0, 200, 230
PRIVATE, SHARED = 0, 4
FIXED, NOREPLACE, NOHINT = 1 << 3, 2 << 3, 3 << 3


def rec(op, mode=WIN, b=0, length=0, r4=0, r5=0, r6=0, r7=0, region=0):
    return bytes([op, (mode | region << 3) & 0xff, b & 0xff, length & 0xff, r4 & 0xff, r5 & 0xff, r6 & 0xff, r7 & 0xff])


def header(nfiles=0, s1=3, s2=7):
    return bytes([nfiles, s1, s2, 0])


def pages(n):  # length byte for n (1..8) pages
    return n - 1


def mmap(page, n, prot=3, flags=PRIVATE | NOREPLACE, r6=0, r7=0):
    return rec(MMAP, WIN, page, pages(n), prot, flags, r6, r7)


# Hand-made scenarios: each the start of something interesting.
SCENARIOS = {
    "mprotect-split": header() + mmap(0, 4) + rec(TOUCH, START, 1, WRITE) + rec(MPROTECT, START, 5, pages(1), 1) + rec(STATE),
    "merge-adjacent": header() + mmap(0, 2) + mmap(2, 2) + rec(STATE),
    "merge-after-mprotect": header() + mmap(0, 4) + rec(MPROTECT, START, 5, pages(2), 1) + rec(MPROTECT, START, 5, pages(2), 3),
    "munmap-middle": header() + mmap(0, 8) + rec(MUNMAP, START, 6, pages(2)) + rec(STATE),
    "mremap-grow": header() + mmap(0, 2) + rec(MREMAP, START, 4, pages(2), pages(6), 0),
    "mremap-move": header() + mmap(0, 2) + rec(TOUCH, START, 0, WRITE) + rec(MREMAP, START, 4, pages(2), pages(4), 5),
    "mremap-fixed": header() + mmap(0, 2) + rec(MREMAP, START, 4, pages(2), pages(2), 10, WIN, 20),
    "mremap-dontunmap": header() + mmap(0, 2) + rec(TOUCH, START, 0, WRITE) + rec(MREMAP, START, 4, pages(2), pages(2), 14),
    "madvise-dontneed": header() + mmap(0, 4) + rec(TOUCH, START, 0, WRITE) + rec(MADVISE, START, 4, pages(4), 0),
    "guard-install": header() + mmap(0, 4) + rec(MADVISE, START, 5, pages(1), 3) + rec(TOUCH, START, 1, READ) + rec(MADVISE, START, 5, pages(1), 5),
    "mlock-onfault": header() + mmap(0, 4) + rec(MLOCK, START, 4, pages(4), 3) + rec(TOUCH, START, 2, WRITE) + rec(MUNLOCK, START, 4, pages(2)),
    "mseal": header() + mmap(0, 4) + rec(MSEAL, START, 4, pages(2)) + rec(MUNMAP, START, 4, pages(4)) + rec(MPROTECT, START, 4, pages(1), 1),
    "file-private": header(1, 7) + mmap(0, 4, 3, PRIVATE | NOREPLACE, 1, 0) + rec(TOUCH, START, 0, READ) + rec(TOUCH, START, 1, WRITE),
    "file-shared": header(1, 7) + mmap(0, 4, 3, SHARED | NOREPLACE, 1, 1) + rec(TOUCH, START, 0, WRITE) + rec(STATE),
    "file-past-eof": header(1, 0x81) + mmap(0, 4, 1, PRIVATE | NOREPLACE, 1, 0) + rec(TOUCH, START, 2, READ),
    "shared-anon": header() + mmap(0, 4, 3, SHARED | NOREPLACE) + rec(TOUCH, START, 0, WRITE) + rec(MREMAP, START, 4, pages(4), pages(8), 5),
    "nohint": header() + mmap(0, 4, 3, PRIVATE | NOHINT) + mmap(0, 2, 3, PRIVATE | NOHINT) + rec(STATE),
    "pmd": header() + rec(MMAP, WIN, 0, 245, 3, PRIVATE | NOHINT) + rec(TOUCH, START, 0, WRITE),
    "growsdown": header() + mmap(8, 4, 3, PRIVATE | NOREPLACE, 13 << 4) + rec(TOUCH, START, 0x100 - 5, WRITE),
    "populate": header() + mmap(0, 4, 3, PRIVATE | NOREPLACE, 10 << 4) + rec(STATE),
    "fixed-over": header() + mmap(0, 8) + mmap(2, 2, 1, PRIVATE | FIXED) + rec(STATE),
    "zero-page-cow": header() + mmap(0, 2) + rec(TOUCH, START, 0, READ) + rec(TOUCH, START, 0, WRITE) + rec(MPROTECT, START, 4, pages(2), 1) + rec(TOUCH, START, 1, WRITE),
    "raw-errno": header() + rec(0xe0, WIN, 0, pages(1), 0x83, 0x87) + rec(0xe0 | MPROTECT, WIN, 0, pages(1), 0x88) + rec(0xe0 | MADVISE, WIN, 0, pages(1), 77, 1),
}


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def main():
    rng = random.Random(20251118)
    for name, data in SCENARIOS.items():
        write("diff_model_naive", name, data)
        write("diff_model_kernel", name, data)
    # random 32-statement inputs biased to the common cases
    for i in range(24):
        data = bytearray(header(rng.randrange(3), rng.randrange(256), rng.randrange(256)))
        for _ in range(32):
            r = bytearray(rng.randrange(256) for _ in range(8))
            r[0] = rng.choice([MMAP, MMAP, MUNMAP, MPROTECT, MREMAP, MADVISE, MLOCK, TOUCH, TOUCH, r[0] % 32])
            r[3] = rng.randrange(192) if rng.random() < 0.8 else r[3]
            data += r
        write("diff_model_naive", "random-%02d" % i, bytes(data))
        if i < 8:
            write("diff_model_kernel", "random-%02d" % i, bytes(data))

    # pagewalk: a mapped 4 KiB page at indices (1, 2, 3, 4) in frames 1->2->3->4->5
    def entry(frame, level, index, to, flags, r3=0x06, r7=0xff):
        return bytes([(level - 1) << 1, frame - 1, index & 0xff, r3 | (index >> 8), to, flags, 0, r7])

    def access(kind, cpl3=True, off=0x123):
        return bytes([1 | kind << 1 | (0 if cpl3 else 0x80), 0, 0, off & 0xff, (off >> 8) & 0xf, 0, 0, 0])

    chain = entry(1, 4, 1, 2, 0x07) + entry(2, 3, 2, 3, 0x07) + entry(3, 2, 3, 4, 0x07) + entry(4, 1, 4, 5, 0x07)
    for mode in range(8):
        h = bytes([0x80 | mode * 5 & 0x1f, 0, 0, 0])
        for k in range(5):
            write("pagewalk", "chain-m%d-a%d" % (mode, k), h + chain + access(k, mode & 1 == 0))
    large = entry(1, 4, 1, 2, 0x07) + entry(2, 3, 2, 3, 0x07) + entry(3, 2, 3, 1, 0x87, 0x0e)
    write("pagewalk", "large-2m", bytes([0x83, 0, 0, 0]) + large + access(0) + access(1))
    giant = entry(1, 4, 1, 2, 0x07) + entry(2, 3, 2, 0, 0x87, 0x0e)
    write("pagewalk", "large-1g", bytes([0x83, 0, 0, 0]) + giant + access(0) + access(2))
    for i in range(12):
        write("pagewalk", "random-%02d" % i, bytes(rng.randrange(256) for _ in range(4 + 8 * 24)))

    # trace_parser: real trace texts (generated and hand-written)
    mmref = sys.argv[1] if len(sys.argv) > 1 else None
    if mmref:
        for i in range(24):
            text = subprocess.run([mmref, "gen", "--seed", str(i + 1), "--length", "24"], check=True,
                                  capture_output=True).stdout
            write("trace_parser", "gen-%02d.trace" % i, text)
    hand = {
        "example.trace": b"mmtrace 1\n# an mprotect in the middle of a VMA splits it in three\n"
        b"mmap +0 16K rw- private,anonymous,fixed_noreplace => +0x0\ntouch +4K w => ok\ntouch +0 r => ok\n"
        b"mprotect +4K 4K r-- => 0\ntouch +4K w => SEGV_ACCERR pf=0x7\nmaps\n"
        b"| 100000000000-100000001000 rw-p 00000000 anon\n| 100000001000-100000002000 r--p 00000000 anon\n"
        b"| 100000002000-100000004000 rw-p 00000000 anon\npages +0 16K\n| +0x0 zero\n| +0x1000 anon\n"
        b"| +0x2000 none\n| +0x3000 none\n",
        "directives.trace": b"mmtrace 1\narena 0x200000000000 64M\nfile data 12K\nfile f_2 0x1800\n"
        b"mmap +0 8K r-- shared file=data off=0x1000 => +0x0\nmmap 0 4K rw- private,0x200000 file=f_2\n"
        b"state\n| 200000000000-200000002000 r--s 00001000 file:data rd mr me ms : n2\nsmaps\n",
        "results.trace": b"mmtrace 1\nmunmap +0 4K => 0\nmremap +0 4K 8K maymove,fixed +16K => EFAULT\n"
        b"madvise +0 4K guard_install => ENOMEM\nmlock +0 4K onfault => ENOMEM\nmlock +0 4K 0x7 => EINVAL\n"
        b"mseal +0 4K 0x1 => EINVAL\ntouch +0x10 x => SEGV_MAPERR pf=0x14\ntouch +0 r => SIGBUS\n"
        b"mmap 0 0x10 0x8 0 => EINVAL\nmprotect +0 1G rwx => ENOMEM\n",
        "errors.trace": b"mmtrace 1\nmmap +0 16K rw- bogus\n",
        "numbers.trace": b"mmtrace 1\nmmap +0x10K 0x1K rwx private,anon,fixed => +0x4000\n"
        b"madvise +0 2M 102\nmunmap 0x100000000000 0xffffffffffffffff\n",
    }
    for name, text in hand.items():
        write("trace_parser", name, text)

    # kernel_input: a mode byte (fuzz/kernel_input.c: bit 7 the executor's
    # line geometry, the rest how many bytes each read returns) and the bytes
    # mmref-kernel reads: whole traces, refused lines between good ones.
    inputs = {
        "example": hand["example.trace"].split(b"maps\n")[0] + b"maps\npages +0 16K\nstate\n",
        "directives": hand["directives.trace"].split(b"state\n")[0] + b"mmtrace 1\nmunmap +0 4K\n",
        "nul": b"mmtrace 1\nmunmap +0 4K\0junk\nbogus\nmunmap +0 4K\n",
        "crlf": b"mmtrace 1\r\nmmap +0 4K rw- private,anonymous,fixed\r\n# comment\r\n\r\nmaps\r\n",
        "no-newline": b"mmtrace 1\nmunmap +0 4K",
        "errors": b"mmtrace 1\nmmap +0 16K rw- bogus\n| 1000-2000 rw-p\narena 0x0 1G\nfile\nmmtrace 2\n",
        "overlong-small": b"mmtrace 1\n# " + b"x" * 100 + b"\nbogus\n" + b"y" * 200 + b"\nmunmap +0 4K\n",
        "overlong-exec": b"mmtrace 1\n# " + b"x" * 65534 + b"\n# " + b"x" * 65535 + b"\nbogus\n",
    }
    for name, text in inputs.items():
        modes = (0x80, 0x86) if name == "overlong-exec" else (0x00, 0x01, 0x04, 0x80, 0x83, 0x0d)
        for mode in modes:
            write("kernel_input", "%s-%02x" % (name, mode), bytes([mode]) + text)


if __name__ == "__main__":
    main()
