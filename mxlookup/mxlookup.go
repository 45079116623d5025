// Package mxlookup resolves where mail for a domain goes, as an MTA would:
// MX records by preference (RFC 5321 §5.1), the implicit MX when a domain has
// none, null MX (RFC 7505) as "accepts no mail", and temporary DNS failures
// kept apart from names that do not exist, because an MTA defers on the
// former and bounces on the latter. It also converts internationalised domain
// names to their ASCII form.
package mxlookup

import (
	"context"
	"errors"
	"fmt"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
)

// Sentinel errors returned (wrapped, with the domain name) by Targets. Test
// them with errors.Is.
var (
	// ErrNullMX: the domain publishes a null MX ("0 ." RFC 7505): it
	// states that it accepts no mail at all.
	ErrNullMX = errors.New("domain accepts no mail (null MX, RFC 7505)")
	// ErrNoMailHost: there is nowhere to deliver: the domain does not
	// exist, or has neither MX nor A/AAAA records, or its MX records name
	// no usable host.
	ErrNoMailHost = errors.New("no mail host for domain")
	// ErrTemporary: DNS could not answer now (SERVFAIL, timeout, unreachable
	// server). An MTA would queue and retry; nothing is known about the
	// domain yet.
	ErrTemporary = errors.New("temporary DNS failure")
)

// Target is one host to try for a domain's mail.
type Target struct {
	Host       string // MX exchange host (ASCII/punycode, no trailing dot) or the domain itself for implicit MX
	Preference uint16
	Implicit   bool // no MX records: RFC 5321 §5.1 implicit MX (the domain's A/AAAA)
}

// Targets returns the hosts to try for mail to domain, in order.
//
// The domain may be given as a U-label IDN and with a trailing dot; it is
// converted with ToASCII first. MX targets come by ascending preference.
// Hosts of equal preference are first sorted by name and then, when shuffle
// is not nil, shuffled with it, as RFC 5321 §5.1 asks of senders to spread
// load; the order for a given seed therefore does not depend on the order
// the DNS server returned. With shuffle nil the order is fully
// deterministic. A host listed at several preferences is kept once, at its
// best.
//
// Errors: ErrNullMX when the domain's only MX is "." (RFC 7505),
// ErrNoMailHost when the domain does not exist or has no MX and no A/AAAA
// (or MX records naming no valid host), ErrTemporary when DNS failed in a
// way that may pass. All are wrapped with the domain name; the underlying
// *net.DNSError, when there is one, stays reachable with errors.As.
func Targets(ctx context.Context, r Resolver, domain string, shuffle *rand.Rand) ([]Target, error) {
	if r == nil {
		return nil, errors.New("mxlookup: no resolver")
	}
	name, err := ToASCII(domain)
	if err != nil {
		return nil, err
	}
	if _, err := netip.ParseAddr(name); err == nil {
		// An MTA does not look up MX records for a dotted quad; mail to
		// an address needs an address literal, user@[192.0.2.1].
		return nil, fmt.Errorf("%s: %w: an IP address is not a mail domain; use an address literal such as [%s]", name, ErrNoMailHost, name)
	}

	mxs, mxErr := r.LookupMX(ctx, name)
	// net.Resolver returns the well-formed records together with an error
	// when some were malformed; use what is usable.
	if len(mxs) == 0 && mxErr != nil && !isNotFound(mxErr) {
		return nil, fmt.Errorf("%s: %w: MX lookup: %w", name, ErrTemporary, mxErr)
	}
	if len(mxs) > 0 {
		return mxTargets(name, mxs, shuffle)
	}

	// No MX at all: RFC 5321 §5.1 implicit MX, the domain's own address.
	ips, ipErr := r.LookupIP(ctx, "ip", name)
	switch {
	case len(ips) > 0:
		return []Target{{Host: name, Implicit: true}}, nil
	case ipErr != nil && !isNotFound(ipErr):
		return nil, fmt.Errorf("%s: %w: no MX records, and the address lookup for the implicit MX failed: %w", name, ErrTemporary, ipErr)
	}
	cause := mxErr
	if cause == nil {
		cause = ipErr
	}
	if cause != nil {
		return nil, fmt.Errorf("%s: %w: no MX, A or AAAA records (the domain may not exist): %w", name, ErrNoMailHost, cause)
	}
	return nil, fmt.Errorf("%s: %w: no MX, A or AAAA records", name, ErrNoMailHost)
}

// mxTargets orders MX records into targets, recognising null MX.
func mxTargets(domain string, mxs []*net.MX, shuffle *rand.Rand) ([]Target, error) {
	targets := make([]Target, 0, len(mxs))
	var nullMX, invalid int
	seen := map[string]bool{}
	for _, mx := range mxs {
		if mx == nil {
			continue
		}
		host := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		if host == "" {
			// "." : RFC 7505 null MX. A domain that also has real MX
			// records is misconfigured; the real ones still work, so
			// deliver to them as Postfix does.
			nullMX++
			continue
		}
		if !validHost(host) {
			invalid++
			continue
		}
		targets = append(targets, Target{Host: host, Preference: mx.Pref})
	}
	if len(targets) == 0 {
		if nullMX > 0 && invalid == 0 {
			return nil, fmt.Errorf("%s: %w", domain, ErrNullMX)
		}
		// RFC 5321 §5.1: MX records present but none usable is an
		// error, not a reason to fall back to the implicit MX.
		return nil, fmt.Errorf("%s: %w: its MX records name no valid host", domain, ErrNoMailHost)
	}

	slices.SortStableFunc(targets, func(a, b Target) int {
		if a.Preference != b.Preference {
			return int(a.Preference) - int(b.Preference)
		}
		return strings.Compare(a.Host, b.Host)
	})
	deduped := targets[:0]
	for _, t := range targets {
		if !seen[t.Host] {
			seen[t.Host] = true
			deduped = append(deduped, t)
		}
	}
	targets = deduped
	if shuffle != nil {
		for start := 0; start < len(targets); {
			end := start + 1
			for end < len(targets) && targets[end].Preference == targets[start].Preference {
				end++
			}
			group := targets[start:end]
			shuffle.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
			start = end
		}
	}
	return targets, nil
}

// validHost accepts what can appear as an MX exchange: a host name of
// letters, digits, hyphens and underscores in labels of 1-63 octets (some
// real MX hosts carry underscores, and the exchange is used, not judged),
// or an IP address, which misconfigured domains do publish and which MTAs
// such as Postfix still try.
func validHost(host string) bool {
	if len(host) > maxNameOctets {
		return false
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return true
	}
	for label := range strings.SplitSeq(host, ".") {
		if label == "" || len(label) > maxLabelOctets {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// IsTemporary reports whether err is a DNS failure that may pass (SERVFAIL,
// timeout, unreachable server, cancelled lookup), as opposed to a definite
// "no such name". An MTA defers on these.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrTemporary) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		// Like Postfix, treat every DNS error but "not found" as a reason
		// to retry later: REFUSED or a malformed reply is the server's
		// trouble, not an answer about the domain.
		return !dnsErr.IsNotFound
	}
	return false
}

// isNotFound reports whether err says the name (or records of the type
// asked) do not exist.
func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// Resolver is what MX lookup needs from DNS; *dnsclient.Client and
// *net.Resolver satisfy it, and tests fake it.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) ([]*net.MX, error)
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error) // network: "ip", "ip4", "ip6"
}

// NewResolver returns the probe's DNS client (package dnsclient) for
// server, or for the nameservers of /etc/resolv.conf when server is "".
func NewResolver(server string) (Resolver, error) {
	return dnsclient.New(server)
}
