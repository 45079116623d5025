package sendercheck

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"

	"github.com/miekg/dns"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// maxPTRNames bounds the PTR names followed forward, as RFC 7208 §5.5 does
// for the same walk: an address with hundreds of PTR records (shared
// hosting) must not cost hundreds of queries.
const maxPTRNames = 10

// PTR checks the reverse DNS of ip: pass when it is forward-confirmed (some
// A/AAAA record of one of its PTR names is ip again), fail when it has PTR
// names none of which leads back, none without PTR records, temperror when
// DNS failed, permerror when ip is not an IP address. Names holds the PTR
// names.
//
// FCrDNS is written here by hand because no library in the module makes
// it: the SPF library's ptr walk answers a different question (is some
// validated name under a domain) and hides the names it found.
func PTR(ctx context.Context, r dnsclient.Resolver, ip string) Check {
	c := Check{Name: NamePTR, Subject: ip, IP: ip}
	addr, err := parseIP(ip)
	if err != nil {
		c.Result = ResultPermError
		c.Detail = fmt.Sprintf("No reverse DNS check: %v.", err)
		return c
	}
	ip = addr.String()
	c.Subject, c.IP = ip, ip
	rev, _ := dns.ReverseAddr(ip) // cannot fail for a parsed address

	names, err := r.LookupAddr(ctx, ip)
	switch {
	case err != nil && isNotFound(err):
		c.Result = ResultNone
		c.Detail = fmt.Sprintf("%s has no reverse DNS (NXDOMAIN for %s): many receivers refuse mail from an address without a PTR record.", ip, strings.TrimSuffix(rev, "."))
		return c
	case err != nil:
		c.Result = ResultTempError
		var text string
		c.RCode, text = dnsFailure(err)
		c.Detail = fmt.Sprintf("The reverse DNS of %s could not be read (%s); try again, or ask another resolver with --dns-server.", ip, text)
		return c
	case len(names) == 0:
		c.Result = ResultNone
		c.Detail = fmt.Sprintf("%s has no PTR record (%s exists without one): many receivers refuse mail from an address without reverse DNS.", ip, strings.TrimSuffix(rev, "."))
		return c
	}
	names = fqdnList(names)
	c.Names = names
	for _, n := range names {
		c.Records = append(c.Records, record(rev, "PTR", n))
	}

	// Follow each name forward; one that leads back is enough.
	var tempFailures, elsewhere, unresolved []string
	for _, name := range names[:min(len(names), maxPTRNames)] {
		if _, err := normDomain(name); err != nil {
			unresolved = append(unresolved, fmt.Sprintf("%q is not a valid host name", name))
			continue
		}
		ips, err := r.LookupIP(ctx, family(addr), name)
		if err != nil {
			if isNotFound(err) {
				unresolved = append(unresolved, name+" does not exist (NXDOMAIN)")
				continue
			}
			_, text := dnsFailure(err)
			tempFailures = append(tempFailures, name+": "+text)
			continue
		}
		var got []string
		for _, fwd := range ips {
			a, ok := netip.AddrFromSlice(fwd)
			if !ok {
				continue
			}
			a = a.Unmap()
			c.Records = append(c.Records, record(name, addrType(a), a.String()))
			got = append(got, a.String())
			if a == addr {
				c.Result = ResultPass
				c.Detail = fmt.Sprintf("%s has the PTR name %s, which resolves back to %s (forward-confirmed reverse DNS).", ip, name, ip)
				if looksGeneric(name, addr) {
					c.Detail += " The name looks generic (it contains the address), which receivers often take for a dynamic or residential address; a mail server should have a name of its own."
				}
				return c
			}
		}
		if len(got) == 0 {
			unresolved = append(unresolved, fmt.Sprintf("%s has no %s record", name, addrType(addr)))
		} else {
			elsewhere = append(elsewhere, fmt.Sprintf("%s resolves to %s", name, strings.Join(got, ", ")))
		}
	}
	if len(tempFailures) > 0 {
		c.Result = ResultTempError
		c.Detail = fmt.Sprintf("%s has the PTR name %s, but its forward lookup failed (%s), so it could not be confirmed.", ip, strings.Join(names, ", "), strings.Join(tempFailures, "; "))
		return c
	}
	c.Result = ResultFail
	c.Detail = fmt.Sprintf("%s has the PTR name %s, but it does not lead back to %s (%s): receivers that demand forward-confirmed reverse DNS refuse it.",
		ip, strings.Join(names, ", "), ip, strings.Join(append(elsewhere, unresolved...), "; "))
	return c
}

// genericWords are the name parts that ISPs put in the PTR names of
// dynamic, residential or unnamed addresses, and that receivers (Spamhaus
// PBL policy, Gmail, GMX) read as "not a mail server".
var genericWords = regexp.MustCompile(`(?i)(^|[.-])(dyn|dynamic|dhcp|dsl|adsl|vdsl|xdsl|cable|pool|ppp|pppoe|dialup|dial-up|client|customer|cust|residential|broadband|unassigned)[0-9-]*([.-]|$)`)

// looksGeneric reports whether a PTR name is one an ISP generates for any
// address: it contains the address's octets, or dynamic/residential words.
func looksGeneric(name string, ip netip.Addr) bool {
	if ip.Is4() {
		b := ip.As4()
		digits := fmt.Sprintf("%d.%d.%d.%d", b[0], b[1], b[2], b[3])
		rev := fmt.Sprintf("%d.%d.%d.%d", b[3], b[2], b[1], b[0])
		flat := strings.NewReplacer("-", ".", "_", ".", "x", ".").Replace(strings.ToLower(name))
		if strings.Contains(flat, digits) || strings.Contains(flat, rev) {
			return true
		}
	}
	return genericWords.MatchString(name)
}

// HELO checks the EHLO name: pass when it resolves to ip, fail when it does
// not resolve, resolves elsewhere, or is not a fully qualified host name; an
// address literal ("[192.0.2.1]") passes when it is ip. The detail compares
// it with the PTR names (ptrNames, from PTR) since many receivers want them
// equal. With ip "" it only checks that the name resolves. Names holds the
// addresses the name resolves to.
func HELO(ctx context.Context, r dnsclient.Resolver, name, ip string, ptrNames []string) Check {
	c := Check{Name: NameHELO, Subject: name}
	var addr netip.Addr
	if ip != "" {
		a, err := parseIP(ip)
		if err != nil {
			c.Result = ResultPermError
			c.Detail = fmt.Sprintf("No EHLO name check: %v.", err)
			return c
		}
		addr = a
		c.IP = a.String()
	}
	trimmed := strings.TrimSpace(name)
	switch {
	case trimmed == "":
		c.Result = ResultFail
		c.Detail = "No EHLO name was given; RFC 5321 requires the client's fully qualified host name or an address literal."
		return c
	case strings.HasPrefix(trimmed, "["):
		return heloLiteral(c, trimmed, addr)
	}
	if _, err := netip.ParseAddr(trimmed); err == nil {
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO name %s is a bare IP address; RFC 5321 requires an address literal in brackets ([%s]) or, better, a host name.", trimmed, trimmed)
		return c
	}
	host, err := normDomain(trimmed)
	if err != nil {
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO name is not a valid host name: %v.", err)
		return c
	}
	if !strings.Contains(host, ".") {
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO name %s is not fully qualified; receivers refuse names like localhost or a bare machine name. Use the host name that the PTR record of the sending address gives.", host)
		return c
	}
	network := "ip"
	if addr.IsValid() {
		network = family(addr)
	}
	ips, err := r.LookupIP(ctx, network, host)
	if err != nil {
		if isNotFound(err) {
			c.Result = ResultFail
			c.Detail = fmt.Sprintf("The EHLO name %s does not exist in DNS (NXDOMAIN); receivers that check the EHLO name refuse it.", host) + ptrComparison(host, ptrNames)
			return c
		}
		c.Result = ResultTempError
		var text string
		c.RCode, text = dnsFailure(err)
		c.Detail = fmt.Sprintf("The EHLO name %s could not be resolved (%s).", host, text)
		return c
	}
	var got []string
	match := false
	for _, fwd := range ips {
		a, ok := netip.AddrFromSlice(fwd)
		if !ok {
			continue
		}
		a = a.Unmap()
		got = append(got, a.String())
		c.Records = append(c.Records, record(host, addrType(a), a.String()))
		match = match || a == addr
	}
	c.Names = got
	switch {
	case len(got) == 0:
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO name %s has no address record", host)
		if addr.IsValid() {
			c.Detail += " of " + addrType(addr)
		}
		c.Detail += "; receivers that check the EHLO name refuse it." + ptrComparison(host, ptrNames)
	case !addr.IsValid():
		c.Result = ResultPass
		c.Detail = fmt.Sprintf("The EHLO name %s resolves to %s.", host, strings.Join(got, ", ")) + ptrComparison(host, ptrNames)
	case match:
		c.Result = ResultPass
		c.Detail = fmt.Sprintf("The EHLO name %s resolves to the sending address %s.", host, addr) + ptrComparison(host, ptrNames)
	default:
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO name %s resolves to %s, not to the sending address %s; receivers that check the EHLO name refuse it.", host, strings.Join(got, ", "), addr) + ptrComparison(host, ptrNames)
	}
	return c
}

// heloLiteral judges an address literal given as the EHLO name: valid
// under RFC 5321 §4.1.3, and honest when it is the sending address, but
// refused by many large receivers, which the detail says.
func heloLiteral(c Check, literal string, addr netip.Addr) Check {
	lit, err := parseIP(literal)
	if err != nil || !strings.HasSuffix(literal, "]") {
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO name %s is neither a host name nor a valid address literal.", clip(literal, 80))
		return c
	}
	// RFC 5321 writes IPv6 literals with an "IPv6:" tag.
	if lit.Is6() && !strings.HasPrefix(strings.ToLower(literal), "[ipv6:") {
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO address literal %s lacks the IPv6: tag RFC 5321 requires ([IPv6:%s]).", literal, lit)
		return c
	}
	c.Names = []string{lit.String()}
	switch {
	case addr.IsValid() && lit != addr:
		c.Result = ResultFail
		c.Detail = fmt.Sprintf("The EHLO address literal %s is not the sending address %s.", literal, addr)
	default:
		c.Result = ResultPass
		c.Detail = fmt.Sprintf("The EHLO name is the address literal %s, which RFC 5321 allows; many receivers still refuse a literal and want a host name whose address is the sender's.", literal)
	}
	return c
}

// ptrComparison is the sentence comparing the EHLO name with the PTR
// names: receivers such as GMX and many spam filters want them equal.
func ptrComparison(host string, ptrNames []string) string {
	names := fqdnList(ptrNames)
	switch {
	case len(names) == 0:
		return ""
	case slices.Contains(names, host):
		return " It is also the PTR name of the address."
	default:
		return fmt.Sprintf(" It differs from the PTR name %s; some receivers want the two equal.", strings.Join(names, ", "))
	}
}
