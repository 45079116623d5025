package sendercheck

import (
	"context"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// PTR checks the reverse DNS of ip: pass when it is forward-confirmed (some
// A/AAAA record of one of its PTR names is ip again), fail when it has PTR
// names none of which leads back, none without PTR records, temperror when
// DNS failed. Names holds the PTR names.
func PTR(ctx context.Context, r dnsclient.Resolver, ip string) Check {
	return Check{Name: NamePTR, Subject: ip, Result: ResultTempError}
}

// HELO checks the EHLO name: pass when it resolves to ip, fail when it does
// not resolve, resolves elsewhere, or is not a valid host name; an address
// literal ("[192.0.2.1]") passes when it is ip. The detail compares it with
// the PTR names (ptrNames, from PTR) since many receivers want them equal.
func HELO(ctx context.Context, r dnsclient.Resolver, name, ip string, ptrNames []string) Check {
	return Check{Name: NameHELO, Subject: name, Result: ResultTempError}
}
