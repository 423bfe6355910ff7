#!/usr/bin/env bash
# bench/evidence.sh — how fast abusekit reads a forwarded evidence log.
#
# Issue #2: a forwarded log of 1,000,000 evidence lines (~55 MB, the column
# layout with ctime times) parses end to end with JSON out in at most 3x the
# time `awk '{print $3,$5,$7}'` takes on the same file, measured side by side
# in one run, with bounded memory.
#
# Usage: bench/evidence.sh            (N=1000000 RUNS=5 by default)
#        N=200000 RUNS=3 bench/evidence.sh
#
# It generates the log (deterministic; addresses from the documentation
# ranges, as data only), builds ./examples/parse-report, runs awk and
# `parse-report -json` alternately RUNS times each with output to /dev/null,
# and prints the best wall time of each, the ratio, and the peak RSS of
# parse-report. It exits 1 if the ratio is above 3 (LIMIT=…to change it).
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-1000000}
RUNS=${RUNS:-5}
LIMIT=${LIMIT:-3}
AWK=${AWK:-awk}

die() { echo "bench/evidence.sh: $*" >&2; exit 1; }

[ -f examples/parse-report/main.go ] ||
	die "examples/parse-report does not exist yet (package abuse's example binary, issue #2); nothing to measure"
command -v "$AWK" >/dev/null || die "$AWK not found"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/abusekit-bench-evidence.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "generating $N lines..."
go run ./abuse/evidence/internal/loggen/genlog -n "$N" >"$tmp/log.txt"
size=$(wc -c <"$tmp/log.txt")
echo "log: $tmp/log.txt, $size bytes, $(head -n1 "$tmp/log.txt")"

echo "building examples/parse-report..."
go build -o "$tmp/parse-report" ./examples/parse-report

# Sanity: parse-report reads every record (and the JSON names them).
"$tmp/parse-report" -json "$tmp/log.txt" >"$tmp/out.json" || die "parse-report -json failed"
got=$(grep -o '"src_ip"' "$tmp/out.json" | wc -l)
echo "parse-report -json wrote $(wc -c <"$tmp/out.json") bytes, $got evidence records"
[ "$got" -ge "$N" ] || die "parse-report -json wrote $got evidence records, want $N"
rm -f "$tmp/out.json"

# now_ns prints a monotonic-enough wall clock in nanoseconds.
now_ns() { date +%s%N; }

# run_ns CMD... runs CMD with stdout to /dev/null and prints its wall time in ns.
run_ns() {
	local t0 t1
	t0=$(now_ns)
	"$@" >/dev/null
	t1=$(now_ns)
	echo $((t1 - t0))
}

best_awk=
best_pr=
for i in $(seq "$RUNS"); do
	a=$(run_ns "$AWK" '{print $3,$5,$7}' "$tmp/log.txt")
	p=$(run_ns "$tmp/parse-report" -json "$tmp/log.txt")
	[ -z "$best_awk" ] || [ "$a" -lt "$best_awk" ] && best_awk=$a
	[ -z "$best_pr" ] || [ "$p" -lt "$best_pr" ] && best_pr=$p
	printf 'run %d: awk %.3fs  parse-report -json %.3fs\n' "$i" "$(echo "$a" | awk '{print $1/1e9}')" "$(echo "$p" | awk '{print $1/1e9}')"
done

# Peak RSS of parse-report: GNU time when installed (apt package "time"),
# else the VmHWM of /proc/PID/status, polled while it runs.
if [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
	rss_kb=$(/usr/bin/time -f %M -o "$tmp/rss" "$tmp/parse-report" -json "$tmp/log.txt" >/dev/null && cat "$tmp/rss")
	rss_how="GNU time"
else
	"$tmp/parse-report" -json "$tmp/log.txt" >/dev/null &
	pid=$!
	rss_kb=0
	while kill -0 "$pid" 2>/dev/null; do
		v=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		[ -n "$v" ] && [ "$v" -gt "$rss_kb" ] && rss_kb=$v
		sleep 0.02
	done
	wait "$pid"
	rss_how="VmHWM, polled"
fi

awk -v a="$best_awk" -v p="$best_pr" -v n="$N" -v size="$size" -v rss="$rss_kb" -v how="$rss_how" -v runs="$RUNS" -v limit="$LIMIT" 'BEGIN {
	printf "\nlines: %d (%.1f MB), best of %d runs each\n", n, size/1e6, runs
	printf "awk {print $3,$5,$7}: %.3f s\n", a/1e9
	printf "parse-report -json:   %.3f s  (%.0f ns/record, %.1f MB/s)\n", p/1e9, p/n, size/(p/1e9)/1e6
	printf "ratio parse-report/awk: %.2f (limit %s)\n", p/a, limit
	printf "parse-report peak RSS: %.1f MiB (%s)\n", rss/1024, how
	exit (p/a > limit) ? 1 : 0
}'
