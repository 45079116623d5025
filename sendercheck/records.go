package sendercheck

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// maxRecordLen bounds one record as a check quotes it: a 64 KiB TXT record
// must not be copied whole into every report and terminal.
const maxRecordLen = 512

// record formats one DNS record as checks quote it, like dig's answer
// section without class and TTL: "NAME TYPE VALUE".
func record(name, rtype, value string) string {
	name = strings.TrimSuffix(name, ".")
	if rtype == "TXT" {
		value = strconv.Quote(clip(value, maxRecordLen))
	} else if value != "." && !strings.HasSuffix(value, " .") { // keep the root of a null MX
		value = strings.TrimSuffix(value, ".")
	}
	return name + " " + rtype + " " + value
}

// clip shortens s to at most n bytes (on a rune boundary), saying how long
// it was.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("... (%d bytes)", len(s))
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// parseIP reads an IP address as users and servers write it: bare, in
// brackets, or as an IPv4-mapped IPv6 address (which is the IPv4 address).
// Zones are refused: a link-local scope has no meaning in DNS.
func parseIP(s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
	}
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%q is not an IP address", s)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%q has an IPv6 zone, which DNS cannot look up", s)
	}
	return ip.Unmap(), nil
}

// family is the LookupIP network of ip's family: the forward lookups that
// can confirm it.
func family(ip netip.Addr) string {
	if ip.Is4() {
		return "ip4"
	}
	return "ip6"
}

// addrType is the record type holding ip.
func addrType(ip netip.Addr) string {
	if ip.Is4() {
		return "A"
	}
	return "AAAA"
}

// normDomain returns domain lower-cased without its trailing dot, or an
// error when it is not a host name DNS can be asked about.
func normDomain(domain string) (string, error) {
	d := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(domain), "."))
	if d == "" {
		return "", errors.New("empty domain name")
	}
	if _, ok := dns.IsDomainName(d); !ok || strings.ContainsAny(d, " \t\r\n\x00\"\\/@[]") || strings.HasPrefix(d, ".") || strings.Contains(d, "..") {
		return "", fmt.Errorf("%q is not a domain name", clip(domain, 80))
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return "", fmt.Errorf("%q is an IP address, not a domain name", d)
	}
	return d, nil
}

// fqdn is normDomain for names that must have two labels at least: a
// zone, a sender domain, an SPF domain (RFC 7208 §4.3). A single label
// ("localhost") would be completed by a search list, never meant.
func fqdn(domain string) (string, error) {
	d, err := normDomain(domain)
	if err != nil {
		return "", err
	}
	if !strings.Contains(d, ".") {
		return "", fmt.Errorf("%q is not fully qualified (a single label)", d)
	}
	return d, nil
}

// dnsFailure describes a lookup error for a detail sentence and names its
// rcode: "SERVFAIL", "TIMEOUT", "NXDOMAIN"...
func dnsFailure(err error) (rcode, text string) {
	rcode = dnsclient.RCode(err)
	if rcode == "" {
		rcode = dnsclient.RCodeNetwork
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.Server != "" {
		return rcode, fmt.Sprintf("%s from %s", rcode, dnsErr.Server)
	}
	return rcode, rcode
}

// isNotFound reports whether err is an NXDOMAIN answer.
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// fqdnList lists host names without trailing dots.
func fqdnList(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.ToLower(strings.TrimSuffix(n, ".")))
	}
	return out
}
