#!/usr/bin/env python3
"""Turn an strace log of a real program's memory system calls into an mmtrace
(docs/trace-format.md) that bench_streams replays on the model, the naive
oracle and the kernel (the mixed stream), and that `mmref replay` and
`mmref diff` run like any trace.

Record:
    strace -f -e trace=%memory,openat,close -o prog.strace PROGRAM ARGS...
Convert:
    bench/strace2ops.py --mmref build/release/mmref prog.strace > docs/perf/mixed-python.trace

Addresses of the real run mean nothing in the replay: the trace's no-hint
mmaps land wherever the gap search puts them in the bench's arena
(0x200000000000, 256 GiB). So every address is first taken relative to the
op that created the mapping it falls in ("what op 12 returned, plus
0x3000"), and then resolved by running the trace, statement by statement, on
the model (`mmref serve --target model`, the exec protocol): each op's
result becomes its expectation (`=> RESULT`), and the addresses of the ops
after it follow from those results. The model, the naive oracle and the
kernel (in the bench's arena, with placeholders around it) place no-hint
mmaps alike, so the absolute addresses hold on all three.

An op whose address lies in no mapping the trace created (the executable's
RELRO, the stack, the vDSO) is dropped, and so is brk (the model has no
heap). At the end the converter unmaps everything still mapped, so the trace
can be replayed again and again on the same address space.

File mappings: every successful openat is a new file; its size is the size
of that path on this machine if it still exists, else the furthest byte any
mapping of it reaches. The trace declares a file of that size (`file fN
SIZE`: mm_file_create, naive_file_create, a memfd on the kernel).

One process only: the pid with the most memory calls, from its last
successful execve (or the start of the log).
"""
import argparse
import os
import re
import subprocess
import sys

PAGE = 4096

PROT = {"PROT_NONE": 0, "PROT_READ": 1, "PROT_WRITE": 2, "PROT_EXEC": 4, "PROT_SEM": 8,
        "PROT_GROWSDOWN": 0x01000000, "PROT_GROWSUP": 0x02000000}
MAP = {"MAP_SHARED": 0x01, "MAP_PRIVATE": 0x02, "MAP_SHARED_VALIDATE": 0x03, "MAP_DROPPABLE": 0x08,
       "MAP_FIXED": 0x10, "MAP_ANONYMOUS": 0x20, "MAP_32BIT": 0x40, "MAP_ABOVE4G": 0x80,
       "MAP_GROWSDOWN": 0x100, "MAP_DENYWRITE": 0x800, "MAP_EXECUTABLE": 0x1000, "MAP_LOCKED": 0x2000,
       "MAP_NORESERVE": 0x4000, "MAP_POPULATE": 0x8000, "MAP_NONBLOCK": 0x10000, "MAP_STACK": 0x20000,
       "MAP_HUGETLB": 0x40000, "MAP_SYNC": 0x80000, "MAP_FIXED_NOREPLACE": 0x100000,
       "MAP_UNINITIALIZED": 0x4000000}
MREMAP = {"MREMAP_MAYMOVE": 1, "MREMAP_FIXED": 2, "MREMAP_DONTUNMAP": 4}
MADV = {"MADV_NORMAL": 0, "MADV_RANDOM": 1, "MADV_SEQUENTIAL": 2, "MADV_WILLNEED": 3, "MADV_DONTNEED": 4,
        "MADV_FREE": 8, "MADV_REMOVE": 9, "MADV_DONTFORK": 10, "MADV_DOFORK": 11, "MADV_MERGEABLE": 12,
        "MADV_UNMERGEABLE": 13, "MADV_HUGEPAGE": 14, "MADV_NOHUGEPAGE": 15, "MADV_DONTDUMP": 16,
        "MADV_DODUMP": 17, "MADV_WIPEONFORK": 18, "MADV_KEEPONFORK": 19, "MADV_COLD": 20,
        "MADV_PAGEOUT": 21, "MADV_POPULATE_READ": 22, "MADV_POPULATE_WRITE": 23,
        "MADV_DONTNEED_LOCKED": 24, "MADV_COLLAPSE": 25, "MADV_GUARD_INSTALL": 102,
        "MADV_GUARD_REMOVE": 103}
MAP_FIXED = 0x10
MAP_FIXED_NOREPLACE = 0x100000
MAP_ANONYMOUS = 0x20
MREMAP_FIXED = 2
ARENA_BASE = 0x200000000000
ARENA = "arena 0x200000000000 256G"


def flags(text, table):
    v = 0
    for part in text.split("|"):
        part = part.strip()
        if not part:
            continue
        if part in table:
            v |= table[part]
        elif re.fullmatch(r"(0x[0-9a-fA-F]+|\d+)", part):
            v |= int(part, 0)
        elif part.startswith("MAP_HUGE_") or part.startswith("21<<") or part.startswith("30<<"):
            m = re.fullmatch(r"(\d+)<<MAP_HUGE_SHIFT", part)
            v |= (int(m.group(1)) << 26) if m else 0
        else:
            raise ValueError("unknown flag " + part)
    return v


def num(text):
    text = text.strip()
    if text == "NULL":
        return 0
    return int(text, 0)


def split_args(s):
    """Top-level comma split of a syscall's argument text."""
    out, depth, cur, q = [], 0, "", False
    for ch in s:
        if q:
            cur += ch
            if ch == '"':
                q = False
            continue
        if ch == '"':
            q = True
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


LINE = re.compile(r"^(\d+)\s+(\w+)\((.*)\)\s+=\s+(-?\w+)(.*)$")


def parse(path):
    """Yields (pid, name, args, ret) for completed calls, merging
    <unfinished ...> / <... resumed> halves."""
    pending = {}
    with open(path) as f:
        for raw in f:
            raw = raw.rstrip("\n")
            m = re.match(r"^(\d+)\s+(.*)$", raw)
            if not m:
                continue
            pid, rest = m.group(1), m.group(2)
            if rest.endswith("<unfinished ...>"):
                pending[pid] = rest[: -len("<unfinished ...>")].rstrip()
                continue
            r = re.match(r"^<\.\.\. \w+ resumed>(.*)$", rest)
            if r:
                rest = pending.pop(pid, "") + r.group(1)
            m = LINE.match(pid + " " + rest)
            if not m:
                continue
            ret = m.group(4)
            try:
                retv = int(ret, 0)
            except ValueError:
                retv = -1
            yield pid, m.group(2), split_args(m.group(3)), retv, m.group(3)


class Regions:
    """Live mappings of the traced process: [start, end) -> (ref, base),
    meaning "this address is what op `ref` returned plus (addr - base)"."""

    def __init__(self):
        self.iv = []  # sorted list of [start, end, ref, base]

    def find(self, addr):
        for s, e, ref, base in self.iv:
            if s <= addr < e:
                return ref, base
        return None

    def remove(self, start, end):
        out = []
        for s, e, ref, base in self.iv:
            if e <= start or s >= end:
                out.append([s, e, ref, base])
                continue
            if s < start:
                out.append([s, start, ref, base])
            if e > end:
                out.append([end, e, ref, base])
        self.iv = out

    def add(self, start, end, ref, base):
        self.remove(start, end)
        self.iv.append([start, end, ref, base])
        self.iv.sort()

    def pieces(self):
        return list(self.iv)


def page_up(x):
    return (x + PAGE - 1) & ~(PAGE - 1)


def main():
    ap = argparse.ArgumentParser(description="strace log -> mmtrace of the bench's arena")
    ap.add_argument("--mmref", default="build/release/mmref", help="the mmref binary that resolves addresses")
    ap.add_argument("log")
    opts = ap.parse_args()
    calls = list(parse(opts.log))
    memcalls = ("mmap", "munmap", "mprotect", "mremap", "madvise", "brk")
    count = {}
    for pid, name, *_ in calls:
        if name in memcalls:
            count[pid] = count.get(pid, 0) + 1
    if not count:
        sys.exit("no memory calls in the log")
    pid = max(count, key=count.get)
    start = 0
    for i, (p, name, args, ret, _) in enumerate(calls):
        if p == pid and name == "execve" and ret == 0:
            start = i + 1
    calls = [c for c in calls[start:] if c[0] == pid]

    regions = Regions()
    ops = []        # output lines, op index = position
    files = {}      # file id -> size
    fd_file = {}    # open fd -> file id
    file_path = {}
    dropped = {"brk": 0, "untracked": 0, "other": 0}
    peak = 0

    def rel(addr):
        f = regions.find(addr)
        if f is None:
            return None
        ref, base = f
        return (ref, addr - base)

    for _, name, args, ret, text in calls:
        if name == "openat":
            if ret >= 0:
                fid = len(files) + 1
                m = re.search(r'"([^"]*)"', text)
                p = m.group(1) if m else None
                size = 0
                if p and os.path.isfile(p):
                    size = os.path.getsize(p)
                files[fid] = size
                file_path[fid] = p
                fd_file[ret] = fid
            continue
        if name == "close":
            fd_file.pop(num(args[0]), None)
            continue
        if name == "brk":
            dropped["brk"] += 1
            continue
        if name == "mmap":
            addr, length, prot, fl, fd, off = num(args[0]), num(args[1]), flags(args[2], PROT), \
                flags(args[3], MAP), num(args[4]), num(args[5])
            fid = 0
            if not fl & MAP_ANONYMOUS:
                if fd not in fd_file:
                    dropped["untracked"] += 1
                    continue
                fid = fd_file[fd]
                files[fid] = max(files[fid], off + length) if not os.path.isfile(file_path[fid] or "") \
                    else files[fid]
            if fl & (MAP_FIXED | MAP_FIXED_NOREPLACE):
                a = rel(addr)
                if a is None:
                    dropped["untracked"] += 1
                    continue
            else:
                a = rel(addr) if addr else None  # a hint outside our mappings: no hint
            idx = len(ops)
            ops.append(("mmap", a, length, prot, fl, fid, off))
            if ret >= 0 and ret != -1:
                regions.add(ret, ret + page_up(length), idx, ret)
        elif name == "munmap":
            addr, length = num(args[0]), num(args[1])
            a = rel(addr)
            if a is None:
                dropped["untracked"] += 1
                continue
            ops.append(("munmap", a, length))
            if ret == 0:
                regions.remove(addr, addr + page_up(length))
        elif name == "mprotect":
            addr, length, prot = num(args[0]), num(args[1]), flags(args[2], PROT)
            a = rel(addr)
            if a is None:
                dropped["untracked"] += 1
                continue
            ops.append(("mprotect", a, length, prot))
        elif name == "madvise":
            addr, length, adv = num(args[0]), num(args[1]), flags(args[2], MADV)
            a = rel(addr)
            if a is None:
                dropped["untracked"] += 1
                continue
            ops.append(("madvise", a, length, adv))
        elif name == "mremap":
            addr, old, new, fl = num(args[0]), num(args[1]), num(args[2]), flags(args[3], MREMAP)
            a = rel(addr)
            na = None
            if fl & MREMAP_FIXED:
                na = rel(num(args[4]))
                if na is None:
                    dropped["untracked"] += 1
                    continue
            if a is None:
                dropped["untracked"] += 1
                continue
            idx = len(ops)
            ops.append(("mremap", a, old, new, fl, na))
            if ret >= 0 and ret != -1:
                ref, base = regions.find(addr)
                regions.remove(addr, addr + page_up(old))
                regions.add(ret, ret + page_up(new), idx, ret)
        else:
            dropped["other"] += 1
            continue
        peak = max(peak, len(regions.pieces()))

    body = len(ops)
    for s, e, ref, base in regions.pieces():
        ops.append(("munmap", (ref, s - base), e - s))

    renum = {}
    for op in ops:
        if op[0] == "mmap" and op[5] and op[5] not in renum:
            renum[op[5]] = len(renum) + 1
    header = ["# %s, pid %s: converted by bench/strace2ops.py, addresses resolved on the model"
              % (os.path.basename(opts.log), pid),
              "# ops %d (+%d final munmaps), dropped: brk %d, outside traced mappings %d, other %d; peak regions %d"
              % (body, len(ops) - body, dropped["brk"], dropped["untracked"], dropped["other"], peak),
              "mmtrace 1", ARENA]
    for fid, new in renum.items():
        header.append("file f%d %#x  # %s" % (new, max(PAGE, page_up(files[fid])), file_path[fid]))
    print("\n".join(header))
    resolve(opts.mmref, header, ops, renum)


def prot_text(p):
    if p & ~7:
        raise ValueError("PROT bits beyond rwx: %#x" % p)
    return ("r" if p & 1 else "-") + ("w" if p & 2 else "-") + ("x" if p & 4 else "-")


def names(v, table, what):
    out = []
    for name, bit in table:
        if v & bit:
            out.append(name)
            v &= ~bit
    if v:
        raise ValueError("%s bits with no name in the format: %#x" % (what, v))
    return out


MAP_TYPES = {0x01: "shared", 0x02: "private", 0x03: "shared_validate"}
MAP_BITS = [("fixed", 0x10), ("anonymous", 0x20), ("32bit", 0x40), ("growsdown", 0x100), ("denywrite", 0x800),
            ("executable", 0x1000), ("locked", 0x2000), ("noreserve", 0x4000), ("populate", 0x8000),
            ("nonblock", 0x10000), ("stack", 0x20000), ("hugetlb", 0x40000), ("sync", 0x80000),
            ("fixed_noreplace", 0x100000), ("uninitialized", 0x4000000)]
MREMAP_BITS = [("maymove", 1), ("fixed", 2), ("dontunmap", 4)]
MADV_NAMES = {v: k[len("MADV_"):].lower() for k, v in MADV.items()}


def resolve(mmref, header, ops, renum):
    """Runs the ops on the model, one statement at a time, and prints each
    with absolute addresses and the model's result."""
    srv = subprocess.Popen([mmref, "serve", "--max-arena", "256G", "--target", "model"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True, bufsize=1)
    results = {}

    def ask(line):
        srv.stdin.write(line + "\n")
        srv.stdin.flush()
        answer = []
        while True:
            got = srv.stdout.readline()
            if got == "":
                sys.exit("strace2ops.py: %s serve ended" % mmref)
            if got == "\n":
                return answer
            answer.append(got.rstrip("\n"))

    def addr(a):
        ref, off = a
        base = results.get(ref)
        if base is None or base < 0:
            return None  # the op that made the mapping failed on the model
        v = base + off
        return "+%#x" % (v - ARENA_BASE) if v >= ARENA_BASE else "%#x" % v

    for line in header:
        if not line.startswith("#"):
            ask(line.split("  #")[0])
    for idx, op in enumerate(ops):
        kind = op[0]
        if kind == "mmap":
            _, a, length, prot, fl, fid, off = op
            where = addr(a) if a else "0"
            typ = MAP_TYPES.get(fl & 0x0f)
            if typ is None:
                raise ValueError("MAP type %#x" % (fl & 0x0f))
            text = "mmap %s %#x %s %s" % (where, length, prot_text(prot),
                                          ",".join([typ] + names(fl & ~0x0f, MAP_BITS, "MAP")))
            if fid:
                text += " file=f%d" % renum[fid]
            if off:
                text += " off=%#x" % off
        elif kind == "mremap":
            _, a, old, new, fl, na = op
            where = addr(a)
            text = "mremap %s %#x %#x %s" % (where, old, new, ",".join(names(fl, MREMAP_BITS, "MREMAP")) or "-")
            if na:
                text += " " + addr(na)
        elif kind == "madvise":
            _, a, length, adv = op
            where = addr(a)
            text = "madvise %s %#x %s" % (where, length, MADV_NAMES[adv])
        else:
            _, a, length, *rest = op
            where = addr(a)
            text = "%s %s %#x" % (kind, where, length) + ("" if not rest else " " + prot_text(rest[0]))
        if where is None:
            sys.exit("strace2ops.py: op %d (%s) names a mapping that failed on the model" % (idx, kind))
        answer = ask(text)
        got = [l for l in answer if "=>" in l]
        if not got:
            sys.exit("strace2ops.py: %s serve: %s -> %s" % (mmref, text, answer))
        print(got[0])
        res = got[0].split("=>", 1)[1].strip()
        if res.startswith("+"):
            results[idx] = ARENA_BASE + int(res[1:], 16)
        elif res.startswith("0x"):
            results[idx] = int(res, 16)
        elif res == "0":
            results[idx] = 0
        else:
            results[idx] = -1
    srv.stdin.close()
    srv.wait()

if __name__ == "__main__":
    main()
