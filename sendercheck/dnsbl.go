package sendercheck

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"sync"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// maxReasonLen bounds the TXT reason quoted from a list: enough for the
// sentences and URL lists put there, not a 64 KiB record.
const maxReasonLen = 300

// DNSBL looks ip up in the DNS blocklist zone (RFC 5782): listed (Answers,
// Reason from the TXT record, DelistURL), not-listed, refused (the list
// answered with an error code such as Spamhaus's 127.255.255.254 for
// queries from a public resolver, the server refused, or the list is
// retired: never a listing), temperror, or permerror when zone or ip cannot
// be looked up.
//
// The query and the reading of answer codes are written here by hand: no
// library in the module knows DNSBLs, and the codes that mean "error, not a
// listing" are per list.
func DNSBL(ctx context.Context, r dnsclient.Resolver, zone, ip string) Check {
	return dnsbl(ctx, r, zone, ip, false)
}

// DNSBLExpectingListing is DNSBL for a list a refusal named: the listing,
// the list's test address and the TXT reason are asked at once, so the
// check costs one round trip when the listing is there, as expected.
func DNSBLExpectingListing(ctx context.Context, r dnsclient.Resolver, zone, ip string) Check {
	return dnsbl(ctx, r, zone, ip, true)
}

func dnsbl(ctx context.Context, r dnsclient.Resolver, zone, ip string, eager bool) Check {
	c := Check{Name: NameDNSBL, Subject: zone, IP: ip}
	z, err := fqdn(zone)
	if err != nil {
		c.Result = ResultPermError
		c.Detail = fmt.Sprintf("No DNSBL lookup: the zone is not usable (%v).", err)
		return c
	}
	c.Subject = z
	addr, err := parseIP(ip)
	if err != nil {
		c.Result = ResultPermError
		c.Detail = fmt.Sprintf("No DNSBL lookup in %s: %v.", z, err)
		return c
	}
	c.IP = addr.String()
	list := knownList(z)
	if list.retired != "" {
		c.Result = ResultRefused
		c.Detail = fmt.Sprintf("%s was not asked: %s, so its answers mean nothing; a receiver still using it should remove it.", z, list.retired)
		return c
	}

	qname := dnsblName(addr, z)
	probe := netip.MustParseAddr("127.0.0.1")
	if addr.Is6() {
		probe = netip.MustParseAddr("::ffff:7f00:1")
	}
	// The RFC 5782 test address and the reason matter only for a listing.
	// Asked after it, they are one query per list when nothing is listed
	// (lists rate-limit); asked with it (eager), they save two round trips
	// when a listing is expected, as after a refusal that names the list.
	var side struct {
		probe    []net.IP
		probeErr error
		txts     []string
		txtErr   error
	}
	fetched := false
	fetch := func() {
		if !fetched {
			fetched = true
			side.probe, side.probeErr = r.LookupIP(ctx, "ip4", dnsblName(probe, z))
			side.txts, side.txtErr = r.LookupTXT(ctx, qname)
		}
	}
	if eager {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); side.probe, side.probeErr = r.LookupIP(ctx, "ip4", dnsblName(probe, z)) }()
		go func() { defer wg.Done(); side.txts, side.txtErr = r.LookupTXT(ctx, qname) }()
		// Waited for on every return, so the query log has them whole.
		defer wg.Wait()
		fetch = wg.Wait
	}
	ips, err := r.LookupIP(ctx, "ip4", qname)
	switch {
	case err != nil && isNotFound(err):
		c.Result = ResultNotListed
		c.Detail = fmt.Sprintf("%s is not listed in %s.", c.IP, z)
		return c
	case err != nil:
		var text string
		c.RCode, text = dnsFailure(err)
		if c.RCode == dnsclient.RCodeRefused {
			c.Result = ResultRefused
			c.Detail = fmt.Sprintf("The server refused to answer for %s (%s): the list may only serve registered resolvers%s; this is not a listing.", z, text, list.registration())
			return c
		}
		c.Result = ResultTempError
		c.Detail = fmt.Sprintf("%s could not be asked about %s (%s); this says nothing about a listing.", z, c.IP, text)
		return c
	case len(ips) == 0:
		// NODATA: the name exists without an A record. Not a listing
		// (RFC 5782 §2.1 lists with A records).
		c.Result = ResultNotListed
		c.Detail = fmt.Sprintf("%s is not listed in %s (the name exists, but without an A record, which is no listing).", c.IP, z)
		return c
	}
	var answers []netip.Addr
	for _, a := range ips {
		if v, ok := netip.AddrFromSlice(a); ok {
			answers = append(answers, v.Unmap())
		}
	}
	for _, a := range answers {
		c.Answers = append(c.Answers, a.String())
		c.Records = append(c.Records, record(qname, addrType(a), a.String()))
	}
	listed, problem := ReadDNSBLAnswer(z, answers)
	if problem != "" {
		c.Result = ResultRefused
		c.Detail = fmt.Sprintf("%s answered %s for %s, an error code and not a listing: %s", z, strings.Join(c.Answers, ", "), c.IP, problem)
		return c
	}

	// RFC 5782 §5: 127.0.0.1 (::FFFF:7F00:1) must never be listed. A
	// list that lists it lists everything: it is dead or wildcarded, and
	// its "listing" of ip means nothing.
	fetch()
	if side.probeErr == nil && len(side.probe) > 0 {
		c.Result = ResultRefused
		c.Detail = fmt.Sprintf("%s lists even its test address 127.0.0.1, which RFC 5782 forbids: the list answers yes to everything (retired or broken), so its answer for %s is not a listing.", z, c.IP)
		return c
	}

	c.Result = ResultListed
	if side.txtErr == nil && len(side.txts) > 0 {
		txts := side.txts
		reason := strings.Join(txts, " ")
		c.Reason = clip(strings.Join(strings.Fields(reason), " "), maxReasonLen)
		for _, t := range txts {
			c.Records = append(c.Records, record(qname, "TXT", t))
		}
		c.DelistURL = firstURL(reason)
	}
	if c.DelistURL == "" {
		c.DelistURL = list.lookupURL(c.IP)
	}
	c.Detail = fmt.Sprintf("%s is listed in %s (%s)", c.IP, z, strings.Join(listed, "; "))
	if c.Reason != "" {
		c.Detail += ": " + c.Reason
	}
	if !strings.HasSuffix(c.Detail, ".") {
		c.Detail += "."
	}
	return c
}

// dnsblName is the name to ask for ip in zone (RFC 5782 §2.1, §2.4): the
// IPv4 octets or the 32 IPv6 nibbles in reverse order, then the zone.
func dnsblName(ip netip.Addr, zone string) string {
	var b strings.Builder
	if ip.Is4() {
		o := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.", o[3], o[2], o[1], o[0])
	} else {
		o := ip.As16()
		const hex = "0123456789abcdef"
		for i := len(o) - 1; i >= 0; i-- {
			b.WriteByte(hex[o[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[o[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(zone)
	return b.String()
}

// ReadDNSBLAnswer reads the A records a list gave for an address. listed
// describes each listing code; problem is non-empty when any answer is an
// error code rather than a listing, and then nothing is a listing: a list
// that says "I will not answer you" has not answered.
//
// Error answers: anything outside 127.0.0.0/8 (RFC 5782 §2.3; a resolver
// that rewrites NXDOMAIN to an advertising page gives these), 127.0.0.1
// (RFC 5782 §5: never a listing; SURBL and URIBL use it to refuse), and
// 127.255.255.0/24 (Spamhaus's return codes for refused queries, also used
// by lists following its lead).
func ReadDNSBLAnswer(zone string, answers []netip.Addr) (listed []string, problem string) {
	list := knownList(strings.ToLower(strings.TrimSuffix(zone, ".")))
	var problems []string
	for _, a := range answers {
		a = a.Unmap()
		switch {
		case !a.Is4() || a.As4()[0] != 127:
			problems = append(problems, fmt.Sprintf("%s is outside 127.0.0.0/8, where lists answer (RFC 5782); the resolver rewrites answers (NXDOMAIN redirection) or the name is not a working list. Ask through a resolver that does not rewrite answers (--dns-server).", a))
		case a == netip.AddrFrom4([4]byte{127, 0, 0, 1}):
			problems = append(problems, "127.0.0.1 is never a listing (RFC 5782 §5); lists such as SURBL and URIBL answer it to say the query was refused, often because it came through a public resolver.")
		case a.As4()[1] == 255 && a.As4()[2] == 255:
			problems = append(problems, spamhausError(a.As4()[3]))
		default:
			listed = append(listed, list.meaning(a))
		}
	}
	if len(problems) > 0 {
		return nil, strings.Join(problems, " ")
	}
	return listed, ""
}

// spamhausError explains Spamhaus's error return codes
// (https://www.spamhaus.org/faqs/dnsbl-usage/#200).
func spamhausError(last byte) string {
	switch last {
	case 252:
		return "127.255.255.252 means a typing error in the list's name."
	case 254:
		return "127.255.255.254 means the query came through a public or open resolver (8.8.8.8, 1.1.1.1, 9.9.9.9 and the like), which Spamhaus does not answer. Ask through your own recursive resolver (--dns-server) or use a Spamhaus DQS key."
	case 255:
		return "127.255.255.255 means the resolver asked too often (rate limit exceeded). Ask through your own recursive resolver or use a Spamhaus DQS key."
	case 250:
		return "127.255.255.250 means the DQS key used is not valid or not allowed for this list."
	}
	return fmt.Sprintf("127.255.255.%d is in the range Spamhaus and others use for error codes, not listings.", last)
}

// firstURL finds the first http(s) URL in a TXT reason, trimmed of the
// punctuation that ends sentences around it.
func firstURL(s string) string {
	m := urlPattern.FindString(s)
	return strings.TrimRight(m, ".,;:)]}>'\"")
}

var urlPattern = regexp.MustCompile(`(?i)https?://[^\s<>"']+`)

// dnsblList is what the probe knows of one list.
type dnsblList struct {
	name     string // the list's name in sentences
	lookup   string // its lookup or delisting page, %s for the IP; "" when unknown
	register string // how to get answers when the list refuses a resolver
	retired  string // why the list must not be asked
	codes    func(netip.Addr) string
}

// knownList returns what the probe knows of zone (the zero value for an
// unknown one). A switch rather than a package map: nothing here changes.
func knownList(zone string) dnsblList {
	switch {
	case zone == "zen.spamhaus.org" || zone == "sbl.spamhaus.org" || zone == "xbl.spamhaus.org" ||
		zone == "pbl.spamhaus.org" || zone == "sbl-xbl.spamhaus.org" || strings.HasSuffix(zone, ".dq.spamhaus.net") || strings.HasSuffix(zone, ".dq.spamhaus.com"):
		return dnsblList{name: "Spamhaus", lookup: "https://check.spamhaus.org/results/?query=%s",
			register: " (Spamhaus answers no public resolver; a free Data Query Service key is at https://www.spamhaus.com/free-trial/free-data-query-service/)",
			codes:    spamhausCode}
	case zone == "b.barracudacentral.org" || zone == "bb.barracudacentral.org":
		return dnsblList{name: "Barracuda", lookup: "https://www.barracudacentral.org/lookups/lookup-reputation",
			register: " (Barracuda answers only resolvers registered at https://www.barracudacentral.org/account/register)"}
	case zone == "bl.spamcop.net":
		return dnsblList{name: "SpamCop", lookup: "https://www.spamcop.net/bl.shtml?%s"}
	case zone == "psbl.surriel.com":
		return dnsblList{name: "PSBL", lookup: "https://psbl.org/listing?ip=%s"}
	case zone == "bl.mailspike.net":
		return dnsblList{name: "Mailspike", lookup: "https://mailspike.org/iplookup.html"}
	case strings.HasPrefix(zone, "dnsbl-") && strings.HasSuffix(zone, ".uceprotect.net"):
		return dnsblList{name: "UCEPROTECT", lookup: "https://www.uceprotect.net/en/rblcheck.php?ipr=%s"}
	case zone == "ix.dnsbl.manitu.net":
		return dnsblList{name: "NiX Spam", lookup: "https://www.dnsbl.manitu.net/lookup.php?value=%s"}
	case strings.HasSuffix(zone, ".spamrats.com"):
		return dnsblList{name: "SpamRATS", lookup: "https://www.spamrats.com/lookup.php?ip=%s", codes: spamratsCode}
	case zone == "sorbs.net" || strings.HasSuffix(zone, ".sorbs.net"):
		return dnsblList{name: "SORBS", retired: "SORBS was shut down by Proofpoint on 5 June 2024 and no longer holds data"}
	case zone == "njabl.org" || strings.HasSuffix(zone, ".njabl.org") || strings.HasSuffix(zone, ".ahbl.org"):
		return dnsblList{name: zone, retired: "this list closed years ago and its domain may answer anything"}
	}
	return dnsblList{name: zone}
}

func (l dnsblList) registration() string { return l.register }

// lookupURL is the list's lookup page for ip, "" when unknown.
func (l dnsblList) lookupURL(ip string) string {
	if !strings.Contains(l.lookup, "%s") {
		return l.lookup
	}
	return fmt.Sprintf(l.lookup, ip)
}

// meaning describes one listing code.
func (l dnsblList) meaning(a netip.Addr) string {
	if l.codes != nil {
		if m := l.codes(a); m != "" {
			return a.String() + ": " + m
		}
	}
	return a.String()
}

// spamhausCode names the Spamhaus ZEN sub-list of a return code
// (https://www.spamhaus.org/faqs/dnsbl-usage/#200).
func spamhausCode(a netip.Addr) string {
	switch a.As4()[3] {
	case 2:
		return "SBL, a known spam source or operation"
	case 3:
		return "SBL CSS, a low-reputation sender (snowshoe)"
	case 4, 5, 6, 7:
		return "XBL, a compromised or infected host"
	case 9:
		return "SBL DROP, a hijacked or criminal network"
	case 10:
		return "PBL (ISP), an end-user range that should not send directly to MX servers"
	case 11:
		return "PBL (Spamhaus), an end-user range that should not send directly to MX servers"
	}
	return ""
}

// spamratsCode names the SpamRATS list of a return code.
func spamratsCode(a netip.Addr) string {
	switch a.As4()[3] {
	case 36:
		return "RATS-Dyna, a dynamic or residential address"
	case 37:
		return "RATS-NoPtr, an address without reverse DNS"
	case 38:
		return "RATS-Spam, a spam source"
	}
	return ""
}

// DefaultDNSBLZones are the public IP blocklists the probe checks when the
// user names none: those that large receivers and common MTA setups use and
// that answer queries from an ordinary recursive resolver of modest volume.
//
// Left out on purpose: SORBS (dnsbl.sorbs.net; shut down in June 2024),
// UCEPROTECT levels 2 and 3 (they list whole networks and providers, not the
// sender), and domain lists (Spamhaus DBL, SURBL, URIBL), which list names,
// not addresses.
func DefaultDNSBLZones() []string {
	return []string{
		"zen.spamhaus.org",       // Spamhaus SBL+CSS+XBL+PBL, the most used list; refuses public resolvers (127.255.255.254)
		"b.barracudacentral.org", // Barracuda Reputation Block List, used by Barracuda appliances; wants a registered resolver
		"bl.spamcop.net",         // SpamCop, from user spam reports; listings expire after 24 hours without new reports
		"psbl.surriel.com",       // Passive Spam Block List, spam-trap hits; self-service removal
		"bl.mailspike.net",       // Mailspike, reputation from traffic; used by many ISPs
		"dnsbl-1.uceprotect.net", // UCEPROTECT level 1, single IPs caught by its traps; expires after 7 days
		"ix.dnsbl.manitu.net",    // NiX Spam (heise iX), common among German receivers
		"all.spamrats.com",       // SpamRATS: dynamic ranges, missing PTR, spam sources; matches ip-reputation refusals
	}
}
