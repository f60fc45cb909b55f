# Reads `go test -bench -benchmem` output and prints, for every benchmark
# named GROUP/IMPL/c=N, a table row with ns/op, allocs/op and the throughput
# ratio of IMPL to the baseline of the same GROUP and c (IMPL "plain" or
# "floor"), measured in the same run. Other lines pass through.
/^Benchmark/ && / ns\/op/ {
	print
	name = $1; sub(/-[0-9]+$/, "", name)
	n = split(name, p, "/")
	if (n < 3) next
	conc = p[n]; impl = p[n-1]; group = p[1]
	for (i = 2; i < n-1; i++) group = group "/" p[i]
	for (i = 2; i <= NF; i++) {
		if ($(i) == "ns/op") ns[group, impl, conc] = $(i-1)
		if ($(i) == "allocs/op") al[group, impl, conc] = $(i-1)
	}
	if (impl == "plain" || impl == "floor") base[group, conc] = impl
	else if (!((group, impl, conc) in seen)) { seen[group, impl, conc] = 1; rows[++nrows] = group SUBSEP impl SUBSEP conc }
	next
}
{ print }
END {
	if (nrows == 0) exit
	printf "\n%-28s %-10s %-6s %12s %12s %10s %10s %8s\n", "benchmark", "impl", "conc", "ns/op", "base ns/op", "allocs/op", "base", "ratio"
	for (r = 1; r <= nrows; r++) {
		split(rows[r], k, SUBSEP)
		b = base[k[1], k[3]]
		if (b == "") continue
		bns = ns[k[1], b, k[3]]; ins = ns[k[1], k[2], k[3]]
		printf "%-28s %-10s %-6s %12.0f %12.0f %10s %10s %8.2f\n", k[1], k[2], k[3], ins, bns, al[k[1], k[2], k[3]], al[k[1], b, k[3]], bns / ins
	}
}
