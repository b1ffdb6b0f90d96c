# bench/stats.sh: the summary statistics the benchmark scripts share.
# Source it after setting `res`, a file of "KEY METRIC VALUE" lines (one
# per run).
#
# stats KEY METRIC   "median min max n" of the values (or "- - - 0")
# ratio A B          A / B with 3 decimals, or "-" if either is missing
stats() {
    awk -v k="$1" -v m="$2" '$1 == k && $2 == m && $3 != "" {print $3}' "$res" | sort -g |
        awk '{a[NR] = $1} END {if (!NR) {print "- - - 0"; exit}
            printf "%.3f %.3f %.3f %d\n", (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2), a[1], a[NR], NR}'
}
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {if (a != "-" && b != "-" && a != "" && b != "" && b + 0 > 0) printf "%.3f", a / b; else printf "-"}'
}
