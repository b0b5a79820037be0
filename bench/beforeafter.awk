# Two bench_streams --csv files (before, after; bench/minof.awk output) ->
# a markdown table of the model's ns/op before and after, and the ratios of
# the kernel's and the naive oracle's ns/op to the model's (all minima over
# the runs, so a ratio may pair two different runs).
#   awk -F, -f bench/beforeafter.awk before.csv after.csv
function fmt(x) { return x == "" ? "–" : (x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x)) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "–" : sprintf("%.1f×", a / b) }
FNR == 1 { file++ }
$1 == "op" {
	k = $2 SUBSEP $3
	if (!(k in seen)) { seen[k] = 1; order[++n] = k }
	ns[file, k, $5] = $7
	if ($5 == "model") vmas[k] = $4
}
END {
	print "| stream | VMAs | model before | model after | speed-up | kernel ÷ model, before → after | naive ÷ model, before → after |"
	print "|---|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, p, SUBSEP)
		b = ns[1, k, "model"]; a = ns[2, k, "model"]
		printf "| %s | %s | %s | %s | %s | %s → **%s** | %s → **%s** |\n", p[1], vmas[k], fmt(b), fmt(a), ratio(b, a),
		       ratio(ns[1, k, "kernel"], b), ratio(ns[2, k, "kernel"], a),
		       ratio(ns[1, k, "naive"], b), ratio(ns[2, k, "naive"], a)
	}
}
