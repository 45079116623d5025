#!/usr/bin/env bash
# bench/session.sh — times a full STARTTLS + AUTH PLAIN + one-message
# session as a whole process: the probe, and swaks on the same session when
# it is installed, against the scenario server and (when the integration
# servers run, see integration/servers.sh) against real Postfix.
#
#   bash bench/session.sh [RUNS]        (default 40 runs per row)
#
# Prints min/median/max wall time (ms), peak RSS (MB) and the probe's round
# trips. Only loopback is used. Not a test: figures go into the README.
set -euo pipefail
RUNS=${1:-40}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
cleanup() {
	[[ -n ${srv_pid:-} ]] && kill "$srv_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/probe" ./cmd/probe
go build -o "$work/scenario-server" ./examples/scenario-server

"$work/scenario-server" -scenario submission-ok >"$work/addr" &
srv_pid=$!
for _ in $(seq 100); do [[ -s $work/addr ]] && break; sleep 0.05; done
addr=$(head -1 "$work/addr")
[[ -n $addr ]] || { echo "scenario server did not start" >&2; exit 1; }

# row LABEL CMD... : RUNS runs; each run's wall time (ns clock) and peak RSS.
row() {
	local label=$1; shift
	local times=() rss=() i t0 t1 code
	"$@" >/dev/null 2>&1 || { printf '%-34s skipped: a trial run exited %s\n' "$label" "$?"; return; }
	for ((i = 0; i < RUNS; i++)); do
		t0=$(date +%s%N)
		/usr/bin/time -f '%M' -o "$work/rss" "$@" >/dev/null 2>&1 || code=$?
		t1=$(date +%s%N)
		times+=($(((t1 - t0) / 1000)))
		rss+=("$(tail -1 "$work/rss")")
	done
	printf '%s\n' "${times[@]}" | sort -n >"$work/t"
	printf '%s\n' "${rss[@]}" | sort -n >"$work/r"
	local n=${#times[@]}
	local min med max rmax
	min=$(head -1 "$work/t"); max=$(tail -1 "$work/t"); med=$(sed -n "$(((n + 1) / 2))p" "$work/t")
	rmax=$(tail -1 "$work/r")
	printf '%-34s min %6.1f  median %6.1f  max %6.1f ms   peak RSS %5.1f MB\n' "$label" \
		"$(echo "$min/1000" | bc -l)" "$(echo "$med/1000" | bc -l)" "$(echo "$max/1000" | bc -l)" "$(echo "$rmax/1024" | bc -l)"
}

host=${addr%:*}
port=${addr##*:}
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "runs per row: $RUNS"
echo
echo "scenario server (go-smtp, submission-ok) at $addr:"
row "probe STARTTLS+AUTH+DATA" "$work/probe" -s "$host" -p "$port" --tls -au demo -ap demo-password -t bob@example.test -f probe@client.example --helo client.example -S 3
rt=$("$work/probe" -s "$host" -p "$port" --tls -au demo -ap demo-password -t bob@example.test -f probe@client.example --helo client.example --json | sed -n 's/.*"round_trips": \([0-9]*\).*/\1/p')
echo "  probe round trips: $rt"
if command -v swaks >/dev/null; then
	row "swaks STARTTLS+AUTH+DATA" swaks -s "$host" -p "$port" -tls -a PLAIN -au demo -ap demo-password -t bob@example.test -f probe@client.example --helo client.example -S 3
fi

if bash integration/servers.sh status >/dev/null 2>&1; then
	eval "$(bash integration/servers.sh env)"
	echo
	echo "real Postfix submission at 127.0.0.1:$SMTPPROBE_PORT_SUBMISSION (STARTTLS, Dovecot SASL):"
	row "probe STARTTLS+AUTH+DATA" "$work/probe" -s 127.0.0.1 -p "$SMTPPROBE_PORT_SUBMISSION" --tls -au "$SMTPPROBE_IT_USER" -ap "$SMTPPROBE_IT_PASS" -t bob@example.test -f "$SMTPPROBE_IT_USER" --helo client.example -S 3
	rt=$("$work/probe" -s 127.0.0.1 -p "$SMTPPROBE_PORT_SUBMISSION" --tls -au "$SMTPPROBE_IT_USER" -ap "$SMTPPROBE_IT_PASS" -t bob@example.test -f "$SMTPPROBE_IT_USER" --helo client.example --json | sed -n 's/.*"round_trips": \([0-9]*\).*/\1/p')
	echo "  probe round trips: $rt"
	if command -v swaks >/dev/null; then
		row "swaks STARTTLS+AUTH+DATA" swaks -s 127.0.0.1 -p "$SMTPPROBE_PORT_SUBMISSION" -tls -a PLAIN -au "$SMTPPROBE_IT_USER" -ap "$SMTPPROBE_IT_PASS" -t bob@example.test -f "$SMTPPROBE_IT_USER" --helo client.example -S 3
	fi
else
	echo
	echo "real Postfix: not running (start it with: bash integration/servers.sh start)"
fi
