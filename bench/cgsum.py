#!/usr/bin/env python3
# bench/cgsum.py FILE.cg OPS [SORT-COLUMN]: per-op events of the model alone (self cost of functions in bench/ left out)
import sys, subprocess, re
f, ops = sys.argv[1], float(sys.argv[2])
ev = ["Ir", "Dr", "Dw", "D1mr", "D1mw", "DLmr", "DLmw"]
out = subprocess.run(["callgrind_annotate", "--threshold=100", "--show=" + ",".join(ev), "--auto=no", f],
                     capture_output=True, text=True).stdout
M = [0] * 7; B = [0] * 7; top = []
for line in out.splitlines():
    if "PROGRAM TOTALS" in line: continue
    l = re.sub(r"\(\s*[0-9.]+%\)", "", line).split()
    if len(l) < 8 or ":" not in l[7] or not re.match(r"^[0-9,.]+$", l[0]): continue
    v = [0 if x == "." else int(x.replace(",", "")) for x in l[:7]]
    tgt = B if "bench/" in l[7] else M
    for i in range(7): tgt[i] += v[i]
    top.append((v, l[7]))
print("model: " + " ".join("%s=%.2f" % (e, M[i] / ops) for i, e in enumerate(ev)) +
      "   | bench loop: " + " ".join("%s=%.2f" % (e, B[i] / ops) for i, e in enumerate(ev)))
if len(sys.argv) > 3:
    for v, n in sorted(top, key=lambda t: -t[0][int(sys.argv[3])])[:15]:
        print("  %8.1f Ir %6.2f D1mr %6.2f DLmr %6.2f DLmw  %s" % (v[0] / ops, v[3] / ops, v[5] / ops, v[6] / ops, n.split("/")[-1]))
