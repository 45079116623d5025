#!/usr/bin/env bash
# servers.sh — private Postfix (+ Dovecot SASL) and Exim 4 instances on
# loopback high ports, for smtpprobe's integration tests and for trying the
# probe by hand.
#
#   servers.sh start    write configs under $SMTPPROBE_IT_DIR, start, wait for ports
#   servers.sh stop     stop every daemon this script started
#   servers.sh status   exit 0 when every port answers
#   servers.sh env      print KEY=VALUE lines (ports, users, log paths)
#
# Nothing here touches the packaged system instances: Postfix runs with
# `postfix -c DIR`, Dovecot with `dovecot -c FILE`, Exim with `exim4 -C FILE`.
# No mail leaves the machine: every transport is discard, DNS is off.
# Install the packages first with install.sh.
set -euo pipefail

BASE=${SMTPPROBE_IT_DIR:-/tmp/smtpprobe-it}
HOST=127.0.0.1
PORT_MX=${SMTPPROBE_PORT_MX:-2525}
PORT_SUBMISSION=${SMTPPROBE_PORT_SUBMISSION:-2587}
PORT_IMPLICIT=${SMTPPROBE_PORT_IMPLICIT:-2465}
PORT_OPENRELAY=${SMTPPROBE_PORT_OPENRELAY:-2526}
PORT_AUTHNOTLS=${SMTPPROBE_PORT_AUTHNOTLS:-2527}
PORT_BANNER554=${SMTPPROBE_PORT_BANNER554:-2528}
PORT_CONTENT=${SMTPPROBE_PORT_CONTENT:-2529}
PORT_EXIM=${SMTPPROBE_PORT_EXIM:-2625}
PORT_EXIM_NOSERVICE=${SMTPPROBE_PORT_EXIM_NOSERVICE:-2626}
EXIM_ROOT=${EXIM_ROOT:-/opt/smtpprobe-exim}
EXIM_BIN=${EXIM_BIN:-$EXIM_ROOT/usr/sbin/exim4}
# Test accounts. The password is public on purpose: these servers listen on
# loopback only and exist to be probed.
USER_NAME=${SMTPPROBE_IT_USER:-alice@example.test}
USER_PASS=${SMTPPROBE_IT_PASS:-wonderland-test-pw}
WAIT_SECONDS=${SMTPPROBE_IT_WAIT:-20}

PF=$BASE/postfix
DC=$BASE/dovecot
EX=$BASE/exim
TLS=$BASE/tls

log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

all_ports() {
	echo "$PORT_MX $PORT_SUBMISSION $PORT_IMPLICIT $PORT_OPENRELAY $PORT_AUTHNOTLS $PORT_BANNER554 $PORT_CONTENT $PORT_EXIM $PORT_EXIM_NOSERVICE"
}

port_open() {
	# bash's /dev/tcp: no extra tool needed, and it only connects to loopback.
	(exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

wait_ports() {
	local deadline=$((SECONDS + WAIT_SECONDS)) p
	for p in $(all_ports); do
		until port_open "$p"; do
			if ((SECONDS >= deadline)); then
				log "port $HOST:$p did not open within ${WAIT_SECONDS}s"
				return 1
			fi
			sleep 0.1
		done
	done
}

# alive PID: true while the process exists and is not a zombie (a zombie still
# answers kill -0, so look at its state in /proc).
alive() {
	local pid=$1 state
	[[ -r /proc/$pid/stat ]] || return 1
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) || return 1
	[[ -n $state && $state != Z && $state != X ]]
}

wait_gone() {
	local pid=$1 i
	for ((i = 0; i < 100; i++)); do
		alive "$pid" || return 0
		sleep 0.1
	done
	log "process $pid still alive after 10s; sending SIGKILL"
	kill -KILL "$pid" 2>/dev/null || true
}

pidfile_pid() {
	[[ -r $1 ]] && tr -dc '0-9' <"$1"
}

# Postfix ignores (and waits out) config files modified within the last
# second; backdating them saves seconds at every start.
backdate() { touch -d '-2 minutes' "$@"; }

make_tls() {
	mkdir -p "$TLS"
	if [[ ! -s $TLS/cert.pem || ! -s $TLS/key.pem ]]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
			-subj "/CN=mx.example.test" \
			-addext "subjectAltName=DNS:mx.example.test,DNS:localhost,IP:127.0.0.1" \
			-keyout "$TLS/key.pem" -out "$TLS/cert.pem" 2>/dev/null ||
			die "openssl could not make the test certificate"
	fi
	# A throwaway loopback-only test key: Exim reads it after dropping to
	# Debian-exim, so it must be world-readable.
	chmod 755 "$TLS"
	chmod 644 "$TLS/cert.pem" "$TLS/key.pem"
}

write_dovecot() {
	mkdir -p "$DC/run"
	chmod 755 "$DC"
	# passwd-file: user:password:uid:gid:gecos:home:shell:extra
	printf '%s:{PLAIN}%s::::::\n' "$USER_NAME" "$USER_PASS" >"$DC/users"
	printf 'bob@example.test:{PLAIN}builder-test-pw::::::\n' >>"$DC/users"
	chown root:dovecot "$DC/users"
	chmod 640 "$DC/users"
	cat >"$DC/dovecot.conf" <<EOF
# Dovecot used only as Postfix's SASL backend: no mail protocols.
protocols =
base_dir = $DC/run
instance_name = smtpprobe-it
log_path = $DC/dovecot.log
info_log_path = $DC/dovecot.log
ssl = no
# Postfix decides when plaintext AUTH is allowed (smtpd_tls_auth_only);
# the auth-before-TLS service must be able to authenticate in clear.
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_verbose = yes
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DC/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener $PF/spool/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service anvil {
  chroot =
}
EOF
}

write_postfix() {
	mkdir -p "$PF/etc" "$PF/data" "$PF/spool"
	chmod 755 "$PF" "$PF/etc"
	chown postfix "$PF/data"
	local etc=$PF/etc
	cat >"$etc/main.cf" <<EOF
# Private Postfix instance for smtpprobe integration tests. Never sends mail.
compatibility_level = 3.6
queue_directory = $PF/spool
data_directory = $PF/data
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.example.test
mydomain = example.test
myorigin = \$mydomain
inet_interfaces = loopback-only
inet_protocols = ipv4
# Nobody is trusted by IP: relaying needs AUTH (or the open-relay service).
mynetworks = 192.0.2.1/32
mydestination = localhost
local_recipient_maps =
alias_maps =
alias_database =
virtual_mailbox_domains = example.test
virtual_mailbox_maps = texthash:$etc/vmailbox
# Everything, local or relayed, is thrown away: no outbound connection.
virtual_transport = discard:
local_transport = discard:
relay_transport = discard:
default_transport = discard:
smtp_dns_support_level = disabled
smtp_host_lookup = native
notify_classes =
biff = no
smtpd_banner = \$myhostname ESMTP smtpprobe-it
maillog_file = $PF/maillog
maillog_file_prefixes = /var, /dev/stdout, $BASE
smtpd_tls_cert_file = $TLS/cert.pem
smtpd_tls_key_file = $TLS/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
smtp_tls_security_level = none
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
smtpd_tls_auth_only = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_delay_reject = yes
smtpd_timeout = 30s
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_hard_error_limit = 200
EOF
	printf '%s OK\nbob@example.test OK\npostmaster@example.test OK\n' "$USER_NAME" >"$etc/vmailbox"
	# Submission: unauthenticated clients may not even send to local users.
	printf 'example.test 530 5.7.0 Authentication required\n' >"$etc/auth_required"
	printf '%s %s\nbob@example.test bob@example.test\n' "$USER_NAME" "$USER_NAME" >"$etc/sender_logins"
	# Content filter stand-in: every message is rejected after the final dot
	# with Postfix's own text for a bare REJECT ("550 5.7.1 Message content
	# rejected").
	printf '/^(Subject|From|To|Date|Message-ID):/ REJECT\n' >"$etc/header_checks_reject"

	cat >"$etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command + args
# MX role: mail for example.test without AUTH, no relay, STARTTLS offered,
# no AUTH at all.
$HOST:$PORT_MX inet n - n - - smtpd
  -o syslog_name=postfix/mx
# Submission: TLS before anything, AUTH via Dovecot only inside TLS, relays
# for authenticated users only, no mail at all without AUTH (530), and each
# user sends only as their own address.
$HOST:$PORT_SUBMISSION inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject_unauth_destination
  -o smtpd_recipient_restrictions=permit_sasl_authenticated,check_recipient_access,texthash:$etc/auth_required
  -o smtpd_sender_login_maps=texthash:$etc/sender_logins
  -o smtpd_sender_restrictions=reject_authenticated_sender_login_mismatch
# Implicit TLS (smtps, "port 465").
$HOST:$PORT_IMPLICIT inet n - n - - smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject_unauth_destination
# Deliberately misconfigured: an open relay for everyone on loopback.
$HOST:$PORT_OPENRELAY inet n - n - - smtpd
  -o syslog_name=postfix/openrelay
  -o mynetworks=127.0.0.0/8
  -o smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination
# Deliberately misconfigured: AUTH offered and accepted in clear.
$HOST:$PORT_AUTHNOTLS inet n - n - - smtpd
  -o syslog_name=postfix/authnotls
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
  -o broken_sasl_auth_clients=yes
# Refuses every client at connect time (smtpd_delay_reject=no evaluates the
# client restrictions before the greeting): "554 5.7.1 <localhost[127.0.0.1]>:
# Client host rejected: Access denied" instead of a 220 banner.
$HOST:$PORT_BANNER554 inet n - n - - smtpd
  -o syslog_name=postfix/banner554
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=reject
# Rejects every message after the final dot (header_checks REJECT: 550).
$HOST:$PORT_CONTENT inet n - n - - smtpd
  -o syslog_name=postfix/content
  -o cleanup_service_name=cleanup_reject
cleanup_reject unix n - n - 0 cleanup
  -o header_checks=regexp:$etc/header_checks_reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	backdate "$etc"/*
}

write_exim() {
	mkdir -p "$EX/spool" "$EX/log"
	chmod 755 "$EX"
	chown -R Debian-exim:Debian-exim "$EX/spool" "$EX/log"
	cat >"$EX/exim.conf" <<EOF
# Minimal Exim for smtpprobe integration tests: accepts example.test,
# refuses relay, offers STARTTLS and AUTH PLAIN/LOGIN inside TLS only.
# A second port answers every connection with RFC 5321's "554 No SMTP
# service here" instead of a banner.
primary_hostname = exim.example.test
# Where the daemon re-executes itself for deliveries: the extracted binary,
# not the compiled-in /usr/sbin/exim4 (which is not installed).
exim_path = $EXIM_BIN
keep_environment =
domainlist local_domains = example.test
local_interfaces = <; $HOST
daemon_smtp_ports = $PORT_EXIM : $PORT_EXIM_NOSERVICE
spool_directory = $EX/spool
log_file_path = $EX/log/%slog
pid_file_path = $EX/exim.pid
# Exit at once when a port is taken instead of retrying in the background
# for minutes (9 x 30 s by default) with no pid file to find it by.
daemon_startup_retries = 0
exim_user = Debian-exim
exim_group = Debian-exim
never_users = root
host_lookup =
rfc1413_hosts =
smtp_banner = \$smtp_active_hostname ESMTP Exim \$version_number smtpprobe-it
tls_advertise_hosts = *
tls_certificate = $TLS/cert.pem
tls_privatekey = $TLS/key.pem
acl_smtp_connect = acl_check_connect
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data

begin acl
acl_check_connect:
  deny    condition = \${if eq{\$received_port}{$PORT_EXIM_NOSERVICE}}
          message = 554 No SMTP service here
  accept

acl_check_rcpt:
  accept  authenticated = *
  deny    message = relay not permitted
          !domains = +local_domains
  require verify = recipient
  accept

acl_check_data:
  accept

begin routers
local_users:
  driver = redirect
  domains = +local_domains
  local_parts = alice : bob : postmaster
  data = :blackhole:
remote_discard:
  driver = redirect
  domains = ! +local_domains
  data = :blackhole:

begin transports

begin retry
*  *  F,1h,10m

begin rewrite

begin authenticators
PLAIN:
  driver = plaintext
  public_name = PLAIN
  server_advertise_condition = \${if def:tls_in_cipher}
  server_prompts = :
  server_condition = \${if and {{eq{\$auth2}{$USER_NAME}}{eq{\$auth3}{$USER_PASS}}}}
  server_set_id = \$auth2
LOGIN:
  driver = plaintext
  public_name = LOGIN
  server_advertise_condition = \${if def:tls_in_cipher}
  server_prompts = Username:: : Password::
  server_condition = \${if and {{eq{\$auth1}{$USER_NAME}}{eq{\$auth2}{$USER_PASS}}}}
  server_set_id = \$auth1
EOF
	chmod 644 "$EX/exim.conf"
}

stop_all() {
	local pid
	if [[ -r $PF/etc/main.cf ]] && pid=$(pidfile_pid "$PF/spool/pid/master.pid") && [[ -n $pid ]] && alive "$pid"; then
		postfix -c "$PF/etc" stop </dev/null >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid"
	fi
	if pid=$(pidfile_pid "$DC/run/master.pid") && [[ -n $pid ]] && alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid"
	fi
	if pid=$(pidfile_pid "$EX/exim.pid") && [[ -n $pid ]] && alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		wait_gone "$pid"
	fi
}

check_binaries() {
	command -v postfix >/dev/null || die "postfix not installed (run install.sh --yes)"
	[[ -x /usr/sbin/dovecot ]] || die "dovecot not installed (run install.sh --yes)"
	[[ -x $EXIM_BIN ]] || die "exim4 not found at $EXIM_BIN (run install.sh --yes)"
	getent passwd Debian-exim >/dev/null || die "user Debian-exim missing (run install.sh --yes)"
	[[ $(id -u) -eq 0 ]] || die "must run as root (Postfix and Dovecot drop privileges themselves)"
}

# start_failed shows the logs, stops whatever did start (a half-started set
# would hold ports and confuse the next run) and exits non-zero.
start_failed() {
	local f
	# Postfix's postlogd and Exim write their logs asynchronously.
	sleep 1
	for f in "$PF/start.log" "$PF/maillog" "$DC/start.log" "$DC/dovecot.log" \
		"$EX/start.log" "$EX/log/mainlog" "$EX/log/paniclog"; do
		if [[ -s $f ]]; then
			echo "==> $f <==" >&2
			tail -n 8 "$f" >&2
		fi
	done
	stop_all
	die "$1"
}

start_all() {
	check_binaries
	stop_all
	mkdir -p "$BASE"
	# Postfix and Dovecot children run as postfix/nobody/dovecot: every
	# parent folder must be searchable by them.
	chmod 755 "$BASE"
	# Another program on one of our ports would answer in place of our
	# servers: refuse instead of testing the wrong thing.
	local p
	for p in $(all_ports); do
		port_open "$p" && die "port $HOST:$p is already in use by another program (ports are set by SMTPPROBE_PORT_*)"
	done
	make_tls
	write_postfix
	write_dovecot
	write_exim
	# Fresh logs for each start, so that a failure shows only its own lines.
	: >"$PF/maillog"
	: >"$PF/start.log"
	: >"$DC/dovecot.log"
	: >"$DC/start.log"
	: >"$EX/start.log"
	rm -f "$EX/log/mainlog" "$EX/log/paniclog" "$EX/log/rejectlog"

	# master keeps the caller's stdio open: redirect all of it, or a
	# caller's $(...) never returns.
	postfix -c "$PF/etc" start </dev/null >>"$PF/start.log" 2>&1 ||
		start_failed "postfix did not start"

	# Dovecot puts its auth socket in Postfix's queue (private/), which
	# postfix start has just created with the right owner.
	/usr/sbin/dovecot -c "$DC/dovecot.conf" </dev/null >>"$DC/start.log" 2>&1 ||
		start_failed "dovecot did not start"

	# -C is not in Exim's trusted list, so it logs "lost privilege for using
	# -C option" — harmless here, the daemon only needs a high port.
	"$EXIM_BIN" -C "$EX/exim.conf" -bd -q30m </dev/null >>"$EX/start.log" 2>&1 ||
		start_failed "exim did not start"

	wait_ports || start_failed "servers did not come up"
	log "all servers listening under $BASE"
}

print_env() {
	cat <<EOF
SMTPPROBE_IT_DIR=$BASE
SMTPPROBE_IT_HOST=$HOST
SMTPPROBE_PORT_MX=$PORT_MX
SMTPPROBE_PORT_SUBMISSION=$PORT_SUBMISSION
SMTPPROBE_PORT_IMPLICIT=$PORT_IMPLICIT
SMTPPROBE_PORT_OPENRELAY=$PORT_OPENRELAY
SMTPPROBE_PORT_AUTHNOTLS=$PORT_AUTHNOTLS
SMTPPROBE_PORT_BANNER554=$PORT_BANNER554
SMTPPROBE_PORT_CONTENT=$PORT_CONTENT
SMTPPROBE_PORT_EXIM=$PORT_EXIM
SMTPPROBE_PORT_EXIM_NOSERVICE=$PORT_EXIM_NOSERVICE
SMTPPROBE_IT_USER=$USER_NAME
SMTPPROBE_IT_PASS=$USER_PASS
SMTPPROBE_IT_POSTFIX_LOG=$PF/maillog
SMTPPROBE_IT_DOVECOT_LOG=$DC/dovecot.log
SMTPPROBE_IT_EXIM_LOG=$EX/log/mainlog
SMTPPROBE_IT_CERT=$TLS/cert.pem
EOF
}

status_all() {
	local p bad=0
	for p in $(all_ports); do
		if port_open "$p"; then
			echo "$HOST:$p up"
		else
			echo "$HOST:$p DOWN"
			bad=1
		fi
	done
	return $bad
}

case ${1:-} in
start) start_all ;;
stop) stop_all ;;
restart)
	stop_all
	start_all
	;;
status) status_all ;;
env) print_env ;;
*)
	echo "usage: $0 start|stop|restart|status|env" >&2
	exit 1
	;;
esac
