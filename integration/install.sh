#!/usr/bin/env bash
# install.sh — installs the MTAs the integration suite drives: Postfix and
# Dovecot (auth service only) from Debian, plus Exim 4 unpacked next to them.
#
# Every Debian MTA package conflicts with the others, so Exim is never
# installed: its .deb is downloaded and extracted under $EXIM_ROOT. Package
# scripts must not start system daemons (they would grab port 25 and write to
# the system spool), so a policy-rc.d that refuses every start is put in
# place.
#
# Runs only when CI=true or when asked with --yes (or SMTPPROBE_INSTALL=1),
# because it changes the machine. Needs root.
set -euo pipefail

EXIM_ROOT=${EXIM_ROOT:-/opt/smtpprobe-exim}

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
		getent passwd Debian-exim >/dev/null
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
	libidn12

# Exim: download, never install (it would remove postfix). Its libraries
# (GnuTLS, libidn12, Berkeley DB, ...) come in with the packages above.
if [[ ! -x "$EXIM_ROOT/usr/sbin/exim4" ]]; then
	tmp=$(mktemp -d)
	# apt downloads as its unprivileged _apt user when that user can write
	# the folder (and warns otherwise).
	chmod 755 "$tmp"
	chown _apt "$tmp" 2>/dev/null || true
	(cd "$tmp" && apt-get download exim4-daemon-light exim4-base)
	mkdir -p "$EXIM_ROOT"
	for deb in "$tmp"/exim4-daemon-light_*.deb "$tmp"/exim4-base_*.deb; do
		dpkg-deb -x "$deb" "$EXIM_ROOT"
	done
	rm -rf "$tmp"
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

have_all && echo "install.sh: done"
