#!/usr/bin/env bash
# servers.sh — private Postfix (+ Dovecot SASL), Exim 4, chasquid and
# OpenSMTPD instances on loopback high ports, for smtpprobe's integration
# tests and for trying the probe by hand.
#
#   servers.sh start    write configs under $SMTPPROBE_IT_DIR, start, wait for ports
#   servers.sh stop     stop every daemon this script started
#   servers.sh status   exit 0 when every port answers
#   servers.sh env      print KEY=VALUE lines (ports, users, log paths)
#
# Nothing here touches the packaged system instances: Postfix runs with
# `postfix -c DIR`, Dovecot with `dovecot -c FILE`, Exim with `exim4 -C FILE`,
# chasquid with `-config_dir DIR`, OpenSMTPD with `smtpd -f FILE` inside a
# private mount namespace. No mail leaves the machine: every Postfix
# transport is discard, every Exim route a blackhole, DNS is off; chasquid
# runs in an empty network namespace (its listening sockets are opened
# outside and handed over as systemd socket activation), OpenSMTPD has no
# relay action.
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
PORT_RBL=${SMTPPROBE_PORT_RBL:-2530}
PORT_EXIM=${SMTPPROBE_PORT_EXIM:-2625}
PORT_EXIM_NOSERVICE=${SMTPPROBE_PORT_EXIM_NOSERVICE:-2626}
EXIM_ROOT=${EXIM_ROOT:-/opt/smtpprobe-exim}
EXIM_BIN=${EXIM_BIN:-$EXIM_ROOT/usr/sbin/exim4}
PORT_CHASQUID=${SMTPPROBE_PORT_CHASQUID:-2700}
PORT_CHASQUID_SUBMISSION=${SMTPPROBE_PORT_CHASQUID_SUBMISSION:-2701}
PORT_CHASQUID_TLS=${SMTPPROBE_PORT_CHASQUID_TLS:-2702}
PORT_OPENSMTPD=${SMTPPROBE_PORT_OPENSMTPD:-2710}
PORT_OPENSMTPD_SMTPS=${SMTPPROBE_PORT_OPENSMTPD_SMTPS:-2711}
CHASQUID_ROOT=${CHASQUID_ROOT:-/opt/smtpprobe-chasquid}
OPENSMTPD_ROOT=${OPENSMTPD_ROOT:-/opt/smtpprobe-opensmtpd}
# Test accounts. The password is public on purpose: these servers listen on
# loopback only and exist to be probed.
USER_NAME=${SMTPPROBE_IT_USER:-alice@example.test}
USER_PASS=${SMTPPROBE_IT_PASS:-wonderland-test-pw}
WAIT_SECONDS=${SMTPPROBE_IT_WAIT:-20}

PF=$BASE/postfix
DC=$BASE/dovecot
EX=$BASE/exim
CQ=$BASE/chasquid
OS=$BASE/opensmtpd
TLS=$BASE/tls

log() { printf 'servers.sh: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

all_ports() {
	echo "$PORT_MX $PORT_SUBMISSION $PORT_IMPLICIT $PORT_OPENRELAY $PORT_AUTHNOTLS $PORT_BANNER554 $PORT_CONTENT $PORT_RBL $PORT_EXIM $PORT_EXIM_NOSERVICE" \
		"$PORT_CHASQUID $PORT_CHASQUID_SUBMISSION $PORT_CHASQUID_TLS $PORT_OPENSMTPD $PORT_OPENSMTPD_SMTPS"
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
	# A DNSBL refusal as Postfix words it, for one loopback source address
	# only: the lookup itself is left to the test's DNS world (Postfix
	# would ask the system resolver), the text is Postfix's own.
	printf '127.0.0.3/32 REJECT Service unavailable; Client host [127.0.0.3] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.3\n' >"$etc/rbl.cidr"

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
# Refuses the client 127.0.0.3 at RCPT with an RBL-style text (cidr
# access map); every other client is served as the MX.
$HOST:$PORT_RBL inet n - n - - smtpd
  -o syslog_name=postfix/rbl
  -o smtpd_client_restrictions=check_client_access,cidr:$etc/rbl.cidr
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

# A maildir delivery agent for chasquid: $1 is the local user, the message
# comes on stdin (chasquid's mail_delivery_agent_bin contract).
write_maildir_mda() {
	cat >"$1" <<'EOF'
#!/bin/sh
# smtpprobe integration: deliver stdin into mail/$1/new (a maildir) beside
# this script.
set -eu
case $1 in */* | .* | '') echo "bad user $1" >&2; exit 1 ;; esac
d=$(dirname "$0")/mail/$1
mkdir -p "$d/tmp" "$d/new" "$d/cur"
f=$(date +%s).$$.$(od -An -N4 -tx4 /dev/urandom | tr -d ' ').chasquid
cat >"$d/tmp/$f"
mv "$d/tmp/$f" "$d/new/$f"
EOF
	chmod 755 "$1"
}

# Socket activation in perl (always there: swaks is perl): opens each
# listening socket in the caller's network namespace, then execs the
# command with them as fds 3, 4, ... and systemd's LISTEN_FDS,
# LISTEN_FDNAMES and LISTEN_PID (exec keeps the pid). chasquid takes them
# when an address is "systemd"; the command can then be
# `unshare --net chasquid`: a network namespace with nothing but a loopback
# that is down, while the ports are served on the real 127.0.0.1.
write_activate() {
	cat >"$1" <<'EOF'
# activate.pl NAME=HOST:PORT... -- COMMAND ARGS...
use strict;
use warnings;
use Socket qw(PF_INET SOCK_STREAM SOL_SOCKET SO_REUSEADDR inet_aton pack_sockaddr_in);
use POSIX ();
my (@keep, @fds, @names);
while (@ARGV && $ARGV[0] ne '--') {
	my ($name, $host, $port) = shift(@ARGV) =~ /^(\w+)=([\d.]+):(\d+)$/
		or die "activate.pl: bad listen spec\n";
	socket(my $s, PF_INET, SOCK_STREAM, 0) or die "activate.pl: socket: $!\n";
	setsockopt($s, SOL_SOCKET, SO_REUSEADDR, 1) or die "activate.pl: setsockopt: $!\n";
	bind($s, pack_sockaddr_in($port, inet_aton($host))) or die "activate.pl: bind $host:$port: $!\n";
	listen($s, 128) or die "activate.pl: listen: $!\n";
	push @keep, $s;    # perl's own fd keeps close-on-exec
	push @names, $name;
}
shift @ARGV;
@ARGV or die "activate.pl: no command\n";
# Copies above every fd in use, then onto 3, 4, ...: dup2 clears
# close-on-exec on the fd it makes.
push @fds, POSIX::dup(fileno($_)) // die "activate.pl: dup: $!\n" for @keep;
for my $i (0 .. $#fds) {
	defined POSIX::dup2($fds[$i], 3 + $i) or die "activate.pl: dup2: $!\n";
}
POSIX::close($_) for grep { $_ >= 3 + @fds } @fds;
$ENV{LISTEN_FDS} = scalar @fds;
$ENV{LISTEN_FDNAMES} = join(':', @names);
$ENV{LISTEN_PID} = $$;
exec { $ARGV[0] } @ARGV or die "activate.pl: exec $ARGV[0]: $!\n";
EOF
}

write_chasquid() {
	rm -rf "${CQ:?}/etc" "${CQ:?}/data" "${CQ:?}/mail"
	mkdir -p "$CQ/etc/certs/mx.example.test" "$CQ/etc/domains/example.test" "$CQ/data" "$CQ/mail"
	chmod 700 "$CQ/etc/certs"
	cp "$TLS/cert.pem" "$CQ/etc/certs/mx.example.test/fullchain.pem"
	cp "$TLS/key.pem" "$CQ/etc/certs/mx.example.test/privkey.pem"
	write_maildir_mda "$CQ/mda"
	write_activate "$CQ/activate.pl"
	# Every address is "systemd": the sockets come from activate.pl.
	cat >"$CQ/etc/chasquid.conf" <<EOF
# Private chasquid for smtpprobe integration tests. It runs in an empty
# network namespace: a remote delivery fails at its DNS lookup ("network is
# unreachable") and stays queued until the next start wipes data_dir.
hostname: "mx.example.test"
smtp_address: "systemd"
submission_address: "systemd"
submission_over_tls_address: "systemd"
mail_delivery_agent_bin: "$CQ/mda"
mail_delivery_agent_args: "%to_user%"
data_dir: "$CQ/data"
mail_log_path: "$CQ/mail.log"
EOF
	printf 'postmaster: %s\n' "${USER_NAME%@*}" >"$CQ/etc/domains/example.test/aliases"
	"$CHASQUID_ROOT/usr/bin/chasquid-util" --configdir="$CQ/etc" user-add "$USER_NAME" \
		--password="$USER_PASS" >"$CQ/start.log" 2>&1 ||
		start_failed "chasquid-util user-add failed"
}

write_opensmtpd() {
	rm -rf "${OS:?}/spool" "${OS:?}/mail"
	mkdir -p "$OS/spool" "$OS/run" "$OS/mail"
	# smtpd checks its queue's owner and mode.
	chmod 711 "$OS/spool"
	chmod 755 "$OS" "$OS/mail"
	# smtpd refuses a key readable by others (Exim's copy is 644).
	install -m 600 "$TLS/key.pem" "$OS/key.pem"
	local local_user=${USER_NAME%@*}
	mkdir -p "$OS/mail/$local_user"
	# Deliveries run as nobody (the userbase below).
	chown nobody:nogroup "$OS/mail/$local_user"
	# virtual: recipient -> local user; userbase: user -> uid:gid:home.
	printf '%s %s\npostmaster@example.test %s\n' "$USER_NAME" "$local_user" "$local_user" >"$OS/vusers"
	printf '%s %s:%s:%s\n' "$local_user" "$(id -u nobody)" "$(id -g nobody)" "$OS/mail/$local_user" >"$OS/vhomes"
	# Its resolver (libasr) reads "lookup file" as: /etc/hosts only, never
	# DNS. Without it, the client's reverse lookup waited out a dead name
	# server (5 s) whenever a few sessions came at once.
	printf '# smtpprobe integration: OpenSMTPD resolves from /etc/hosts only\nlookup file\n' >"$OS/resolv.conf"
	cat >"$OS/smtpd.conf" <<EOF
# Private OpenSMTPD 6.8 for smtpprobe integration tests. There is no relay
# action: mail for any other domain is refused ("550 Invalid recipient"),
# so nothing can leave the machine. TLS is configured as it should be, and
# fails with Debian 12's OpenSSL 3 ("EVP lib" in the log, alert 80
# "internal error" to the client): the realistic broken-TLS server.
pki mx.example.test cert "$TLS/cert.pem"
pki mx.example.test key "$OS/key.pem"
table vusers file:$OS/vusers
table vhomes file:$OS/vhomes
listen on $HOST port $PORT_OPENSMTPD tls pki mx.example.test hostname mx.example.test
listen on $HOST port $PORT_OPENSMTPD_SMTPS smtps pki mx.example.test hostname mx.example.test
action "local" maildir "$OS/mail/%{dest.user}" virtual <vusers> userbase <vhomes>
match from any for domain "example.test" action "local"
EOF
	"$OPENSMTPD_ROOT/usr/sbin/smtpd" -n -f "$OS/smtpd.conf" >"$OS/start.log" 2>&1 ||
		start_failed "smtpd -n: the OpenSMTPD configuration is invalid"
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
	# chasquid and OpenSMTPD run in the foreground and the pid files are
	# written here; a pid is signalled only while it is still theirs.
	local f
	for f in "$CQ/chasquid.pid" "$OS/smtpd.pid"; do
		if pid=$(pidfile_pid "$f") && [[ -n $pid ]] && alive "$pid" &&
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qE '/(chasquid|smtpd) '; then
			kill -TERM "$pid" 2>/dev/null || true
			wait_gone "$pid"
		fi
		rm -f "$f"
	done
	bash "$(dirname "$0")/sendmail.sh" stop || true
}

check_binaries() {
	command -v postfix >/dev/null || die "postfix not installed (run install.sh --yes)"
	[[ -x /usr/sbin/dovecot ]] || die "dovecot not installed (run install.sh --yes)"
	[[ -x $EXIM_BIN ]] || die "exim4 not found at $EXIM_BIN (run install.sh --yes)"
	getent passwd Debian-exim >/dev/null || die "user Debian-exim missing (run install.sh --yes)"
	[[ -x $CHASQUID_ROOT/usr/bin/chasquid ]] || die "chasquid not found under $CHASQUID_ROOT (run install.sh --yes)"
	[[ -x $OPENSMTPD_ROOT/usr/sbin/smtpd ]] || die "OpenSMTPD not found under $OPENSMTPD_ROOT (run install.sh --yes)"
	getent passwd opensmtpd >/dev/null || die "user opensmtpd missing (run install.sh --yes)"
	[[ -d /var/spool/smtpd && -d /usr/libexec/opensmtpd && -d /var/lib/opensmtpd/empty ]] ||
		die "OpenSMTPD's mount points are missing (run install.sh --yes)"
	# chasquid and OpenSMTPD run in namespaces of their own: a container
	# without CAP_SYS_ADMIN cannot make them.
	unshare --net --mount true 2>/dev/null ||
		die "unshare --net --mount is not permitted here (chasquid and OpenSMTPD need it; in a container: --cap-add SYS_ADMIN or --privileged)"
	[[ $(id -u) -eq 0 ]] || die "must run as root (Postfix and Dovecot drop privileges themselves)"
}

# start_failed shows the logs, stops whatever did start (a half-started set
# would hold ports and confuse the next run) and exits non-zero.
start_failed() {
	local f
	# Postfix's postlogd and Exim write their logs asynchronously.
	sleep 1
	for f in "$PF/start.log" "$PF/maillog" "$DC/start.log" "$DC/dovecot.log" \
		"$EX/start.log" "$EX/log/mainlog" "$EX/log/paniclog" \
		"$CQ/start.log" "$CQ/chasquid.log" "$OS/start.log" "$OS/smtpd.log"; do
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
	mkdir -p "$CQ" "$OS"
	write_chasquid
	write_opensmtpd
	# Fresh logs for each start, so that a failure shows only its own lines.
	: >"$PF/maillog"
	: >"$PF/start.log"
	: >"$DC/dovecot.log"
	: >"$DC/start.log"
	: >"$EX/start.log"
	rm -f "$EX/log/mainlog" "$EX/log/paniclog" "$EX/log/rejectlog"
	: >"$CQ/mail.log"
	: >"$CQ/chasquid.log"
	: >"$OS/smtpd.log"

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

	# chasquid: the sockets are opened here, the daemon runs in a network
	# namespace of its own (unshare --net) and cannot reach anything else.
	(cd / && exec perl "$CQ/activate.pl" \
		"smtp=$HOST:$PORT_CHASQUID" "submission=$HOST:$PORT_CHASQUID_SUBMISSION" \
		"submission_tls=$HOST:$PORT_CHASQUID_TLS" -- \
		unshare --net "$CHASQUID_ROOT/usr/bin/chasquid" -config_dir "$CQ/etc" \
		-logfile "$CQ/chasquid.log" </dev/null >>"$CQ/start.log" 2>&1) &
	echo $! >"$CQ/chasquid.pid"

	# OpenSMTPD: its queue, control socket, delivery helpers and resolver
	# configuration live at paths compiled into the binary; a private mount
	# namespace puts ours there. -d keeps it in the foreground, so the pid
	# is known.
	# shellcheck disable=SC2016 # $1 and $2 belong to the inner sh
	(cd / && exec unshare --mount --propagation private sh -c '
		mount --bind "$1/spool" /var/spool/smtpd &&
		mount --bind "$1/run" /run &&
		mount --bind "$1/resolv.conf" /etc/resolv.conf &&
		mount --bind "$2/usr/libexec/opensmtpd" /usr/libexec/opensmtpd &&
		exec "$2/usr/sbin/smtpd" -d -f "$1/smtpd.conf"' sh "$OS" "$OPENSMTPD_ROOT" \
		</dev/null >>"$OS/smtpd.log" 2>&1) &
	echo $! >"$OS/smtpd.pid"

	bash "$(dirname "$0")/sendmail.sh" start || start_failed "sendmail did not start"
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
SMTPPROBE_PORT_RBL=$PORT_RBL
SMTPPROBE_PORT_EXIM=$PORT_EXIM
SMTPPROBE_PORT_EXIM_NOSERVICE=$PORT_EXIM_NOSERVICE
SMTPPROBE_IT_USER=$USER_NAME
SMTPPROBE_IT_PASS=$USER_PASS
SMTPPROBE_IT_POSTFIX_LOG=$PF/maillog
SMTPPROBE_IT_DOVECOT_LOG=$DC/dovecot.log
SMTPPROBE_IT_EXIM_LOG=$EX/log/mainlog
SMTPPROBE_IT_CERT=$TLS/cert.pem
SMTPPROBE_PORT_CHASQUID=$PORT_CHASQUID
SMTPPROBE_PORT_CHASQUID_SUBMISSION=$PORT_CHASQUID_SUBMISSION
SMTPPROBE_PORT_CHASQUID_TLS=$PORT_CHASQUID_TLS
SMTPPROBE_IT_CHASQUID_LOG=$CQ/mail.log
SMTPPROBE_IT_CHASQUID_MAIL=$CQ/mail
SMTPPROBE_PORT_OPENSMTPD=$PORT_OPENSMTPD
SMTPPROBE_PORT_OPENSMTPD_SMTPS=$PORT_OPENSMTPD_SMTPS
SMTPPROBE_IT_OPENSMTPD_LOG=$OS/smtpd.log
SMTPPROBE_IT_OPENSMTPD_MAIL=$OS/mail
EOF
	bash "$(dirname "$0")/sendmail.sh" env
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
