#!/bin/sh
# Before/after on a shared machine: RUNS interleaved full runs of two
# bench_streams binaries (all streams but walk and memory, 1,000 / 65,530 /
# 1,000,000 VMAs, model, naive oracle and kernel), then the lowest ns/op of
# each cell (bench/minof.awk) and the tables (bench/csv2md.awk).
#
#   bench/compare.sh BEFORE_BINARY AFTER_BINARY OUTDIR [RUNS (3)] [bench_streams args]
#
# Writes OUTDIR/{before,after}-N.csv, OUTDIR/{before,after}.csv (the
# minima) and OUTDIR/{before,after}.md. Run it from the source tree (the
# mixed stream reads docs/perf/mixed-python.trace). About 4 minutes per run.
set -eu
before=$1 after=$2 out=$3
runs=${4:-3}
[ $# -ge 4 ] && shift 4 || shift 3
here=$(dirname "$0")
mkdir -p "$out"
for i in $(seq "$runs"); do
	for which in before after; do
		eval bin=\$$which
		echo "$which run $i: $(date -u '+%H:%M:%S'), load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
		"$bin" --csv --vmas 1000,65530,1000000 --stream churn,mprotect,mremap,find,nohint,touch,mixed \
			--targets model,naive,kernel "$@" >"$out/$which-$i.csv"
	done
done
for which in before after; do
	awk -F, -f "$here/minof.awk" "$out/$which"-[0-9]*.csv >"$out/$which.csv"
	awk -F, -f "$here/csv2md.awk" "$out/$which.csv" >"$out/$which.md"
done
