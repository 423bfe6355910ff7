#!/usr/bin/env bash
# Runs every fuzz target of plugins/scan (all subpackages) and
# internal/procfs, one at a time, for FUZZTIME each (default 20s, no
# minimization), one worker, and fails if any finds something (the failing
# input is then in that package's testdata/fuzz/<FuzzName>/). A bare
# "context deadline exceeded" at the end of the time with no failing input
# written is Go's coordinator race (golang/go#75804), reported as a flake.
#
#   bash bench/scan-fuzz.sh            # 20 s per target
#   FUZZTIME=5s bash bench/scan-fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-20s}
failed=()
flaked=()
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for dir in $(go list -f '{{.Dir}}' ./plugins/scan/... ./internal/procfs/...); do
	pkg=./${dir#"$PWD"/}
	for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "=== $pkg $target ($fuzztime)"
		corpus="$dir/testdata/fuzz/$target"
		before=$(ls "$corpus" 2>/dev/null | wc -l)
		if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -fuzzminimizetime 0 -parallel 1 "$pkg" >"$out" 2>&1; then
			tail -2 "$out"
		elif grep -q 'context deadline exceeded' "$out" && ! grep -q 'Failing input written' "$out" &&
			[ "$(ls "$corpus" 2>/dev/null | wc -l)" = "$before" ]; then
			# Go's fuzzing coordinator can miss its own -fuzztime deadline
			# on a loaded machine (golang/go#75804): no input failed and
			# none was written. Counted, not failed.
			grep -E '^fuzz: elapsed' "$out" | tail -1
			echo "flake: context deadline exceeded at the end of -fuzztime, no failing input"
			flaked+=("$pkg $target")
		else
			cat "$out"
			failed+=("$pkg $target")
		fi
	done
done
if ((${#flaked[@]})); then
	printf 'flaked (coordinator deadline, no failing input): %s\n' "${flaked[@]}"
fi
if ((${#failed[@]})); then
	printf 'FAILED: %s\n' "${failed[@]}"
	exit 1
fi
echo "all fuzz targets passed"
