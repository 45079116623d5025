package sendercheck

import (
	"context"

	"github.com/emersion/go-msgauth/dmarc"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// DMARC finds the DMARC policy of domain (RFC 7489 §6.6.3: the domain's
// _dmarc record, else its organizational domain's): Result is the policy
// that applies (none, quarantine, reject), absent, temperror or permerror
// (a record that cannot be read, or several). Detail gives p, sp, pct and
// the alignment modes.
func DMARC(ctx context.Context, r dnsclient.Resolver, domain string) Check {
	return Check{Name: NameDMARC, Subject: domain, Result: ResultTempError}
}

// OrgDomain is the organizational domain of domain (RFC 7489 §3.2: the
// public suffix plus one label), or domain itself when it has none.
func OrgDomain(domain string) string {
	return domain
}

// Aligned reports whether authDomain (the SPF-checked MAIL FROM domain or
// a DKIM d=) aligns with fromDomain (the From: header's domain) under mode
// "s" (strict: the same name) or "r" (relaxed, the default: the same
// organizational domain).
func Aligned(fromDomain, authDomain, mode string) bool {
	return false
}

// policyName is the library's policy as a result name.
func policyName(p dmarc.Policy) string { return string(p) }
