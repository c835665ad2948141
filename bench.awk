# bench.awk: turns `go test -bench` output into the table `make bench`
# prints. Per benchmark: the median of its runs of ns/op, allocs/op and, when
# reported, ns/record or ns/event (per-record cost of batch benchmarks), and
# the ratio of the per-item cost to reading the bytes once.
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	for (i = 3; i < NF; i++) {
		v = $i; u = $(i + 1)
		if (u == "ns/op") ns[name] = ns[name] " " v
		if (u == "allocs/op") al[name] = v
		if (u == "ns/record" || u == "ns/event") per[name] = per[name] " " v
		if (u == "records/s" || u == "events/s") rate[name] = rate[name] " " v
	}
	if (!(name in seen)) { order[++n] = name; seen[name] = 1 }
}
function median(s,    a, k, i, j, t) {
	k = split(s, a, " ")
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return a[int((k + 1) / 2)]
}
END {
	base = median(ns["BenchmarkReference/bytes-count"])
	cold = median(per["BenchmarkReference/bytes-count-cold"])
	printf "%-42s %14s %10s %12s %10s %8s\n", "benchmark (one core)", "ns/item", "allocs/op", "items/s", "x bytes", "x cold"
	for (i = 1; i <= n; i++) {
		b = order[i]
		item = (b in per) ? median(per[b]) : median(ns[b])
		r = (b in rate) ? sprintf("%.0f", median(rate[b])) : sprintf("%.0f", 1e9 / item)
		x = base > 0 ? sprintf("%.1f", item / base) : "-"
		xc = cold > 0 ? sprintf("%.1f", item / cold) : "-"
		printf "%-42s %14.1f %10s %12s %10s %8s\n", substr(b, 10), item, al[b], r, x, xc
	}
	printf "\nx bytes: per-item cost over bytes.Count of the same 1.5 KB record, hot in cache (%.1f ns).\n", base
	printf "x cold: the same over reading it from memory, 150 MB in order (%.1f ns): the physical limit.\n", cold
	printf "Engine, EnginePack and Harness items are records. Engine and EnginePack allocs/op\n"
	printf "are per batch of 1,000; EnginePack is Elastic's CloudTrail pack, backfilled\n"
	printf "(stream: the synthetic stream; none: its records the prefilter passes and no rule matches);\n"
	printf "Harness allocs/op are the driver's own (the plugin runs in the harness process).\n"
}
