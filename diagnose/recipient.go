package diagnose

import (
	"net"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// How the recipient domain relates to the server, as far as the Context
// shows (rules test it with `"when": {"recipient_domain": ...}`).
const (
	rcptUnknown = "unknown" // no recipient domain, or nothing names the server
	rcptOwn     = "own"     // the server is the domain's MX, or shares its registrable domain
	rcptForeign = "foreign" // every name of the server lies outside the recipient's domain
)

// sessionView is what Diagnose derives from the Context, once per call and
// only when a rule asks for it.
type sessionView struct {
	ctx       *Context
	names     string // banner, EHLO name and host name, normalised
	namesDone bool
	rel       string

	// The reply's keywords with its mail addresses blanked, for vendor
	// markers (vendorEvidence); scanned on first use.
	addrFree     keywordHits
	addrFreeDone bool
}

// serverNames returns the server's names as one normalised string, for the
// vendor markers: an MX such as eu-smtp-inbound-1.mimecast.com or a banner
// "220 mx.google.com ESMTP" is evidence of who answered.
func (s *sessionView) serverNames() string {
	if !s.namesDone {
		s.namesDone = true
		c := s.ctx
		if c.Banner != "" || c.ServerName != "" || c.ServerHost != "" {
			s.names = normalize(c.ServerHost+" "+c.ServerName+" "+c.Banner, maxMatchText)
		}
	}
	return s.names
}

// recipientRelation tells whether the recipient domain is the server's own.
//
// The engine cannot know which domains a server receives mail for; what it
// can see is the domain of the refused recipient and the names the server
// goes by (the host the client connected to, the name in its banner and
// EHLO reply). When the client found the server by an MX lookup of the
// recipient domain, the domain is the server's own by definition. When some
// name of the server lies in the recipient's registrable domain
// (mx.example.net for example.net), it very probably is. When every name
// lies elsewhere, the domain is "foreign": that is a signal, not a proof,
// because providers host many domains under their own names (mx.hoster.net
// receiving for example.net), so rules that use it state the doubt and keep
// their confidence low. Without a recipient domain or any server name the
// relation is unknown.
func (s *sessionView) recipientRelation() string {
	if s.rel != "" {
		return s.rel
	}
	s.rel = rcptUnknown
	c := s.ctx
	rd := cleanDomain(c.RecipientDomain)
	if rd == "" {
		return s.rel
	}
	if c.RecipientMX {
		s.rel = rcptOwn
		return s.rel
	}
	rreg := registrable(rd)
	seen := false
	for _, n := range []string{c.ServerHost, c.ServerName, bannerHost(c.Banner)} {
		n = cleanDomain(n)
		if n == "" || !strings.Contains(n, ".") || net.ParseIP(n) != nil {
			continue
		}
		seen = true
		if n == rd || strings.HasSuffix(n, "."+rd) || registrable(n) == rreg {
			s.rel = rcptOwn
			return s.rel
		}
	}
	if seen {
		s.rel = rcptForeign
	}
	return s.rel
}

// cleanDomain lowercases a domain and drops a trailing dot, brackets and
// angle brackets; it returns "" for anything that is not a plain name.
func cleanDomain(d string) string {
	d = strings.ToLower(strings.Trim(strings.TrimSpace(d), "<>[]"))
	d = strings.TrimSuffix(d, ".")
	if d == "" || strings.ContainsAny(d, " @/:") {
		return ""
	}
	return d
}

// registrable returns the registrable domain (example.co.uk for
// mx.example.co.uk), or the name itself when the public suffix list does
// not know it (a single label, a private name).
func registrable(d string) string {
	if r, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return r
	}
	return d
}

// bannerHost returns the host name a banner gives after its code
// ("220 mail.example.org ESMTP OpenSMTPD" gives mail.example.org).
func bannerHost(b string) string {
	if i := strings.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	f := strings.Fields(b)
	if len(f) == 0 {
		return ""
	}
	h := f[0]
	switch {
	case len(h) > 4 && h[3] == '-': // "220-mx.example.org ESMTP"
		return h[4:]
	case len(h) == 3 && len(f) > 1: // "220 mx.example.org ESMTP"
		return f[1]
	}
	return h
}
