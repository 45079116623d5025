#!/usr/bin/env bash
# sendmail.sh — a private Sendmail 8.17 on loopback high ports, for
# smtpprobe's integration tests (same conventions as servers.sh, which calls
# this script from its start, stop and env paths).
#
#   sendmail.sh install  unpack Debian's sendmail-bin/-base/-cf under
#                        $SENDMAIL_ROOT (never installed: every Debian MTA
#                        package conflicts with Postfix), install m4 and
#                        sasl2-bin, create the user smmsp. Changes the machine
#                        only with --yes, CI=true or SMTPPROBE_INSTALL=1.
#   sendmail.sh start    generate sendmail.cf with m4 under
#                        $SMTPPROBE_IT_DIR/sendmail, start, wait for the ports
#   sendmail.sh stop     stop the daemon this script started
#   sendmail.sh status   exit 0 when every port answers
#   sendmail.sh env      print KEY=VALUE lines (ports, mailbox folder)
#
# Nothing here touches /etc/mail or /var/spool/mqueue: the daemon runs as
# `sendmail -C $SMTPPROBE_IT_DIR/sendmail/sendmail.cf` and every file the
# .cf names (queue, aliases, maps, pid, status, help, service switch, TLS
# key, SASL database) lives under $SMTPPROBE_IT_DIR/sendmail.
#
# No mail can leave the machine: DNS is off (service switch "hosts files",
# FEATURE(nocanonify)), a catch-all mailertable entry sends every non-local
# domain to the local "relayed" file mailer (the message is filed under
# $SMTPPROBE_IT_DIR/sendmail/relayed/), and as a second fence the smart host
# is [127.0.0.1] on port 9 (closed) for every SMTP mailer.
set -euo pipefail

BASE=${SMTPPROBE_IT_DIR:-/tmp/smtpprobe-it}
HOST=127.0.0.1
PORT_SENDMAIL=${SMTPPROBE_PORT_SENDMAIL:-2720}
PORT_SENDMAIL_SUBMISSION=${SMTPPROBE_PORT_SENDMAIL_SUBMISSION:-2721}
PORT_SENDMAIL_TLS=${SMTPPROBE_PORT_SENDMAIL_TLS:-2722}
SENDMAIL_ROOT=${SENDMAIL_ROOT:-/opt/smtpprobe-sendmail}
SM_BIN=$SENDMAIL_ROOT/usr/libexec/sendmail/sendmail
SM_MAKEMAP=$SENDMAIL_ROOT/usr/libexec/sendmail/makemap
SM_CF=$SENDMAIL_ROOT/usr/share/sendmail/cf
USER_NAME=${SMTPPROBE_IT_USER:-alice@example.test}
USER_PASS=${SMTPPROBE_IT_PASS:-wonderland-test-pw}
WAIT_SECONDS=${SMTPPROBE_IT_WAIT:-20}

SMD=$BASE/sendmail
TLS=$BASE/tls

log() { printf 'sendmail.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

installed() {
	# SC2143: see install.sh (grep -q under pipefail and ldd's SIGPIPE).
	# shellcheck disable=SC2143
	[[ -x $SM_BIN && -x $SM_MAKEMAP && -r $SM_CF/m4/cf.m4 ]] &&
		[[ -z $(ldd "$SM_BIN" 2>&1 | grep 'not found') ]] &&
		command -v m4 >/dev/null 2>&1 &&
		command -v saslpasswd2 >/dev/null 2>&1 &&
		[[ -r /usr/lib/x86_64-linux-gnu/sasl2/libsasldb.so || -n $(find /usr/lib -name 'libsasldb.so*' -print -quit 2>/dev/null) ]] &&
		getent passwd smmsp >/dev/null
}

install_sendmail() {
	if installed; then
		echo "sendmail.sh: Sendmail already unpacked under $SENDMAIL_ROOT"
		return 0
	fi
	local want=0
	[[ "${CI:-}" == "true" ]] && want=1
	[[ "${SMTPPROBE_INSTALL:-}" == "1" ]] && want=1
	[[ "${1:-}" == "--yes" ]] && want=1
	if [[ $want -ne 1 ]]; then
		log "refusing to change this machine; run with --yes (or CI=true / SMTPPROBE_INSTALL=1)"
		exit 2
	fi
	[[ $(id -u) -eq 0 ]] || die "must run as root (apt-get, useradd)"
	export DEBIAN_FRONTEND=noninteractive
	# m4 builds sendmail.cf; sasl2-bin brings saslpasswd2 for the SASL
	# database; the libraries sendmail-bin links against (libwrap0, libnsl2,
	# liblockfile1, ...) are ordinary packages that conflict with nothing.
	# Another helper may hold the dpkg lock: wait for it.
	apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
		m4 sasl2-bin libsasl2-modules libsasl2-modules-db libwrap0 libnsl2 \
		liblockfile1 libdb5.3 libldap-2.5-0 openssl >/dev/null ||
		{
			apt-get -o DPkg::Lock::Timeout=300 update -q >/dev/null
			apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends \
				m4 sasl2-bin libsasl2-modules libsasl2-modules-db libwrap0 libnsl2 \
				liblockfile1 libdb5.3 libldap-2.5-0 openssl >/dev/null
		}
	if [[ ! -x $SM_BIN || ! -r $SM_CF/m4/cf.m4 ]]; then
		local tmp deb
		tmp=$(mktemp -d)
		# apt downloads as its unprivileged _apt user when it can write the
		# folder (and warns otherwise).
		chmod 755 "$tmp"
		chown _apt "$tmp" 2>/dev/null || true
		(cd "$tmp" && apt-get download sendmail-bin sendmail-base sendmail-cf >/dev/null)
		mkdir -p "$SENDMAIL_ROOT"
		for deb in "$tmp"/sendmail-bin_*.deb "$tmp"/sendmail-base_*.deb "$tmp"/sendmail-cf_*.deb; do
			dpkg-deb -x "$deb" "$SENDMAIL_ROOT"
		done
		rm -rf "$tmp"
	fi
	local missing
	missing=$(ldd "$SM_BIN" | awk '/not found/ {print $1}')
	[[ -z $missing ]] || die "sendmail cannot run, missing libraries: $missing"
	# Debian's sendmail runs its submission side as smmsp; the daemon here
	# runs as root but the user is created as the package would.
	if ! getent group smmsp >/dev/null; then
		groupadd --system smmsp
	fi
	if ! getent passwd smmsp >/dev/null; then
		useradd --system --gid smmsp --home-dir /nonexistent --no-create-home \
			--shell /usr/sbin/nologin smmsp
	fi
	installed || die "install incomplete"
	echo "sendmail.sh: Sendmail unpacked under $SENDMAIL_ROOT"
}

port_open() {
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

alive() {
	local pid=$1 state
	[[ -r /proc/$pid/stat ]] || return 1
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z && $state != X ]]
}

pidfile_pid() {
	# Sendmail's pid file holds the pid, then the command line.
	[[ -r $1 ]] && head -n 1 "$1" | tr -dc '0-9'
}

stop_sendmail() {
	local pid i
	if pid=$(pidfile_pid "$SMD/sendmail.pid") && [[ -n $pid ]] && alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			alive "$pid" || return 0
			sleep 0.1
		done
		log "sendmail $pid still alive after 10s; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
}

sasl_plugin_dir() {
	local so
	so=$(find /usr/lib /usr/lib64 -path '*sasl2/libsasldb.so' -print -quit 2>/dev/null)
	[[ -n $so ]] && dirname "$so"
}

# run_ns runs a sendmail command in its own mount and UTS namespaces
# (unshare(1), as root): host name sendmail.example.test, $SMD/hosts over
# /etc/hosts and $SMD/sasl over the SASL plugin folder. Nothing outside the
# daemon sees these mounts; the namespaces live as long as the daemon.
run_ns() {
	local plugdir
	plugdir=$(sasl_plugin_dir) || die "Cyrus SASL plugins (libsasldb.so) not found"
	# shellcheck disable=SC2016 # $1.. belong to the inner sh
	unshare --mount --uts --propagation private sh -c '
		mount --bind "$1" /etc/hosts &&
		mount --bind "$2" "$3" &&
		hostname sendmail.example.test || exit 70
		shift 3
		exec "$@"' run_ns "$SMD/hosts" "$SMD/sasl" "$plugdir" "$@"
}

# The .mc, with @NAME@ placeholders filled in by write_config: m4's `quotes'
# would fight with a shell here-document.
write_mc() {
	cat <<'EOF'
divert(-1)
# Private Sendmail for smtpprobe integration tests. Never sends mail off the
# machine. Generated by integration/sendmail.sh.
divert(0)dnl
VERSIONID(`smtpprobe-it')dnl
OSTYPE(`linux')dnl
dnl Every file under @SMD@, nothing in /etc/mail or /var/spool/mqueue.
define(`MAIL_SETTINGS_DIR', `@SMD@/')dnl
define(`QUEUE_DIR', `@SMD@/queue')dnl
define(`STATUS_FILE', `@SMD@/sendmail.st')dnl
define(`ALIAS_FILE', `@SMD@/aliases')dnl
define(`HELP_FILE', `@SMD@/helpfile')dnl
define(`confPID_FILE', `@SMD@/sendmail.pid')dnl
define(`confDEAD_LETTER_DROP', `@SMD@/dead.letter')dnl
define(`confCR_FILE', `-o @SMD@/relay-domains')dnl
define(`confCT_FILE', `-o @SMD@/trusted-users')dnl
define(`confEBINDIR', `@ROOT@/usr/libexec/sendmail')dnl
define(`confDEF_USER_ID', `mail:mail')dnl
dnl $SMTPPROBE_IT_DIR is under /tmp (world-writable, sticky): trust the sticky bit.
define(`confDONT_BLAME_SENDMAIL', `TrustStickyBit')dnl
dnl Our own name, so that start-up needs no DNS; no interface probing (it
dnl would add [127.0.0.1] to class w, and a client in class w may relay).
define(`confDOMAIN_NAME', `sendmail.example.test')dnl
define(`confDONT_PROBE_INTERFACES', `true')dnl
define(`confSERVICE_SWITCH_FILE', `@SMD@/service.switch')dnl
define(`confHOSTS_FILE', `@SMD@/hosts')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confSMTP_LOGIN_MSG', `$j Sendmail $v/$Z; $b smtpprobe-it')dnl
FEATURE(`nocanonify')dnl
dnl Without DNS no sender domain resolves; Sendmail would refuse them all
dnl ("553 5.1.8 <x@remote.test>... Domain of sender address x@remote.test
dnl does not exist").
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`no_default_msa')dnl
dnl No delays: no ident, no load-average refusals, no greeting pause.
define(`confTO_IDENT', `0')dnl
define(`confTO_CONNECT', `5s')dnl
define(`confTO_ICONNECT', `5s')dnl
define(`confREFUSE_LA', `999')dnl
define(`confQUEUE_LA', `999')dnl
define(`confDELAY_LA', `0')dnl
define(`confCONNECTION_RATE_THROTTLE', `0')dnl
define(`confMAX_DAEMON_CHILDREN', `0')dnl
define(`confBAD_RCPT_THROTTLE', `0')dnl
define(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy,noetrn,restrictqrun')dnl
dnl Deliver before answering the final dot, so the mailbox is written when
dnl the client sees 250.
define(`confDELIVERY_MODE', `interactive')dnl
define(`confLOG_LEVEL', `9')dnl
dnl STARTTLS with the suite's certificate (the key copied to a private file:
dnl Sendmail refuses a world-readable key).
define(`confCACERT_PATH', `@SMD@/tls')dnl
define(`confCACERT', `@SMD@/tls/cert.pem')dnl
define(`confSERVER_CERT', `@SMD@/tls/cert.pem')dnl
define(`confSERVER_KEY', `@SMD@/tls/key.pem')dnl
define(`confCLIENT_CERT', `@SMD@/tls/cert.pem')dnl
define(`confCLIENT_KEY', `@SMD@/tls/key.pem')dnl
dnl AUTH (Cyrus SASL, sasldb): PLAIN and LOGIN, never before TLS (p),
dnl no anonymous (y); authenticated clients may relay.
define(`confAUTH_MECHANISMS', `PLAIN LOGIN')dnl
define(`confAUTH_OPTIONS', `p,y')dnl
TRUST_AUTH_MECH(`PLAIN LOGIN')dnl
dnl MX role: STARTTLS, no AUTH (M=A). Submission: AUTH required (M=a),
dnl STARTTLS offered. Submission over implicit TLS (M=s, "port 465"): AUTH
dnl required. No ETRN anywhere (M=E).
DAEMON_OPTIONS(`Port=@PORT_MX@, Addr=@HOST@, Family=inet, Name=MTA, M=EA')dnl
DAEMON_OPTIONS(`Port=@PORT_SUB@, Addr=@HOST@, Family=inet, Name=MSA, M=Ea')dnl
DAEMON_OPTIONS(`Port=@PORT_TLS@, Addr=@HOST@, Family=inet, Name=MSA-TLS, M=Eas')dnl
dnl Local domain and users: example.test is local; the virtusertable maps
dnl the test users to local mailboxes and refuses every other address with
dnl "550 5.1.1 ... User unknown" at RCPT.
LOCAL_DOMAIN(`example.test')dnl
FEATURE(`virtusertable', `hash -o @SMD@/virtusertable')dnl
dnl Every other domain goes to the "relayed" mailer below (a catch-all
dnl mailertable entry), which files the message under @SMD@/relayed/.
FEATURE(`mailertable', `hash -o @SMD@/mailertable')dnl
define(`SMART_HOST', `[127.0.0.1]')dnl
define(`SMTP_MAILER_ARGS', `TCP $h 9')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h 9')dnl
define(`SMTP8_MAILER_ARGS', `TCP $h 9')dnl
define(`DSMTP_MAILER_ARGS', `TCP $h 9')dnl
define(`RELAY_MAILER_ARGS', `TCP $h 9')dnl
dnl Local delivery: one file per message under @SMD@/mail/USER/, written by
dnl a script (the 'w' flag is dropped: users need no /etc/passwd entry).
define(`LOCAL_MAILER_PATH', `@SMD@/deliver')dnl
define(`LOCAL_MAILER_ARGS', `deliver $u')dnl
define(`LOCAL_MAILER_FLAGS', `SPn9')dnl
MODIFY_MAILER_FLAGS(`LOCAL', `-w')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
MAILER_DEFINITIONS
Mrelayed,	P=@SMD@/deliver, F=lsDFMShn9, S=EnvFromSMTP/HdrFromSMTP, R=EnvToSMTP, T=DNS/RFC822/SMTP,
		A=deliver -relayed $u
EOF
}

write_config() {
	mkdir -p "$SMD/queue" "$SMD/mail" "$SMD/relayed" "$SMD/tls" "$SMD/sasl"
	chmod 755 "$SMD" "$SMD/mail" "$SMD/relayed"
	chmod 700 "$SMD/queue" "$SMD/tls"
	# The suite's certificate (servers.sh makes it; made the same way here
	# when this script runs alone); a private copy of the key.
	if [[ ! -s $TLS/cert.pem || ! -s $TLS/key.pem ]]; then
		mkdir -p "$TLS"
		chmod 755 "$TLS"
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj "/CN=mx.example.test" \
			-addext "subjectAltName=DNS:mx.example.test,DNS:localhost,IP:127.0.0.1" \
			-keyout "$TLS/key.pem" -out "$TLS/cert.pem" 2>/dev/null ||
			die "openssl could not make the test certificate"
		chmod 644 "$TLS/cert.pem" "$TLS/key.pem"
	fi
	install -m 644 "$TLS/cert.pem" "$SMD/tls/cert.pem"
	install -m 600 "$TLS/key.pem" "$SMD/tls/key.pem"

	printf 'hosts\tfiles\naliases\tfiles\n' >"$SMD/service.switch"
	# The hosts file the daemon sees (bind-mounted over /etc/hosts in its
	# own mount namespace, see run_ns). Sendmail sleeps 60 s at every start
	# when it cannot find a dotted name for its host, and a loopback client
	# whose name or [address] is in class w may relay (localhost is in it,
	# and so is every address of this host's name): so 127.0.0.1 is first
	# named loopback-client.test, and this host, sendmail.example.test, has
	# only ::1, an address the tests never connect from.
	printf '127.0.0.1\tloopback-client.test localhost\n::1\tsendmail.example.test\n' >"$SMD/hosts"
	: >"$SMD/relay-domains"
	: >"$SMD/trusted-users"
	cp "$SENDMAIL_ROOT/etc/mail/helpfile" "$SMD/helpfile"
	printf 'mailer-daemon: postmaster\nroot: postmaster\n' >"$SMD/aliases"
	local user=${USER_NAME%@*}
	{
		printf '%s@example.test\t%s\n' "$user" "$user"
		printf 'bob@example.test\tbob\n'
		printf 'postmaster@example.test\tpostmaster\n'
		printf '@example.test\terror:5.1.1:550 User unknown\n'
		printf '@sendmail.example.test\terror:5.1.1:550 User unknown\n'
	} >"$SMD/virtusertable"
	printf '.\trelayed:nowhere\n' >"$SMD/mailertable"
	chmod 644 "$SMD"/{hosts,service.switch,relay-domains,trusted-users,helpfile,aliases,virtusertable,mailertable}

	# The local mailer: argv[1] is the user, the message arrives on stdin.
	cat >"$SMD/deliver" <<EOF
#!/bin/sh
# Delivery for the smtpprobe integration Sendmail: one file per message in
# $SMD/mail/USER/ (local mailer), or in $SMD/relayed/ADDRESS/ for mail to
# other domains (the "relayed" mailer: nothing leaves the machine).
set -eu
top=$SMD/mail
if [ "\$1" = -relayed ]; then
	top=$SMD/relayed
	shift
fi
user=\$(printf '%s' "\$1" | tr -c 'A-Za-z0-9._+@-' '_')
dir=\$top/\$user
mkdir -p "\$dir"
chmod 755 "\$dir"
tmp=\$(mktemp "\$dir/.tmp.XXXXXX")
cat >"\$tmp"
chmod 644 "\$tmp"
mv "\$tmp" "\$dir/\$(date +%s.%N).\$\$.eml"
EOF
	chmod 755 "$SMD/deliver"

	write_mc | sed -e "s|@SMD@|$SMD|g" -e "s|@ROOT@|$SENDMAIL_ROOT|g" \
		-e "s|@HOST@|$HOST|g" -e "s|@PORT_MX@|$PORT_SENDMAIL|g" \
		-e "s|@PORT_SUB@|$PORT_SENDMAIL_SUBMISSION|g" -e "s|@PORT_TLS@|$PORT_SENDMAIL_TLS|g" >"$SMD/sendmail.mc"
	m4 -D_CF_DIR_="$SM_CF/" "$SM_CF/m4/cf.m4" "$SMD/sendmail.mc" >"$SMD/sendmail.cf.tmp" 2>"$SMD/m4.log" ||
		die "m4 could not build sendmail.cf: $(cat "$SMD/m4.log")"
	# Sendmail trusts 127.0.0.1 and ::1 unconditionally ("originated
	# locally", hard-wired in proto.m4's Relay_ok): a probe on loopback
	# could always relay. These tests can only connect from loopback, so
	# those two rules go and a loopback client is treated as remote.
	sed -E '/^R(127\.0\.0\.1|IPv6:[0-9:]*:1)[[:space:]].*originated locally/d' \
		"$SMD/sendmail.cf.tmp" >"$SMD/sendmail.cf"
	rm -f "$SMD/sendmail.cf.tmp"
	grep -q '^R127\.0\.0\.1' "$SMD/sendmail.cf" && die "could not remove the loopback relay rule"
	chmod 644 "$SMD/sendmail.mc" "$SMD/sendmail.cf"

	# Cyrus SASL reads <app>.conf (Sendmail.conf) from its config path, which
	# starts at /etc/sasl2 and also holds the plugin folder; Sendmail gives
	# no way to name another and clears the environment, so run_ns
	# bind-mounts $SMD/sasl over the plugin folder, with copies of the three
	# plugins needed next to this Sendmail.conf.
	local plugdir
	plugdir=$(sasl_plugin_dir) || die "Cyrus SASL plugins (libsasldb.so) not found"
	rm -f "$SMD/sasl"/*
	cp -L "$plugdir"/libplain.so "$plugdir"/liblogin.so "$plugdir"/libsasldb.so "$SMD/sasl/"
	cat >"$SMD/sasl/Sendmail.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SMD/sasldb2
mech_list: PLAIN LOGIN
EOF
	chmod 644 "$SMD/sasl"/*
	rm -f "$SMD/sasldb2"
	printf '%s' "$USER_PASS" | saslpasswd2 -f "$SMD/sasldb2" -a Sendmail -c -p -u example.test "${USER_NAME%@*}" ||
		die "saslpasswd2 failed"
	chmod 600 "$SMD/sasldb2"

	local map
	for map in virtusertable mailertable; do
		# makemap reads "$SMD/$map" and writes "$SMD/$map.db" (SC2094 is
		# wrong here); it warns about /tmp whatever DontBlameSendmail says,
		# so its output is shown only when it fails.
		# shellcheck disable=SC2094
		"$SM_MAKEMAP" -C "$SMD/sendmail.cf" hash "$SMD/$map" <"$SMD/$map" >"$SMD/makemap.log" 2>&1 ||
			die "makemap $map failed: $(cat "$SMD/makemap.log")"
	done
	run_ns "$SM_BIN" -C "$SMD/sendmail.cf" -bi >"$SMD/newaliases.log" 2>&1 ||
		die "newaliases failed: $(cat "$SMD/newaliases.log")"
}

start_sendmail() {
	if ! installed; then
		if [[ "${CI:-}" == "true" ]]; then
			install_sendmail
		else
			# Like the Go tests outside CI: a missing server is a skip (the
			# Sendmail tests say so), not a reason to stop the others.
			log "warning: Sendmail not unpacked under $SENDMAIL_ROOT, not started (run sendmail.sh install --yes)"
			return 0
		fi
	fi
	[[ $(id -u) -eq 0 ]] || die "must run as root"
	unshare --mount --uts true 2>/dev/null ||
		die "unshare --mount --uts is not permitted here (Sendmail runs in namespaces of its own, see run_ns; in a container: --cap-add SYS_ADMIN or --privileged)"
	stop_sendmail
	local p
	for p in $PORT_SENDMAIL $PORT_SENDMAIL_SUBMISSION $PORT_SENDMAIL_TLS; do
		port_open "$p" && die "port $HOST:$p is already in use by another program (ports are set by SMTPPROBE_PORT_SENDMAIL*)"
	done
	mkdir -p "$BASE"
	chmod 755 "$BASE"
	write_config
	rm -rf "${SMD:?}/mail"/* "${SMD:?}/relayed"/*
	: >"$SMD/start.log"
	run_ns "$SM_BIN" -C "$SMD/sendmail.cf" -bd -L sm-smtpprobe-it </dev/null >>"$SMD/start.log" 2>&1 ||
		die "sendmail did not start: $(cat "$SMD/start.log")"
	local deadline=$((SECONDS + WAIT_SECONDS))
	for p in $PORT_SENDMAIL $PORT_SENDMAIL_SUBMISSION $PORT_SENDMAIL_TLS; do
		until port_open "$p"; do
			if ((SECONDS >= deadline)); then
				cat "$SMD/start.log" >&2
				stop_sendmail
				die "port $HOST:$p did not open within ${WAIT_SECONDS}s"
			fi
			sleep 0.1
		done
	done
	log "sendmail listening on $HOST:$PORT_SENDMAIL, $PORT_SENDMAIL_SUBMISSION and $PORT_SENDMAIL_TLS"
}

status_sendmail() {
	local p bad=0
	for p in $PORT_SENDMAIL $PORT_SENDMAIL_SUBMISSION $PORT_SENDMAIL_TLS; do
		if port_open "$p"; then
			echo "$HOST:$p up"
		else
			echo "$HOST:$p DOWN"
			bad=1
		fi
	done
	return $bad
}

print_env() {
	cat <<EOF
SMTPPROBE_PORT_SENDMAIL=$PORT_SENDMAIL
SMTPPROBE_PORT_SENDMAIL_SUBMISSION=$PORT_SENDMAIL_SUBMISSION
SMTPPROBE_PORT_SENDMAIL_TLS=$PORT_SENDMAIL_TLS
SMTPPROBE_IT_SENDMAIL_MAIL=$SMD/mail
SMTPPROBE_IT_SENDMAIL_RELAYED=$SMD/relayed
SMTPPROBE_IT_SENDMAIL_CF=$SMD/sendmail.cf
SMTPPROBE_IT_SENDMAIL_SCRIPT=$(cd "$(dirname "$0")" && pwd)/sendmail.sh
EOF
}

case ${1:-} in
install) install_sendmail "${2:-}" ;;
installed) installed ;;
start) start_sendmail ;;
stop) stop_sendmail ;;
restart)
	stop_sendmail
	start_sendmail
	;;
status) status_sendmail ;;
env) print_env ;;
*)
	echo "usage: $0 install [--yes]|start|stop|restart|status|env" >&2
	exit 1
	;;
esac
