#!/usr/bin/env bash
# bench/pwned.sh: the breached-passwords file (package pwned) on synthetic sets
# of random SHA-1 sums, against a baseline measured in the same run (a binary
# search of the same keys in a sorted []uint64 in memory).
#
# Environment: SIZES (default "10000000 100000000"), MODES (default "fuse table"),
# PROBES (hashes not in the set for the false-positive rate, and lookups timed;
# default 1000000), DIR (where the file and the partition files go; default a
# temporary directory: 100M hashes need about 0.9 GB of partition files).
#
# Prints, per size and mode: build time, peak RSS of the build (VmHWM), bytes per
# hash, the false-positive rate, lookups per second (one goroutine and
# GOMAXPROCS), the median lookup time, and the ratios to the baseline. /usr/bin/time
# -v reports the whole process's peak RSS too (the baseline's slice included).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"10000000 100000000"}
MODES=${MODES:-"fuse table"}
PROBES=${PROBES:-1000000}
go build -o /tmp/pwned-bench ./bench/pwned
for n in $SIZES; do
	for mode in $MODES; do
		echo "== $n hashes, $mode =="
		args=(-n "$n" -mode "$mode" -probes "$PROBES")
		[ -n "${DIR:-}" ] && args+=(-dir "$DIR")
		if [ -x /usr/bin/time ]; then
			/usr/bin/time -v /tmp/pwned-bench "${args[@]}" 2> >(grep -E 'Maximum resident|pwned build: done' >&2)
		else
			/tmp/pwned-bench "${args[@]}"
		fi
	done
done
