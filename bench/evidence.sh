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

# timed CMD... runs CMD with stdout to /dev/null and prints "WALL CPU" in
# seconds (bash's time keyword: wall clock, and user+system CPU).
timed() {
	local TIMEFORMAT='%3R %3U %3S'
	{ time "$@" >/dev/null 2>"$tmp/stderr"; } 2>"$tmp/time" || {
		cat "$tmp/stderr" >&2
		die "$1 failed"
	}
	awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$tmp/time"
}

best_awk=
best_pr=
cpu_awk=
cpu_pr=
# lt A B: A < B for decimals (or B empty).
lt() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
for i in $(seq "$RUNS"); do
	read -r aw ac < <(timed "$AWK" '{print $3,$5,$7}' "$tmp/log.txt")
	read -r pw pc < <(timed "$tmp/parse-report" -json "$tmp/log.txt")
	lt "$aw" "$best_awk" && best_awk=$aw
	lt "$pw" "$best_pr" && best_pr=$pw
	lt "$ac" "$cpu_awk" && cpu_awk=$ac
	lt "$pc" "$cpu_pr" && cpu_pr=$pc
	printf 'run %d: awk %ss (cpu %ss)  parse-report -json %ss (cpu %ss)\n' "$i" "$aw" "$ac" "$pw" "$pc"
done

# Peak RSS of parse-report: GNU time when installed (apt package "time"),
# else the VmHWM of /proc/PID/status, polled while it runs.
# (RSS=vmhwm forces the latter.)
if [ "${RSS:-}" != vmhwm ] && [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; then
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

awk -v a="$best_awk" -v p="$best_pr" -v ca="$cpu_awk" -v cp="$cpu_pr" -v n="$N" -v size="$size" -v rss="$rss_kb" -v how="$rss_how" -v runs="$RUNS" -v limit="$LIMIT" 'BEGIN {
	printf "\nlines: %d (%.1f MB), best of %d runs each\n", n, size/1e6, runs
	printf "awk {print $3,$5,$7}: %.3f s wall, %.3f s cpu\n", a, ca
	printf "parse-report -json:   %.3f s wall, %.3f s cpu  (%.0f ns/record, %.1f MB/s)\n", p, cp, p*1e9/n, size/p/1e6
	printf "ratio parse-report/awk: %.2f wall (limit %s), %.2f cpu\n", p/a, limit, cp/ca
	printf "parse-report peak RSS: %.1f MiB (%s)\n", rss/1024, how
	exit (p/a > limit) ? 1 : 0
}'
