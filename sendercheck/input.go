package sendercheck

import (
	"context"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// Input says what Run checks.
type Input struct {
	IP             string   // the probe's source address, as it connected
	ReportedIP     string   // the address the server says it saw (ReportedIP of its reply); preferred over IP when set, as NAT may hide the real one
	EHLOName       string   // the name the probe gave in EHLO/HELO
	MailFromDomain string   // the envelope sender's domain; "" for the null sender (SPF then checks the EHLO name)
	FromDomain     string   // the From: header's domain (DMARC)
	Zones          []string // DNSBL zones; nil: DefaultDNSBLZones
	// Checks names the checks to make (NamePTR, ...); empty: every check
	// the input allows. NameDKIMKey is not made here (see dkimsign).
	Checks []string
}

// Run makes the checks the input allows, concurrently but at most a few at
// a time, each bounded by ctx, and returns them in a fixed order: ptr,
// helo, spf, dmarc, sender-domain, then one dnsbl per zone.
func Run(ctx context.Context, r dnsclient.Resolver, in Input) []Check {
	return nil
}
