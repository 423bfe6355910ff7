#!/usr/bin/env bash
# bench/scan.sh — plugins/scan's socket → process table and one-shot Detect,
# side by side in one run with gopsutil v4 net.ConnectionsWithContext("all")
# and `ss -tanp`, on this host loaded with ~30,000 loopback TCP sockets held
# by 75 helper processes, then with 2,000 more idle processes. The Go
# benchmarks (plugins/scan/bench_test.go) start and kill the helpers; this
# script runs them and prints the ratios. Run as root to see every process.
#
#   bash bench/scan.sh            # BENCHTIME=5x by default
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bench/out
out=bench/out/scan.txt
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
go test -run '^$' -bench '^Benchmark(Sockets|SocketsProcNet|Gopsutil|SS|Detect)$' \
	-benchtime "${BENCHTIME:-5x}" ./plugins/scan | tee -a "$out"
go test -run '^$' -bench '^BenchmarkDetectProcs$' -benchtime "${BENCHTIME_DETECT:-20x}" ./plugins/scan | tee -a "$out"
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	split(name, p, "/"); bench = p[1]; sub(/^Benchmark/, "", bench); size = p[2]
	ns[bench, size] = $3
	if (bench != "DetectProcs") sizes[size] = 1
	for (i = 4; i < NF; i++) {
		if ($(i+1) == "procs") procs[bench, size] = $i
		if ($(i+1) == "cpu-ms/op") cpu[bench, size] = $i
	}
}
END {
	printf "\n%-12s %14s %14s %14s %14s %14s\n", "", "scan (ms)", "scan /proc", "gopsutil (ms)", "ss -tanp (ms)", "Detect (ms)"
	for (s in sizes) {
		printf "%-12s %14.1f %14.1f %14.1f %14.1f %14.1f\n", s, ns["Sockets", s]/1e6, ns["SocketsProcNet", s]/1e6, ns["Gopsutil", s]/1e6, ns["SS", s]/1e6, ns["Detect", s]/1e6
	}
	printf "\none-shot Detect without the socket load: %.1f ms (%s procs), %.1f ms with 2,000 idle processes more (%s procs)\n\n",
		ns["DetectProcs", "host"]/1e6, procs["DetectProcs", "host"], ns["DetectProcs", "host+2000"]/1e6, procs["DetectProcs", "host+2000"]
	for (s in sizes) {
		if (ns["Sockets", s] > 0) {
			printf "%s: scan is %.1fx faster than gopsutil, %.1fx faster than ss -tanp (via /proc only: %.1fx, %.1fx)\n", s,
				ns["Gopsutil", s]/ns["Sockets", s], ns["SS", s]/ns["Sockets", s],
				ns["Gopsutil", s]/ns["SocketsProcNet", s], ns["SS", s]/ns["SocketsProcNet", s]
			printf "%s: in CPU time (ms/op: scan %.0f, gopsutil %.0f, ss %.0f): %.1fx less than gopsutil, %.1fx less than ss\n", s,
				cpu["Sockets", s], cpu["Gopsutil", s], cpu["SS", s], cpu["Gopsutil", s]/cpu["Sockets", s], cpu["SS", s]/cpu["Sockets", s]
		}
	}
}' "$out" | tee -a "$out"
