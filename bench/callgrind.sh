#!/bin/sh
# Instruction counts of the model, to compare a change with its parent
# whatever the machine's load.
#
#   bench/callgrind.sh [--all] [BENCH_STREAMS_BINARY]
#
# The fixed stream: mixed (a recorded python3 run, docs/perf/mixed-python.trace)
# on 1,000 VMAs, 20,000 ops, model only. Prints the total Ir of the run (the
# build of the address space included; it varies by ~100 Ir from run to run
# with the addresses the process gets) and the Ir of the timed replay alone
# (timed_replay_model, inclusive: exact), with Ir per op.
#
# --all also prints Ir per op of the timed replay of every stream at 1,000,
# 65,530 and 1,000,000 VMAs (a few minutes on an idle machine; building the
# 1,000,000-VMA layouts under valgrind dominates, and takes over 10 minutes
# per stream on a loaded one: SIZES="1000 65530" leaves them out). Compare
# binaries of the same build type (the release preset).
set -eu
all=0
if [ "${1:-}" = "--all" ]; then
	all=1
	shift
fi
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$root/build/release/bench/bench_streams}
if [ ! -x "$bin" ]; then
	echo "callgrind.sh: $bin not built (cmake --preset release && cmake --build --preset release)" >&2
	exit 2
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
	"$bin" --stream mixed --vmas 1000 --ops 20000 --targets model --csv >"$tmp/run.csv" 2>"$tmp/valgrind.log"
total=$(sed -n 's/^summary: //p' "$tmp/cg.out")
[ -n "$total" ] || total=$(sed -n 's/^totals: //p' "$tmp/cg.out")
timed=$(callgrind_annotate --inclusive=yes "$tmp/cg.out" 2>/dev/null |
	awk '/timed_replay_model/ { gsub(",", "", $1); print $1; exit }')
ops=$(awk -F, '$1 == "op" && $5 == "model" { print $6; exit }' "$tmp/run.csv")
echo "stream mixed, 1000 VMAs, model: $ops timed ops"
echo "total Ir $total"
if [ -n "$timed" ] && [ -n "$ops" ]; then
	echo "timed Ir $timed ($(awk -v t="$timed" -v n="$ops" 'BEGIN { printf "%.0f", t / n }') per op)"
fi
[ "$all" = 1 ] || exit 0

echo
echo "timed replay only (--toggle-collect=timed_replay_model), model, 20,000 ops:"
printf '%-9s %9s %12s %9s\n' stream vmas Ir Ir/op
for s in churn mprotect mremap find nohint touch mixed; do
	for n in ${SIZES:-1000 65530 1000000}; do
		valgrind --tool=callgrind --toggle-collect=timed_replay_model --callgrind-out-file="$tmp/cg.$s" \
			"$bin" --stream "$s" --vmas "$n" --ops 20000 --targets model --csv >"$tmp/run.csv" 2>"$tmp/valgrind.log"
		ir=$(sed -n 's/^summary: //p' "$tmp/cg.$s")
		o=$(awk -F, '$1 == "op" && $5 == "model" { print $6; exit }' "$tmp/run.csv")
		printf '%-9s %9s %12s %9.0f\n' "$s" "$n" "$ir" "$(awk -v t="$ir" -v n="$o" 'BEGIN { print t / n }')"
	done
done
