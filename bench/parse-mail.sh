#!/usr/bin/env bash
# bench/parse-mail.sh — how fast abusekit reads a forwarded log inside the
# Trust & Safety mail it arrives in.
#
# bench/evidence.sh measures a bare log; this one wraps the same kind of log
# (1,000,000 column lines, ~55 MB) in an AWS Trust & Safety notice (.eml,
# and the same mail in an mbox) and compares `parse-report -json` with
# `awk '{print $3,$5,$7}'` on the same file, side by side, best of RUNS, and
# the peak RSS of parse-report (the mail body streams: memory stays bounded).
#
# Usage: bench/parse-mail.sh     (N=1000000 RUNS=3 LIMIT=3)
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-1000000}
RUNS=${RUNS:-3}
LIMIT=${LIMIT:-3}

die() { echo "bench/parse-mail.sh: $*" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/abusekit-bench-mail.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "generating a notice with $N forwarded lines..."
notice=abuse/testdata/trust-and-safety/initial-notice.eml
{
	sed '/^13\.125\.40\.201 /,$d' "$notice"
	awk -v n="$N" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "13.125.40.201  198.51.%d.%d  %d  Thu Apr 27 14:%02d:%02d 2023\n", int(i / 256) % 256, i % 256, 1 + i % 1024, int(i / 60) % 60, i % 60
	}'
} >"$tmp/notice.eml"
{ echo "From ec2-abuse@amazon.com Thu Apr 27 16:20:31 2023"; cat "$tmp/notice.eml"; } >"$tmp/notices.mbox"
echo "mail: $(wc -c <"$tmp/notice.eml") bytes"

go build -o "$tmp/parse-report" ./examples/parse-report

timed() {
	local TIMEFORMAT='%3R %3U %3S'
	{ time "$@" >/dev/null 2>"$tmp/stderr"; } 2>"$tmp/time" || {
		cat "$tmp/stderr" >&2
		die "$1 failed"
	}
	awk '{printf "%.3f %.3f\n", $1, $2 + $3}' "$tmp/time"
}
lt() { [ -z "$2" ] || awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }

status=0
for f in notice.eml notices.mbox; do
	"$tmp/parse-report" -json "$tmp/$f" >"$tmp/out.json" || die "parse-report -json $f failed"
	got=$(grep -o '"src_ip"' "$tmp/out.json" | wc -l)
	grep -q '"case_id":"17001234567"' "$tmp/out.json" || die "$f: no case_id in the output"
	[ "$got" -ge "$N" ] || die "$f: $got evidence records, want $N"
	rm -f "$tmp/out.json"
	ba= bp= ca= cp=
	for i in $(seq "$RUNS"); do
		read -r aw ac < <(timed awk '{print $3,$5,$7}' "$tmp/$f")
		read -r pw pc < <(timed "$tmp/parse-report" -json "$tmp/$f")
		lt "$aw" "$ba" && ba=$aw
		lt "$pw" "$bp" && bp=$pw
		lt "$ac" "$ca" && ca=$ac
		lt "$pc" "$cp" && cp=$pc
	done
	rss=$(/usr/bin/time -f %M "$tmp/parse-report" -json "$tmp/$f" 2>&1 >/dev/null | tail -1) || rss=0
	awk -v f="$f" -v a="$ba" -v p="$bp" -v ca="$ca" -v cp="$cp" -v rss="$rss" -v limit="$LIMIT" -v runs="$RUNS" 'BEGIN {
		printf "%s (best of %d): awk %.3f s (cpu %.3f)  parse-report -json %.3f s (cpu %.3f)  ratio %.2f wall (limit %s), %.2f cpu  peak RSS %.1f MiB\n", f, runs, a, ca, p, cp, p/a, limit, cp/ca, rss/1024
		exit (p/a > limit) ? 1 : 0
	}' || status=1
done
exit $status
