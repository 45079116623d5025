#!/bin/sh
# Measures `probe explain --summary` on a generated mixed mail log: lines
# per second on one core (GOMAXPROCS=1) and peak RSS, at two input sizes so
# a flat memory profile can be seen.
#
#   bench/explain.sh                 # 100,000 and 1,000,000 lines
#   SIZES="1000000 5000000" bench/explain.sh
#
# It uses the real CLI (go build ./cmd/probe) when it builds; otherwise it
# runs the same Run path from the explain test binary, with the real
# diagnose engine if diagnose.New exists (-tags enginebench) or else a
# stand-in engine (then the figure measures scanning and summary only).
set -eu
cd "$(dirname "$0")/.."
SIZES=${SIZES:-"100000 1000000"}
WORK=${WORK:-/tmp/explain-bench}
mkdir -p "$WORK"

mode=cli
if ! go build -o /tmp/probe ./cmd/probe 2>"$WORK/build.err"; then
	mode=test
	if go test -c -tags enginebench -o "$WORK/explain.test" ./explain 2>>"$WORK/build.err"; then
		engine=diagnose
	else
		go test -c -o "$WORK/explain.test" ./explain
		engine=fake
	fi
	echo "cmd/probe does not build yet: measuring explain.Run from the test binary (engine: $engine)"
else
	echo "measuring /tmp/probe explain --summary"
fi

for n in $SIZES; do
	log="$WORK/mail-$n.log"
	[ -s "$log" ] || go run ./bench/explaingen -lines "$n" -o "$log"
	bytes=$(wc -c <"$log")
	if [ "$mode" = cli ]; then
		GOMAXPROCS=1 /usr/bin/time -v /tmp/probe explain --summary <"$log" >"$WORK/out-$n.txt" 2>"$WORK/time-$n.txt" || {
			cat "$WORK/time-$n.txt"; exit 1; }
	else
		GOMAXPROCS=1 EXPLAIN_BENCH_FILE="$log" /usr/bin/time -v "$WORK/explain.test" -test.run '^TestExplainFile$' -test.v \
			>"$WORK/out-$n.txt" 2>"$WORK/time-$n.txt" || { cat "$WORK/out-$n.txt" "$WORK/time-$n.txt"; exit 1; }
	fi
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
