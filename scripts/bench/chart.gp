# Bar chart of a scripts/bench.sh run, per case and server relative to ours (= 1), one panel
# per mode and one for the idle connections; from the files scripts/bench/summarize.py writes.
#
#   gnuplot -e "dir='target/bench'; fmt='png'" scripts/bench/chart.gp    # or fmt='svg'
load dir.'/chart-vars.gp'

npanels = words(modes) + idle
if (fmt eq 'svg') {
    set terminal svg size 1280, 330 * npanels + 70 font "sans,12" background "white"
} else {
    set terminal pngcairo size 1280, 330 * npanels + 70 font "sans,10" background "white"
}
set output dir.'/chart.'.fmt

gap = 1  # as in the next line, which takes a constant only
set datafile missing "NaN"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border lc rgb "#404040"
set boxwidth 1
set border 3
set xtics nomirror scale 0
set ytics nomirror format "%.1f"
set grid ytics lc rgb "#d8d8d8"
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set key outside right top vertical Left reverse autotitle columnheader samplen 1.5
set bmargin 3.5
set lmargin 10
set ylabel "relative to ours"
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 lc rgb "#c0392b" front

# Centre of bar I (1-based) in the cluster of row ROW, for the value labels.
barx(row, i) = row + (i - (nservers + 1) / 2.0) / (nservers + gap)
label(v) = v != v ? "" : sprintf("%.2f", v)

set multiplot layout npanels, 1 title title."\n".subtitle font ",12"
do for [m in modes] {
    file = dir.'/chart-'.m.'.dat'
    set title value('title_'.m)
    set xrange [-0.5 : value('rows_'.m) - 0.5]
    plot for [i=3:2+nservers] file using i:xtic(strcol(1)."\n".strcol(2)) title columnheader(i) \
             lc rgb word(colours, i - 2), \
         for [i=4:2+nservers] file using (barx($0, i - 2)):i:(label(column(i))) with labels \
             offset 0, 0.5 font ",8" notitle
}
if (idle) {
    file = dir.'/chart-idle.dat'
    set title title_idle
    set xrange [-0.5 : rows_idle - 0.5]
    # Memory ratios run from a fraction to tens: a log scale keeps the small bars readable.
    set logscale y 2
    set yrange [0.125 : *]
    set ytics format "%g"
    set offsets 0, 0, 0, 0
    plot for [i=3:2+nservers] file using i:xtic(strcol(1)."\n".strcol(2)) title columnheader(i) \
             lc rgb word(colours, i - 2), \
         for [i=4:2+nservers] file using (barx($0, i - 2)):i:(label(column(i))) with labels \
             offset 0, 0.5 font ",8" notitle
}
unset multiplot
