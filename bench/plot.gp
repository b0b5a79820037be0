# ns/op against the number of VMAs, per stream, one line per target.
# Called by bench/run-all.sh:  gnuplot -e "csv='docs/perf/streams.csv'; out='docs/perf/streams.svg'" bench/plot.gp
# With before='OTHER.csv' it also draws the model of that run, dashed (a
# before/after comparison: bench/compare.sh).
if (!exists("csv")) csv = 'docs/perf/streams.csv'
if (!exists("out")) out = 'docs/perf/streams.svg'
if (!exists("term")) term = "svg size 1500,760 dynamic font \"sans,11\" background \"white\""
set terminal @term
set output out
set datafile separator whitespace
set logscale xy
set format x "10^{%T}"
set format y "10^{%T}"
set xrange [500:2000000]
set grid xtics ytics mxtics mytics lc rgb "#dddddd"
set key top left font ",9" samplen 2
set xlabel "VMAs" offset 0,0.5
set ylabel "ns per op" offset 1.5,0
streams = "churn mprotect mremap find nohint touch mixed walk"
titles = "'churn: munmap + MAP\\_FIXED mmap' 'mprotect: split and merge' 'mremap: move of a 2-page VMA' 'find: VMA at an address' 'nohint: gap search (mmap without address)' 'touch: access to a present page' 'mixed: a recorded python3 run' 'walk: 4-level page walk, model tables (best slice)'"
selin(f, s, t) = sprintf("< awk -F, '$1==\"op\" && $2==\"%s\" && $5==\"%s\" && $7!=\"\" {print $4, $7}' %s", s, t, f)
sel(s, t) = selin(csv, s, t)
set multiplot layout 2,4 title "bench\\_streams: thread CPU time per op (median of 5 slices); kernel = raw system calls, or real loads and stores for touch" font ",12"
do for [i=1:8] {
    s = word(streams, i)
    set title word(titles, i) font ",10"
    if (s eq "walk") {
        plot sel(s, "model") using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "pt\\_walk (model)", \
             sel(s, "naive") using 1:2 with linespoints pt 5 ps 0.6 lw 2 lc rgb "#ff7f0e" title "naive\\_walk"
    } else { if (exists("before")) {
        plot selin(before, s, "model") using 1:2 with linespoints pt 6 ps 0.6 lw 1.5 dt 2 lc rgb "#7f7f7f" title "model before", \
             sel(s, "model") using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "model", \
             sel(s, "naive") using 1:2 with linespoints pt 5 ps 0.6 lw 2 lc rgb "#ff7f0e" title "naive", \
             sel(s, "kernel") using 1:2 with linespoints pt 9 ps 0.7 lw 2 lc rgb "#2ca02c" title "kernel"
    } else {
        plot sel(s, "model") using 1:2 with linespoints pt 7 ps 0.6 lw 2 lc rgb "#1f77b4" title "model", \
             sel(s, "naive") using 1:2 with linespoints pt 5 ps 0.6 lw 2 lc rgb "#ff7f0e" title "naive", \
             sel(s, "kernel") using 1:2 with linespoints pt 9 ps 0.7 lw 2 lc rgb "#2ca02c" title "kernel"
    } }
}
unset multiplot
