package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/dnsreport"
	"github.com/spf13/pflag"
)

const dnsUsage = `Usage: probe dns DOMAIN [--ip IP] [--dkim-selector S] [--dnsbl ZONE]... [--json]

Checks what DOMAIN publishes for mail, without an SMTP session: MX hosts by
preference with their addresses and forward-confirmed reverse DNS, null or
implicit MX, SPF (lookups counted against RFC 7208's limits; the result for
--ip), DMARC, MTA-STS (record and policy over HTTPS), TLS-RPT, the DKIM key
of --dkim-selector, and with --ip its reverse DNS and DNSBL listings.
Exit 0 nothing wrong, 4 problems found, 5 DNS could not answer, 1 usage.
`

func runDNS(ctx context.Context, args []string, io stdio) int {
	fs := pflag.NewFlagSet("probe dns", pflag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {}
	ip := fs.String("ip", "", "a sending IP address: its SPF result, reverse DNS and DNSBL listings")
	selector := fs.String("dkim-selector", "", "the DKIM selector whose key record to check")
	zones := fs.StringArray("dnsbl", nil, "DNSBL zone to check --ip on (repeatable; default: the common public lists)")
	server := fs.String("dns-server", "", "send every DNS query (and the MTA-STS policy host lookup) to this host[:port]")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on the whole check")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeHelp(io.out, dnsUsage, fs)
			return 0
		}
		return usageError(io, err)
	}
	if fs.NArg() != 1 {
		return usageError(io, errors.New("probe dns: give one DOMAIN"))
	}
	if *timeout <= 0 {
		return usageError(io, fmt.Errorf("--timeout %s: must be positive", *timeout))
	}
	r, err := dnsclient.New(*server)
	if err != nil {
		return usageError(io, fmt.Errorf("--dns-server: %w", err))
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	rep, err := dnsreport.Run(ctx, r, dnsreport.Options{Domain: fs.Arg(0), IP: *ip, DKIMSelector: *selector, Zones: *zones})
	if err != nil {
		return usageError(io, err)
	}
	if *jsonOut {
		err = dnsreport.WriteJSON(io.out, rep)
	} else {
		err = dnsreport.WriteText(io.out, rep)
	}
	if err != nil {
		fmt.Fprintf(io.err, "probe: %v\n", err)
		return 1
	}
	return rep.ExitCode
}
