#!/usr/bin/env bash
# bench/ec2.sh — plugins/ec2: contain and snapshot 1,000 instances on the
# ec2test emulator with its EC2 rate limits on, and compare the wall time
# with the floor the rate limits allow.
#
# Issue #5: within 1.2x the rate-limit floor, with 0 throttling failures.
# The emulator's token buckets follow AWS's published EC2 throttling table
# (plugins/ec2/ec2test/ratelimits.go: per action, account and Region;
# mutating 50 tokens / 5 per s, non-mutating 100/20, CreateSnapshots and
# ModifyNetworkInterfaceAttribute 100/5, CreateTags 100/10, ...); their
# refill rates are multiplied by REFILL (default 5) so a run takes ~2
# minutes instead of ~10 (REFILL=1 is EC2's real rates; higher REFILL
# makes the run CPU-bound on a loaded 2-core box, which measures the box). The floor is computed from the request trace:
# for each action, (successful calls - bucket size) / refill rate; actions
# have their own buckets and drain in parallel, so the floor is the slowest
# action (ModifyInstanceAttribute, mutating: protection x2 and the shutdown
# behaviour, 3,000 calls).
#
#   bash bench/ec2.sh                 # N=1000 REFILL=5 COUNT=1 LIMIT=1.2
#   COUNT=3 bash bench/ec2.sh         # median of three
#
# Contain and Snapshot run with the package's production settings: New's
# retryer (standard mode since it became the default; these numbers were
# taken with adaptive), Concurrency 16 (Dwell is
# now ignored). Measured on the shared 2-CPU box, before the passthrough
# group was dropped: REFILL=5 ratio 1.006 (72.5 s vs 72 s);
# REFILL=1 (EC2's real rates) ratio 1.005 (361.7 s vs 360 s).
# Since contain also sets the shutdown behaviour, the floor action makes
# 3,000 calls: 2026-12-07, REFILL=5, load 6.7-13.8 on the shared 2-CPU box:
# floor 118 s (ModifyInstanceAttribute), elapsed 130.0 s, ratio 1.101,
# 3,776 throttled attempts retried, 0 failures.
# With AWS's full table (issue #13: uncategorized actions by name, the
# unfiltered bucket only for the seven named Describe calls),
# 2026-12-07, REFILL=5, load 10.8 on the shared 2-CPU box (CI running):
# floor 118 s (ModifyInstanceAttribute), elapsed 126.4 s, ratio 1.071,
# 3,858 throttled attempts retried, 0 failures.
# Prints every run and exits 1 if the median ratio is above LIMIT or any
# call failed for good on throttling (a failure fails the benchmark).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"
N=${N:-1000}
REFILL=${REFILL:-5}
COUNT=${COUNT:-1}
LIMIT=${LIMIT:-1.2}
mkdir -p bench/out
out=bench/out/ec2.txt
echo "# $(date -u +%FT%TZ) $(uname -r) $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$out"
go test -run '^$' -bench '^BenchmarkContainSnapshot$' -benchtime 1x -count "$COUNT" -timeout 30m \
	./plugins/ec2 -args -ec2.instances "$N" -ec2.refillscale "$REFILL" | tee -a "$out"
awk -v limit="$LIMIT" '
	BEGIN { n = 0 }
	/^BenchmarkContainSnapshot/ {
		for (i = 1; i <= NF; i++) {
			if ($i == "x-floor") r[n] = $(i-1)
			if ($i == "floor-s") f[n] = $(i-1)
			if ($i == "elapsed-s") e[n] = $(i-1)
			if ($i == "throttled-attempts") t[n] = $(i-1)
		}
		n++
	}
	END {
		if (n == 0) { print "bench/ec2.sh: no benchmark result" > "/dev/stderr"; exit 1 }
		for (i = 0; i < n; i++) {
			printf "run %d: elapsed %.2fs  floor %.2fs  ratio %.3f  (throttled attempts retried: %d, failures: 0)\n", i+1, e[i], f[i], r[i], t[i]
			s[i] = r[i]
		}
		# median
		for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (s[j] < s[i]) { x = s[i]; s[i] = s[j]; s[j] = x }
		med = (n % 2) ? s[int(n/2)] : (s[n/2-1] + s[n/2]) / 2
		printf "ec2 contain+snapshot: median ratio to rate-limit floor %.3f (limit %s)\n", med, limit
		if (med > limit) exit 1
	}' "$out"
