#!/usr/bin/env bash
# bench/playbook.sh — playbook: the speed targets of issue #11 (kept by
# issue #12), run as DEVELOPERS.md gives them, against their targets, with
# go-plugin's own AutoMTLS as the peer for plugin starts.
#
#   one step through an out-of-process plugin, journal fdatasync included:
#       median <= 500 µs                     (BenchmarkStepOutOfProcess/journal-fsync)
#   five plugins started and handshaken in parallel:
#       median <= 25 ms                      (BenchmarkStartFivePlugins/external and /builtin)
#   and, to see where a step's time goes: one synced journal record alone
#   (BenchmarkJournalSyncedAppend) and the TLS of one plugin start on both
#   ends (BenchmarkMTLSHandshake, wire).
#
#   bash bench/playbook.sh                 # STEPS=1500 STARTS=100 COUNT=1
#   COUNT=3 bash bench/playbook.sh         # three runs of each
#
# Wall times on a shared 2-CPU box follow its load (printed first): the
# cpu-ms/op of the start benchmark (host and plugin processes, from
# getrusage) moves much less. Prints every run and exits 1 if the best
# median of a target is above it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
STEPS=${STEPS:-1500}
STARTS=${STARTS:-100}
COUNT=${COUNT:-1}
mkdir -p bench/out
out=bench/out/playbook.txt
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
go test -run '^$' -bench '^BenchmarkStepOutOfProcess$|^BenchmarkJournalSyncedAppend$' -benchtime "${STEPS}x" -count "$COUNT" ./playbook | tee -a "$out"
go test -run '^$' -bench '^BenchmarkStartFivePlugins$/^(external|builtin)$' -benchtime "${STARTS}x" -count "$COUNT" ./playbook | tee -a "$out"
go test -run '^$' -bench '^BenchmarkMTLSHandshake$' -benchtime 500x -count "$COUNT" ./playbook/internal/wire | tee -a "$out"

# best median of a benchmark line's metric
best() { # $1 benchmark name regex, $2 metric unit
	awk -v re="$1" -v unit="$2" '$1 ~ re { for (i = 3; i < NF; i++) if ($(i+1) == unit) { v = $i + 0; if (!n++ || v < m) m = v } } END { if (n) print m; else print "nan" }' "$out"
}
step=$(best '^BenchmarkStepOutOfProcess/journal-fsync' 'µs/step-median')
ext=$(best '^BenchmarkStartFivePlugins/external/p256-mtls' 'ms/start-median')
bin=$(best '^BenchmarkStartFivePlugins/builtin/p256-mtls' 'ms/start-median')
extAuto=$(best '^BenchmarkStartFivePlugins/external/go-plugin-automtls' 'ms/start-median')
echo
printf 'step with journal fsync, median: %s µs (target <= 500)\n' "$step"
printf 'five plugins started, median:    external %s ms, built-in %s ms (target <= 25)\n' "$ext" "$bin"
printf 'peer: go-plugin AutoMTLS, external %s ms: ratio ours/peer %s\n' "$extAuto" \
	"$(awk -v a="$ext" -v b="$extAuto" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')"
fail=0
awk -v v="$step" 'BEGIN { exit !(v <= 500) }' || { echo "FAIL: step median above 500 µs"; fail=1; }
awk -v v="$ext" 'BEGIN { exit !(v <= 25) }' || { echo "FAIL: external five-plugin start above 25 ms"; fail=1; }
awk -v v="$bin" 'BEGIN { exit !(v <= 25) }' || { echo "FAIL: built-in five-plugin start above 25 ms"; fail=1; }
exit "$fail"
