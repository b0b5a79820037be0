#!/bin/sh
# Regenerates everything in docs/perf/ that docs/performance.md reports:
#   bench/run-all.sh
# 1. builds the release preset;
# 2. runs bench_streams on every stream and size, all three targets
#    (docs/perf/streams.csv, and the tables in docs/perf/streams.md);
# 3. draws docs/perf/streams.svg with gnuplot;
# 4. counts instructions with callgrind: the fixed stream, and Ir per op of
#    every stream at 1,000 / 65,530 / 1,000,000 VMAs (docs/perf/callgrind.txt).
# About 4 minutes on 2 cores, half of it callgrind; the naive oracle's share
# is bounded by --naive-budget (CPU seconds per stream and size). Extra
# arguments go to bench_streams (e.g. --ops 5000 for a quick look).
set -eu
cd "$(dirname "$0")/.."
out=docs/perf
bin=build/release/bench/bench_streams
mkdir -p "$out"

cmake --preset release
cmake --build --preset release

{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- model oracle bench 2>/dev/null || echo ' (+ uncommitted changes)')"
	echo "kernel: $(uname -r)"
	echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
	echo "max_map_count: $(cat /proc/sys/vm/max_map_count)"
	echo "thp: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
	echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$out/machine.txt"

"$bin" --csv "$@" >"$out/streams.csv"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/machine.txt"
awk -F, -f bench/csv2md.awk "$out/streams.csv" >"$out/streams.md"
gnuplot -e "csv='$out/streams.csv'; out='$out/streams.svg'" bench/plot.gp
bench/callgrind.sh --all "$bin" >"$out/callgrind.txt"
cat "$out/machine.txt" "$out/streams.md" "$out/callgrind.txt"
