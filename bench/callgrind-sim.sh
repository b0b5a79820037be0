#!/bin/sh
# Simulated caches of the model's timed replay, per op, whatever the load:
#
#   bench/callgrind-sim.sh BENCH_STREAMS_BINARY STREAM VMAS [OPS]
#
# callgrind --cache-sim with this machine's caches (Zen 5: 48 KiB 12-way L1d,
# 1 MiB 16-way L2 as "LL"; the VM reports none), instrumentation off until
# the timed replay starts (bench/replay.c's client requests; the layout build
# runs uninstrumented, so 1,000,000 VMAs take minutes, not hours). Prints the
# model's events per op (Ir, data reads/writes, L1d and L2 misses) with the
# bench loop's own cost (its functions under bench/) apart. A binary without
# the client requests (before they were added) needs the same two lines in
# its timed_replay_model.
set -eu
bin=$1 s=$2 n=$3 ops=${4:-20000}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
valgrind --tool=callgrind --cache-sim=yes --I1=32768,8,64 --D1=49152,12,64 --LL=1048576,16,64 \
	--instr-atstart=no --callgrind-out-file="$tmp/cg.%p" \
	"$bin" --stream "$s" --vmas "$n" --ops "$ops" --targets model --csv >"$tmp/run.csv" 2>"$tmp/valgrind.log"
o=$(awk -F, '$1 == "op" && $5 == "model" { print $6; exit }' "$tmp/run.csv")
f=$(ls -S "$tmp"/cg.* | head -1) # the process that ran the replay
echo "$s $n ops=$o $(python3 "$here/cgsum.py" "$f" "$o")"
