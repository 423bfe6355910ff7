#!/usr/bin/env bash
# bench/scan.sh — plugins/scan's socket → process table and one-shot Detect,
# side by side in one run with gopsutil v4 net.ConnectionsWithContext("all")
# and `ss -tanp`, on this host loaded with ~30,000 loopback TCP sockets held
# by 75 helper processes, then with 2,000 more idle processes. The Go
# benchmarks (plugins/scan/bench_test.go) start and kill the helpers; this
# script runs them and prints the ratios, in wall-clock time and in CPU
# time (our table reads processes on every CPU; gopsutil and ss use one, so
# the CPU ratio is the one that does not depend on the core count). Run as
# root to see every process.
#
# Columns: "scan" is Sockets as shipped (netlink sock_diag for TCP/UDP, a
# BPF task_file iterator for the descriptors of every process where the
# kernel runs one); "no BPF" maps descriptors through /proc/PID/fd (a
# readlink each, the fallback); "/proc/net" reads the socket tables from
# /proc/PID/net files instead of netlink (the fallback for a non-live
# root). The load is printed before and after: on a shared machine rerun
# when it is high.
#
#   bash bench/scan.sh            # BENCHTIME=5x by default
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bench/out
out=bench/out/scan.txt
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
go test -run '^$' -bench '^Benchmark(Sockets|SocketsNoBPF|SocketsProcNet|Gopsutil|SS|Detect)$' \
	-benchtime "${BENCHTIME:-5x}" ./plugins/scan | tee -a "$out"
go test -run '^$' -bench '^BenchmarkDetectProcs$' -benchtime "${BENCHTIME_DETECT:-20x}" ./plugins/scan | tee -a "$out"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
awk '
/^Benchmark/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	split(name, p, "/"); bench = p[1]; sub(/^Benchmark/, "", bench); size = substr(name, length(p[1]) + 2)
	ns[bench, size] = $3
	if (bench != "DetectProcs") sizes[size] = 1
	for (i = 4; i < NF; i++) {
		if ($(i+1) == "procs") procs[bench, size] = $i
		if ($(i+1) == "cpu-ms/op") cpu[bench, size] = $i
	}
}
END {
	printf "\n%-12s %12s %12s %12s %14s %14s %12s\n", "wall ms", "scan", "no BPF", "/proc/net", "gopsutil", "ss -tanp", "Detect"
	for (s in sizes)
		printf "%-12s %12.1f %12.1f %12.1f %14.1f %14.1f %12.1f\n", s, ns["Sockets", s]/1e6, ns["SocketsNoBPF", s]/1e6,
			ns["SocketsProcNet", s]/1e6, ns["Gopsutil", s]/1e6, ns["SS", s]/1e6, ns["Detect", s]/1e6
	printf "%-12s %12s %12s %12s %14s %14s %12s\n", "CPU ms", "", "", "", "", "", ""
	for (s in sizes)
		printf "%-12s %12.1f %12.1f %12.1f %14.1f %14.1f %12.1f\n", s, cpu["Sockets", s], cpu["SocketsNoBPF", s],
			cpu["SocketsProcNet", s], cpu["Gopsutil", s], cpu["SS", s], cpu["Detect", s]
	printf "\none-shot Detect without the socket load (and in a fresh process each time, its start included):\n"
	printf "  %5s procs: %6.1f ms, %6.1f CPU ms (fresh process: %6.1f ms, %6.1f CPU ms)\n",
		procs["DetectProcs", "host"], ns["DetectProcs", "host"]/1e6, cpu["DetectProcs", "host"],
		ns["DetectProcs", "host/fresh-process"]/1e6, cpu["DetectProcs", "host/fresh-process"]
	printf "  %5s procs: %6.1f ms, %6.1f CPU ms (fresh process: %6.1f ms, %6.1f CPU ms)\n\n",
		procs["DetectProcs", "host+2000"], ns["DetectProcs", "host+2000"]/1e6, cpu["DetectProcs", "host+2000"],
		ns["DetectProcs", "host+2000/fresh-process"]/1e6, cpu["DetectProcs", "host+2000/fresh-process"]
	for (s in sizes) {
		if (ns["Sockets", s] > 0) {
			printf "%s: scan vs gopsutil: %.1fx faster wall, %.1fx less CPU; vs ss -tanp: %.1fx faster wall, %.1fx less CPU\n", s,
				ns["Gopsutil", s]/ns["Sockets", s], cpu["Gopsutil", s]/cpu["Sockets", s],
				ns["SS", s]/ns["Sockets", s], cpu["SS", s]/cpu["Sockets", s]
			printf "%s:   without BPF: vs gopsutil %.1fx wall, %.1fx CPU; vs ss %.1fx wall, %.1fx CPU\n", s,
				ns["Gopsutil", s]/ns["SocketsNoBPF", s], cpu["Gopsutil", s]/cpu["SocketsNoBPF", s],
				ns["SS", s]/ns["SocketsNoBPF", s], cpu["SS", s]/cpu["SocketsNoBPF", s]
			printf "%s:   via /proc/net: vs gopsutil %.1fx wall, %.1fx CPU; vs ss %.1fx wall, %.1fx CPU\n", s,
				ns["Gopsutil", s]/ns["SocketsProcNet", s], cpu["Gopsutil", s]/cpu["SocketsProcNet", s],
				ns["SS", s]/ns["SocketsProcNet", s], cpu["SS", s]/cpu["SocketsProcNet", s]
		}
	}
}' "$out" | tee -a "$out"
