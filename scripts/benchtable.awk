# Reads `go test -bench -benchmem` output (any -count) and prints, for every
# benchmark named GROUP/IMPL/c=N, a table row with the median ns/op and
# allocs/op and the throughput ratio of IMPL to the baseline of the same
# GROUP and c (IMPL "plain" or "floor"), measured in the same run. Other
# lines pass through.
function median(key,    n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j+1] = a[j]; a[j+1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^Benchmark/ && / ns\/op/ {
	print
	name = $1; sub(/-[0-9]+$/, "", name)
	n = split(name, p, "/")
	if (n < 3) next
	conc = p[n]; impl = p[n-1]; group = p[1]
	for (i = 2; i < n-1; i++) group = group "/" p[i]
	for (i = 2; i <= NF; i++) {
		if ($(i) == "ns/op") vals["ns" SUBSEP group SUBSEP impl SUBSEP conc] = vals["ns" SUBSEP group SUBSEP impl SUBSEP conc] " " $(i-1)
		if ($(i) == "allocs/op") vals["al" SUBSEP group SUBSEP impl SUBSEP conc] = vals["al" SUBSEP group SUBSEP impl SUBSEP conc] " " $(i-1)
	}
	if (impl == "plain" || impl == "floor") base[group, conc] = impl
	else if (!((group, impl, conc) in seen)) { seen[group, impl, conc] = 1; rows[++nrows] = group SUBSEP impl SUBSEP conc }
	next
}
{ print }
END {
	if (nrows == 0) exit
	printf "\n%-22s %-9s %-5s %12s %12s %9s %9s %7s   (medians)\n", "benchmark", "impl", "conc", "ns/op", "base ns/op", "allocs/op", "base", "ratio"
	for (r = 1; r <= nrows; r++) {
		split(rows[r], k, SUBSEP)
		b = base[k[1], k[3]]
		if (b == "") continue
		bns = median("ns" SUBSEP k[1] SUBSEP b SUBSEP k[3]); ins = median("ns" SUBSEP k[1] SUBSEP k[2] SUBSEP k[3])
		printf "%-22s %-9s %-5s %12.0f %12.0f %9s %9s %7.2f\n", k[1], k[2], k[3], ins, bns, median("al" SUBSEP k[1] SUBSEP k[2] SUBSEP k[3]), median("al" SUBSEP k[1] SUBSEP b SUBSEP k[3]), bns / ins
	}
}
