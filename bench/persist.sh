#!/usr/bin/env bash
# bench/persist.sh — the numbers issue #16's closing note asks of
# plugins/persist, in one run:
#
#   - recall and false positives per family fixture (hosttest.Families on
#     Debian 12), with the incident window and without: planted paths
#     found at medium or above, planted paths the default plan changes,
#     untouched paths reported at medium or above ("fps"), untouched paths
#     the default plan changes ("acted-fps");
#   - the stock roots (Debian 12, Ubuntu 22.04, Amazon Linux 2023):
#     nothing above info, no action; the image's default user's groups
#     stay info with a window that covers the launch;
#   - the sweep's cost on this host's own "/" (entries looked at, ns per
#     entry) and on the stock fixture, Find on "/" and on the infected
#     fixture, one Apply+Restore of the infected fixture;
#   - the restore round trip (bytes, mode, owner, times, xattrs, flags)
#     as root.
#
# No peer tool: none does this job on an offline root. On a shared
# machine the wall times move with the load (printed before and after).
#
#   bash bench/persist.sh            # BENCHTIME=3x by default
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
mkdir -p bench/out
out=bench/out/persist.txt
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
go test -count=1 -run '^TestFamiliesRecall$' -v ./plugins/persist 2>&1 | grep -E '^ +(family +since|[a-z0-9-]+ +(window|none) )' | tee -a "$out"
go test -count=1 -run '^(TestStockRootsNothingAboveInfo|TestStockMembershipsStayInfo|TestApplyRestoreRoundTrip|TestApplyRestoreRoundTripAmazonLinux|TestUID0AccountRemovedEverywhere|TestContainerStoppedOffline)$' -v ./plugins/persist 2>&1 |
	grep -E '^(--- |ok|FAIL)' | tee -a "$out"
go test -run '^$' -bench '^Benchmark(Sweep|SweepStock|FindLiveRoot|FindInfected|ApplyRestore)$' \
	-benchtime "${BENCHTIME:-3x}" ./plugins/persist | grep -E '^(Benchmark|ok)' | tee -a "$out"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out"
