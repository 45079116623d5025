#!/usr/bin/env bash
# install.sh — installs the MTAs the integration suite drives: Postfix and
# Dovecot (auth service only) from Debian, plus Exim 4, chasquid and
# OpenSMTPD unpacked next to them.
#
# Every Debian MTA package conflicts with the others, so Exim and OpenSMTPD
# are never installed: their .debs are downloaded and extracted under
# $EXIM_ROOT and $OPENSMTPD_ROOT (chasquid too, under $CHASQUID_ROOT, so that
# no system service of it exists either). Their runtime libraries do not
# conflict and are installed normally. Package
# scripts must not start system daemons (they would grab port 25 and write to
# the system spool), so a policy-rc.d that refuses every start is put in
# place.
#
# Runs only when CI=true or when asked with --yes (or SMTPPROBE_INSTALL=1),
# because it changes the machine. Needs root.
set -euo pipefail

EXIM_ROOT=${EXIM_ROOT:-/opt/smtpprobe-exim}
CHASQUID_ROOT=${CHASQUID_ROOT:-/opt/smtpprobe-chasquid}
OPENSMTPD_ROOT=${OPENSMTPD_ROOT:-/opt/smtpprobe-opensmtpd}
# Debian builds OpenSMTPD with these user names (upstream: _smtpd, _smtpq);
# smtpd refuses to start without them.
OPENSMTPD_USERS="opensmtpd opensmtpq"
# Paths compiled into Debian's smtpd that servers.sh bind-mounts over inside
# a private mount namespace (the queue, the delivery helpers) or uses as is
# (the empty chroot of its unprivileged processes). Empty directories, as
# the package would create them.
OPENSMTPD_DIRS="/var/lib/opensmtpd/empty /var/spool/smtpd /usr/libexec/opensmtpd"

# unpacked ROOT BIN: true when ROOT/BIN exists and every library it needs
# is present.
unpacked() {
	[[ -x "$1/$2" ]] || return 1
	# SC2143: grep -q would stop reading early and, under pipefail, turn
	# ldd's SIGPIPE into a false "all libraries present".
	# shellcheck disable=SC2143
	[[ -z $(ldd "$1/$2" 2>&1 | grep 'not found') ]]
}

opensmtpd_ready() {
	local u d
	for u in $OPENSMTPD_USERS; do
		getent passwd "$u" >/dev/null || return 1
	done
	for d in $OPENSMTPD_DIRS; do
		[[ -d $d ]] || return 1
	done
}

have_all() {
	# SC2143: grep -q would stop reading early and, under pipefail, turn
	# ldd's SIGPIPE into a false "all libraries present".
	# shellcheck disable=SC2143
	command -v postfix >/dev/null 2>&1 &&
		[[ -x /usr/sbin/dovecot ]] &&
		command -v swaks >/dev/null 2>&1 &&
		command -v openssl >/dev/null 2>&1 &&
		[[ -x "$EXIM_ROOT/usr/sbin/exim4" ]] &&
		[[ -z $(ldd "$EXIM_ROOT/usr/sbin/exim4" 2>&1 | grep 'not found') ]] &&
		getent passwd Debian-exim >/dev/null &&
		unpacked "$CHASQUID_ROOT" usr/bin/chasquid &&
		unpacked "$CHASQUID_ROOT" usr/bin/chasquid-util &&
		unpacked "$OPENSMTPD_ROOT" usr/sbin/smtpd &&
		opensmtpd_ready &&
		command -v unshare >/dev/null 2>&1 &&
		command -v perl >/dev/null 2>&1 &&
		bash "$(dirname "$0")/sendmail.sh" installed
}
# Nothing to do is fine without permission.
if have_all; then
	echo "install.sh: everything already installed"
	exit 0
fi

want=0
[[ "${CI:-}" == "true" ]] && want=1
[[ "${SMTPPROBE_INSTALL:-}" == "1" ]] && want=1
[[ "${1:-}" == "--yes" ]] && want=1
if [[ $want -ne 1 ]]; then
	echo "install.sh: refusing to change this machine; run with --yes (or CI=true / SMTPPROBE_INSTALL=1)" >&2
	exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
	echo "install.sh: must run as root (apt-get, useradd)" >&2
	exit 2
fi

export DEBIAN_FRONTEND=noninteractive

# Keep package maintainer scripts from starting postfix/dovecot as system
# services, now and on later upgrades: the tests run private instances only.
# An existing policy (a container's own) is left alone.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\n# smtpprobe integration: never start system daemons from package scripts\nexit 101\n' >"$policy"
	chmod 755 "$policy"
fi

# "No configuration" keeps postinst from writing a system main.cf that would
# try to deliver mail; the private instances bring their own.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections

apt-get update -q
apt-get install -y -q --no-install-recommends \
	postfix dovecot-core swaks openssl ca-certificates procps iproute2 libnet-ssleay-perl \
	libidn12 util-linux perl-base \
	libevent-2.1-7 libdb5.3 libssl3 libpam0g libcrypt1 zlib1g

# download_unpack ROOT PACKAGE...: apt-get download, dpkg-deb -x into ROOT.
download_unpack() {
	local root=$1 tmp deb
	shift
	tmp=$(mktemp -d)
	# apt downloads as its unprivileged _apt user when that user can write
	# the folder (and warns otherwise).
	chmod 755 "$tmp"
	chown _apt "$tmp" 2>/dev/null || true
	(cd "$tmp" && apt-get download "$@")
	mkdir -p "$root"
	for deb in "$tmp"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	rm -rf "$tmp"
}

# Exim: download, never install (it would remove postfix). Its libraries
# (GnuTLS, libidn12, Berkeley DB, ...) come in with the packages above.
if [[ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]]; then
	download_unpack "$EXIM_ROOT" exim4-daemon-light exim4-base
fi
missing=$(ldd "$EXIM_ROOT/usr/sbin/exim4" | awk '/not found/ {print $1}')
if [[ -n $missing ]]; then
	echo "install.sh: exim4 cannot run, missing libraries: $missing" >&2
	exit 1
fi

# The binary has its user compiled in (EXIM_USER=Debian-exim): it refuses to
# run without it.
if ! getent passwd Debian-exim >/dev/null; then
	groupadd --system Debian-exim 2>/dev/null || true
	useradd --system --gid Debian-exim --home-dir /var/spool/exim4 --no-create-home \
		--shell /usr/sbin/nologin Debian-exim
fi

# chasquid (Go, needs only libc) and OpenSMTPD 6.8: unpacked, never
# installed (opensmtpd conflicts with postfix; chasquid would bring a
# systemd service listening on port 25).
unpacked "$CHASQUID_ROOT" usr/bin/chasquid || download_unpack "$CHASQUID_ROOT" chasquid
unpacked "$OPENSMTPD_ROOT" usr/sbin/smtpd || download_unpack "$OPENSMTPD_ROOT" opensmtpd
for bin in "$CHASQUID_ROOT/usr/bin/chasquid" "$OPENSMTPD_ROOT/usr/sbin/smtpd"; do
	missing=$(ldd "$bin" | awk '/not found/ {print $1}')
	if [[ -n $missing ]]; then
		echo "install.sh: $bin cannot run, missing libraries: $missing" >&2
		exit 1
	fi
done
for u in $OPENSMTPD_USERS; do
	if ! getent passwd "$u" >/dev/null; then
		groupadd --system "$u" 2>/dev/null || true
		useradd --system --gid "$u" --home-dir /var/lib/opensmtpd/empty --no-create-home \
			--shell /usr/sbin/nologin "$u"
	fi
done
# shellcheck disable=SC2086 # a list of paths without spaces
mkdir -p $OPENSMTPD_DIRS

bash "$(dirname "$0")/sendmail.sh" install --yes

have_all && echo "install.sh: done"
