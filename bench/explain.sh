#!/bin/sh
# Measures `probe explain --summary` on a generated mixed mail log: lines
# per second on one core (GOMAXPROCS=1) and peak RSS, at two input sizes so
# a flat memory profile can be seen.

#   bench/explain.sh                 # 100,000 and 1,000,000 lines
#   SIZES="1000000 5000000" bench/explain.sh

set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100000 1000000"}
WORK=${WORK:-/tmp/explain-bench}
mkdir -p "$WORK"

go build -o "$WORK/probe" ./cmd/probe
echo "measuring probe explain --summary (GOMAXPROCS=1)"

for n in $SIZES; do
	log="$WORK/mail-$n.log"
	[ -s "$log" ] || go run ./bench/explaingen -lines "$n" -o "$log"
	bytes=$(wc -c <"$log")
	GOMAXPROCS=1 /usr/bin/time -v "$WORK/probe" explain --summary <"$log" >"$WORK/out-$n.txt" 2>"$WORK/time-$n.txt" || {
		cat "$WORK/time-$n.txt"; exit 1; }
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$WORK/time-$n.txt")
	user=$(sed -n 's/.*User time (seconds): //p' "$WORK/time-$n.txt")
	sys=$(sed -n 's/.*System time (seconds): //p' "$WORK/time-$n.txt")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/time-$n.txt")
	secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
	rate=$(awk -v n="$n" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", n / s; else print "inf" }')
	# On a shared machine wall time includes waiting for a CPU; the rate per
	# CPU second (user + system) is what one free core would achieve.
	cpurate=$(awk -v n="$n" -v u="$user" -v s="$sys" 'BEGIN { if (u + s > 0) printf "%.0f", n / (u + s); else print "inf" }')
	found=$(grep -m1 -o 'refusals explained' "$WORK/out-$n.txt" >/dev/null && grep -m1 'Scanned' "$WORK/out-$n.txt" | sed 's/^[^S]*//' || echo "?")
	printf '%9d lines  %6.1f MB  wall %ss (%s lines/s)  cpu %ss+%ss (%s lines/cpu-s)  peak RSS %s KiB\n    %s\n' \
		"$n" "$(awk -v b="$bytes" 'BEGIN { print b / 1e6 }')" "$secs" "$rate" "$user" "$sys" "$cpurate" "$rss" "$found"
done
echo "target: >= 200000 lines/s on one core, RSS flat in input size (load now: $(cut -d' ' -f1-3 /proc/loadavg))"
