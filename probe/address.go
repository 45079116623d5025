package probe

import (
	"errors"
	"fmt"
	"net"
	"strings"
)

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
	if strings.HasPrefix(a, "@") {
		// An RFC 5321 source route, "@relay1,@relay2:user@domain": obsolete,
		// but relay checks still send it.
		route, mailbox, ok := strings.Cut(a, ":")
		if !ok {
			return errors.New("source route without ':'")
		}
		for _, hop := range strings.Split(route, ",") {
			if !strings.HasPrefix(hop, "@") || !ValidDomain(hop[1:]) {
				return fmt.Errorf("bad source route %q", route)
			}
		}
		return ValidAddress(mailbox)
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
	if !quoted && strings.ContainsAny(local, " \t\"@") {
		return errors.New("space, quote or @ in an unquoted local part")
	}
	if quoted && strings.Contains(local[1:len(local)-1], `"`) {
		return errors.New("quote inside a quoted local part")
	}
	if !ValidDomain(domain) {
		return fmt.Errorf("bad domain %q", domain)
	}
	return nil
}

// ValidDomain accepts a host name or an address literal ([192.0.2.1],
// [IPv6:2001:db8::1]).
func ValidDomain(d string) bool {
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
