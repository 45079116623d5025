package sendercheck

import (
	"context"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// DNSBL looks ip up in the DNS blocklist zone: listed (Answers, Reason from
// the TXT record, DelistURL), not-listed, refused (the list answered with an
// error code such as Spamhaus's 127.255.255.254 for queries from a public
// resolver, or the server refused: never a listing), or temperror.
func DNSBL(ctx context.Context, r dnsclient.Resolver, zone, ip string) Check {
	return Check{Name: NameDNSBL, Subject: zone, Result: ResultTempError}
}

// DefaultDNSBLZones are the common public IP blocklists the probe checks
// when the user names none.
func DefaultDNSBLZones() []string {
	return []string{"zen.spamhaus.org", "b.barracudacentral.org", "bl.spamcop.net", "psbl.surriel.com"}
}
