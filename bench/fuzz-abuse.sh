#!/usr/bin/env bash
# Runs every fuzz target of the report parsers (abuse/..., internal/mailmsg)
# for a short time each, one at a time, and fails if one finds something.
#
#   bash bench/fuzz-abuse.sh            # 20 s per target
#   FUZZTIME=5s bash bench/fuzz-abuse.sh
#
# A failing input is written by go test to the package's
# testdata/fuzz/<FuzzName>/ directory: keep it there as a regression seed
# once the bug is fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-20s}
PARALLEL=${PARALLEL:-2}
failed=0
for pkg in ./abuse ./abuse/abuseplugin ./abuse/evidence ./internal/mailmsg; do
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$pkg"/*_test.go | sed 's/^func //' | sort -u); do
		printf '%-22s %-28s ' "$pkg" "$target"
		if out=$(go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 0 -parallel "$PARALLEL" "$pkg" 2>&1); then
			echo "ok ($(grep -o 'execs: [0-9]*' <<<"$out" | tail -1))"
		else
			echo FAIL
			grep -v '^fuzz: elapsed' <<<"$out" | tail -20
			failed=1
		fi
	done
done
exit $failed
