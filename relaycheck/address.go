package relaycheck

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
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
		if ValidAddress(t.Address) == nil {
			out = append(out, t)
		}
	}
	return out
}

// ValidAddress checks an address before it goes on the wire: no control
// characters (they would inject commands), no angle brackets, a non-empty
// local part and domain, spaces only inside a quoted local part.
func ValidAddress(a string) error {
	if a == "" {
		return errors.New("empty address")
	}
	if len(a) > 320 {
		return errors.New("longer than 320 characters")
	}
	for i := 0; i < len(a); i++ {
		if a[i] < 0x20 || a[i] == 0x7f {
			return errors.New("contains CR, LF or another control character")
		}
	}
	if strings.ContainsAny(a, "<>") {
		return errors.New("give the bare address, without < >")
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return errors.New("not an address of the form local@domain")
	}
	local, domain := a[:at], a[at+1:]
	quoted := len(local) >= 2 && local[0] == '"' && local[len(local)-1] == '"'
	if !quoted && strings.ContainsAny(local, " \t\"") {
		return errors.New("space or quote in an unquoted local part")
	}
	if quoted && strings.Contains(local[1:len(local)-1], `"`) {
		return errors.New("quote inside a quoted local part")
	}
	if !validDomain(domain) {
		return fmt.Errorf("bad domain %q", domain)
	}
	return nil
}

// validDomain accepts a host name or an address literal ([192.0.2.1],
// [IPv6:2001:db8::1]).
func validDomain(d string) bool {
	if d == "" || len(d) > 255 || strings.ContainsAny(d, " \t@\"<>\\,;()") {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < 0x20 || d[i] == 0x7f {
			return false
		}
	}
	if strings.HasPrefix(d, "[") || strings.HasSuffix(d, "]") {
		if len(d) < 3 || d[0] != '[' || d[len(d)-1] != ']' {
			return false
		}
		ip := strings.TrimPrefix(d[1:len(d)-1], "IPv6:")
		return net.ParseIP(ip) != nil
	}
	return !strings.ContainsAny(d, "[]:")
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
	if !validDomain(h) {
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

// splitServer reads host, host:port, [v6] or [v6]:port; a port in the
// server string counts only when port is 0, as in probe.
func splitServer(server string, port int) (string, int, error) {
	if server == "" {
		return "", port, nil
	}
	if strings.ContainsAny(server, "\r\n\x00 \t") {
		return "", 0, fmt.Errorf("--server %q: contains whitespace or control characters", server)
	}
	host := server
	if h, p, err := net.SplitHostPort(server); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("--server %q: bad port %q", server, p)
		}
		host = h
		if port == 0 {
			port = n
		}
	} else if strings.HasPrefix(server, "[") && strings.HasSuffix(server, "]") {
		host = server[1 : len(server)-1]
	}
	if host == "" {
		return "", 0, fmt.Errorf("--server %q: no host", server)
	}
	return host, port, nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}
