# Several bench_streams --csv runs -> one, keeping for every stream, size
# and target the run with the lowest ns/op (on a shared machine, the run
# least disturbed by others; thread CPU time already leaves their CPU time
# out, not their cache and TLB pollution). Rows keep the first run's order.
#   awk -F, -f bench/minof.awk run1.csv run2.csv ... > streams.csv
BEGIN { OFS = "," }
FNR == 1 { if (!header) { header = $0; print } next }
$1 == "op" {
	k = $2 SUBSEP $3 SUBSEP $5
	if (!(k in row)) order[++n] = k
	if (!(k in row) || ($7 != "" && (best[k] == "" || $7 + 0 < best[k] + 0))) { row[k] = $0; best[k] = $7 }
	next
}
$1 == "mem" { k = "mem" SUBSEP $2 SUBSEP $3 SUBSEP $5; if (!(k in row)) { order[++n] = k; row[k] = $0 } }
END { for (i = 1; i <= n; i++) print row[order[i]] }
