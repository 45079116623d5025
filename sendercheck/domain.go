package sendercheck

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// SenderDomain checks that domain could receive replies and bounces, as
// receivers demand of a sender domain: pass when it exists and has MX
// records or, without them, an address (RFC 5321 §5.1 implicit MX); fail
// when it does not exist, publishes a null MX (RFC 7505), has neither, or
// is not a domain name; temperror when DNS failed.
func SenderDomain(ctx context.Context, r dnsclient.Resolver, domain string) Check {
	c := Check{Name: NameSenderDomain, Subject: domain}
	d, err := fqdn(domain)
	if err != nil {
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The sender domain is not usable: %v.", err)
		return c
	}
	c.Subject = d
	temp := func(err error) Check {
		c.Result = ResultTempError
		var text string
		c.RCode, text = dnsFailure(err)
		c.Detail = fmt.Sprintf("The sender domain %s could not be checked (%s); receivers defer such mail with a 4xx meanwhile.", d, text)
		return c
	}

	mxs, err := r.LookupMX(ctx, d)
	switch {
	case err != nil && isNotFound(err):
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The sender domain %s does not exist (NXDOMAIN): receivers refuse mail from it, as no reply or bounce could reach it.", d)
		return c
	case err != nil:
		return temp(err)
	}
	var hosts []string
	for _, mx := range mxs {
		host := strings.TrimSuffix(mx.Host, ".")
		shown := host
		if shown == "" {
			shown = "." // the null MX's root
		}
		c.Records = append(c.Records, record(d, "MX", fmt.Sprintf("%d %s", mx.Pref, shown)))
		if host != "" {
			hosts = append(hosts, host)
		}
	}
	if len(mxs) > 0 {
		if len(hosts) == 0 {
			c.Result = ResultFail
			c.Detail = fmt.Sprintf("The sender domain %s publishes a null MX (RFC 7505): it declares that it receives no mail, and receivers refuse it as a sender.", d)
			return c
		}
		c.Result = ResultPass
		c.Detail = fmt.Sprintf("The sender domain %s exists and receives mail (MX %s).", d, strings.Join(hosts, ", "))
		return c
	}

	ips, err := r.LookupIP(ctx, "ip", d)
	switch {
	case err != nil && isNotFound(err):
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The sender domain %s does not exist (NXDOMAIN).", d)
		return c
	case err != nil:
		return temp(err)
	case len(ips) == 0:
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The sender domain %s exists but has neither MX nor address records: no reply could reach it, and many receivers refuse it as a sender.", d)
		return c
	}
	var addrs []string
	for _, ip := range ips {
		if a, ok := netip.AddrFromSlice(ip); ok {
			a = a.Unmap()
			addrs = append(addrs, a.String())
			c.Records = append(c.Records, record(d, addrType(a), a.String()))
		}
	}
	c.Result = ResultPass
	c.Detail = fmt.Sprintf("The sender domain %s has no MX but has the address %s, which serves as its mail host (RFC 5321 §5.1); an MX record is better practice.", d, strings.Join(addrs, ", "))
	return c
}
