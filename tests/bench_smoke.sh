#!/bin/sh
# bench_streams, small and untimed (nothing here asserts a speed): every
# stream on the model, the naive oracle and (where it runs) the kernel, each
# target's result of every op equal to the reference run's (the mismatch
# column 0), and every stream written by --emit an mmtrace that `mmref
# replay` runs on the model with every expectation holding.
#   tests/bench_smoke.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
bin=$build/bench/bench_streams
[ -x "$bin" ] || { echo "bench_smoke: $bin not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
(cd "$src" && "$bin" --csv --vmas 300 --ops 400 --stream churn,mprotect,mremap,find,nohint,touch,mixed \
	--targets model,naive,kernel --emit "$tmp") >"$tmp/run.csv"
cat "$tmp/run.csv"
# rec,stream,size,vmas,target,ops,ns_per_op,errors,mismatch,note
awk -F, 'NR > 1 && $1 == "op" {
	rows++
	if ($5 != "kernel" && $9 == "") { print "bench_smoke: " $2 " did not run on " $5 ": " $10; bad++ }
	if ($9 != "" && $9 != 0) { print "bench_smoke: " $2 " on " $5 ": " $9 " results differ from the reference"; bad++ }
}
END { if (rows != 21) { print "bench_smoke: " rows " rows, expected 21"; bad++ } exit bad > 0 }' "$tmp/run.csv"
n=0
for t in "$tmp"/*.trace; do
	"$build/mmref" replay --max-arena 256G --target model "$t" >/dev/null
	n=$((n + 1))
done
[ "$n" = 7 ] || { echo "bench_smoke: $n traces emitted, expected 7"; exit 1; }
echo "bench_smoke: 7 streams agree; 7 emitted traces replay"
