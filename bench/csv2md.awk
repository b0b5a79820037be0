# bench_streams --csv  ->  the markdown tables of docs/performance.md
#   awk -F, -f bench/csv2md.awk docs/perf/streams.csv > docs/perf/streams.md
function fmt(x) { return x == "" ? "–" : (x >= 100 ? sprintf("%.0f", x) : sprintf("%.1f", x)) }
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "–" : sprintf("%.1f×", a / b) }
$1 == "op" {
	key = $2 SUBSEP $3
	if (!(key in seen)) { seen[key] = 1; order[++n] = key; vmas[key] = $4 }
	ns[key, $5] = $7; ops[key, $5] = $6; mism[key, $5] = $9; note[key, $5] = $10
}
$1 == "mem" { mem[++m] = $0 }
END {
	print "| stream | size | VMAs | model ns/op | naive ns/op | kernel ns/op | kernel ÷ model | naive ÷ model | mismatches (kernel, naive) |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---|"
	for (i = 1; i <= n; i++) {
		k = order[i]; split(k, p, SUBSEP)
		mk = mism[k, "kernel"]; mn = mism[k, "naive"]
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s, %s |\n", p[1], p[2], vmas[k], fmt(ns[k, "model"]),
		       fmt(ns[k, "naive"]), fmt(ns[k, "kernel"]), ratio(ns[k, "kernel"], ns[k, "model"]),
		       ratio(ns[k, "naive"], ns[k, "model"]), (mk == "" || mk < 0) ? "–" : mk, (mn == "" || mn < 0) ? "–" : mn
	}
	print ""
	print "| memory | size | VMAs | target | units | bytes per unit | note |"
	print "|---|---:|---:|---|---:|---:|---|"
	for (i = 1; i <= m; i++) {
		split(mem[i], f, ",")
		printf "| %s | %s | %s | %s | %s | %s | %s |\n", f[2], f[3], f[4], f[5], f[6], f[7], f[10]
	}
}
