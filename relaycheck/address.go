package relaycheck

import (
	"net"
	"strings"

	"github.com/smtpprobe/smtpprobe/probe"
)

// Trick is a recipient address written so that a careless server relays it
// while believing it local (the classic relay tests of the 1990s, which
// open-relay scanners still try).
type Trick struct {
	Check   string // check name
	Address string // the RCPT address
	What    string // how the trick works, for the report
}

// Tricks builds the trick recipients that aim at foreign through domain,
// the server's own domain. A trick that cannot be written for these
// addresses (a quoted local part, say) is left out rather than sent
// malformed.
func Tricks(foreign, domain string) []Trick {
	at := strings.LastIndexByte(foreign, '@')
	if at <= 0 || at == len(foreign)-1 || domain == "" {
		return nil
	}
	user, fdom := foreign[:at], foreign[at+1:]
	all := []Trick{
		{CheckPercentHack, user + "%" + fdom + "@" + domain,
			"the percent hack: a server with allow_percent_hack rewrites user%other@local to user@other and may then relay it"},
		{CheckQuotedLocal, `"` + user + "@" + fdom + `"@` + domain,
			"a quoted local part holding a whole foreign address: a server that unquotes it before routing relays it"},
		{CheckSourceRoute, "@" + domain + ":" + user + "@" + fdom,
			"an RFC 821 source route through this server: RFC 5321 §4.1.1.3 says to ignore the route and route on the mailbox, which is foreign"},
		{CheckBangPath, fdom + "!" + user + "@" + domain,
			"a UUCP bang path: a server with UUCP-style rewriting turns other!user@local into user@other"},
	}
	out := all[:0]
	for _, t := range all {
		if probe.ValidAddress(t.Address) == nil {
			out = append(out, t)
		}
	}
	return out
}

// GuessDomain guesses the mail domain served by host: the host name without
// its first label when it has three or more ("mx1.example.org" serves
// "example.org"), the name itself otherwise, and an address literal for an
// IP address. "" when host is empty or unusable.
func GuessDomain(host string) string {
	h := strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	h = strings.TrimPrefix(h, "IPv6:")
	if h == "" {
		return ""
	}
	if ip := net.ParseIP(h); ip != nil {
		if ip.To4() != nil {
			return "[" + ip.String() + "]"
		}
		return "[IPv6:" + ip.String() + "]"
	}
	if !probe.ValidDomain(h) {
		return ""
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if l == "" {
			return ""
		}
	}
	if len(labels) >= 3 {
		return strings.Join(labels[1:], ".")
	}
	return h
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}
