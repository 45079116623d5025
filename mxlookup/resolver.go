package mxlookup

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Resolver is what the probe needs from DNS; tests fake it or point it at an
// in-process server (see mxlookup/dnstest). *net.Resolver satisfies it.
//
// Implementations report a name that does not exist as a *net.DNSError with
// IsNotFound set, and a failure that may go away (SERVFAIL, timeout, no
// answer) as a *net.DNSError with IsTemporary or IsTimeout set. A name that
// exists but has no records of the type asked may be reported either as an
// empty result or as IsNotFound (the standard library does the latter).
type Resolver interface {
	LookupMX(ctx context.Context, domain string) ([]*net.MX, error)
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error) // network: "ip", "ip4", "ip6"
}

// Query tuning for the explicit-server resolver. The per-try timeout is the
// stub-resolver default of resolv.conf(5); three tries over UDP absorb a lost
// datagram without letting one dead server hold a probe for long. The
// context, when it has a deadline, bounds all of this further.
const (
	udpTries      = 3
	tryTimeout    = 2 * time.Second
	ednsUDPSize   = 1232 // DNS Flag Day 2020: avoids IP fragmentation on common paths
	maxCNAMEChain = 8
)

// NewResolver returns the system resolver when server == "", else a
// resolver that sends every query to server ("host:port" or "host", default
// port 53; IPv6 in brackets, or bare when no port is given) with
// github.com/miekg/dns: UDP with EDNS0, retried over TCP when the answer is
// truncated, every exchange bounded by the caller's context.
func NewResolver(server string) (Resolver, error) {
	if server == "" {
		return net.DefaultResolver, nil
	}
	addr, err := serverAddress(server)
	if err != nil {
		return nil, err
	}
	return &dnsResolver{server: addr}, nil
}

// serverAddress normalises a DNS server given by the user to host:port.
func serverAddress(server string) (string, error) {
	if strings.ContainsFunc(server, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("invalid DNS server %q: contains spaces or control characters", server)
	}
	// A bare IPv6 address has colons but no port; SplitHostPort would
	// misread it, so recognise it first.
	// A zone (fe80::1%eth0) is an interface name: brackets or colons in it
	// would make an address that cannot be split again.
	badZone := func(ip netip.Addr) bool { return strings.ContainsAny(ip.Zone(), "[]:%/") }
	if ip, err := netip.ParseAddr(server); err == nil {
		if badZone(ip) {
			return "", fmt.Errorf("invalid DNS server %q: bad IPv6 zone", server)
		}
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	if strings.HasPrefix(server, "[") && strings.HasSuffix(server, "]") {
		ip, err := netip.ParseAddr(server[1 : len(server)-1])
		if err != nil {
			return "", fmt.Errorf("invalid DNS server %q: %w", server, err)
		}
		if badZone(ip) {
			return "", fmt.Errorf("invalid DNS server %q: bad IPv6 zone", server)
		}
		return net.JoinHostPort(ip.String(), "53"), nil
	}
	host, port, err := net.SplitHostPort(server)
	if err != nil {
		// No port: the whole string is the host.
		host, port = server, "53"
		if strings.ContainsAny(host, "[]:") {
			return "", fmt.Errorf("invalid DNS server %q: %w", server, err)
		}
	}
	if host == "" {
		return "", fmt.Errorf("invalid DNS server %q: empty host", server)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("invalid DNS server %q: port %q is not a number from 1 to 65535", server, port)
	}
	return net.JoinHostPort(host, port), nil
}

// dnsResolver sends every query to one server and does no recursion of its
// own beyond following CNAME chains the server leaves incomplete.
type dnsResolver struct {
	server string
}

// LookupMX returns the MX records of domain with exchange hosts as fully
// qualified names (trailing dot), like net.Resolver.
func (r *dnsResolver) LookupMX(ctx context.Context, domain string) ([]*net.MX, error) {
	rrs, err := r.lookup(ctx, domain, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	mxs := make([]*net.MX, 0, len(rrs))
	for _, rr := range rrs {
		if mx, ok := rr.(*dns.MX); ok {
			mxs = append(mxs, &net.MX{Host: mx.Mx, Pref: mx.Preference})
		}
	}
	return mxs, nil
}

// LookupIP returns the addresses of host; network "ip" asks for both A and
// AAAA and returns what either gave, failing only when neither did.
func (r *dnsResolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	var qtypes []uint16
	switch network {
	case "ip":
		qtypes = []uint16{dns.TypeA, dns.TypeAAAA}
	case "ip4":
		qtypes = []uint16{dns.TypeA}
	case "ip6":
		qtypes = []uint16{dns.TypeAAAA}
	default:
		return nil, fmt.Errorf("lookup %s: unknown network %q (want ip, ip4 or ip6)", host, network)
	}
	// An IP literal needs no query, as with net.Resolver.
	if addr, err := netip.ParseAddr(strings.TrimSuffix(host, ".")); err == nil && addr.Zone() == "" {
		if (network == "ip4" && !addr.Unmap().Is4()) || (network == "ip6" && addr.Unmap().Is4()) {
			return nil, &net.DNSError{Err: "no suitable address", Name: host, IsNotFound: true}
		}
		return []net.IP{addr.AsSlice()}, nil
	}

	type result struct {
		rrs []dns.RR
		err error
	}
	results := make([]chan result, len(qtypes))
	for i, qt := range qtypes {
		results[i] = make(chan result, 1)
		go func() {
			rrs, err := r.lookup(ctx, host, qt)
			results[i] <- result{rrs, err}
		}()
	}
	var ips []net.IP
	var errs []error
	for _, ch := range results {
		res := <-ch
		if res.err != nil {
			errs = append(errs, res.err)
			continue
		}
		for _, rr := range res.rrs {
			switch v := rr.(type) {
			case *dns.A:
				ips = append(ips, v.A)
			case *dns.AAAA:
				ips = append(ips, v.AAAA)
			}
		}
	}
	if len(ips) > 0 || len(errs) == 0 {
		return ips, nil
	}
	// Prefer reporting a temporary failure over "not found": if one family
	// failed temporarily the name may well have addresses.
	for _, err := range errs {
		if IsTemporary(err) {
			return nil, err
		}
	}
	return nil, errs[0]
}

// lookup asks for name/qtype and returns the answer records of that type
// owned by the name or by the end of its CNAME chain. A name that exists
// without such records gives an empty slice and no error.
func (r *dnsResolver) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	qname := dns.CanonicalName(name)
	if _, ok := dns.IsDomainName(qname); !ok || qname == "." {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name}
	}
	for range maxCNAMEChain {
		resp, err := r.exchange(ctx, qname, qtype)
		if err != nil {
			return nil, err
		}
		answer, next := followAnswer(resp.Answer, qname, qtype)
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			// With a CNAME in the answer the NXDOMAIN is about the
			// target, which is still "not found" for the asked name.
			return nil, &net.DNSError{Err: "no such host (NXDOMAIN)", Name: name, Server: r.server, IsNotFound: true}
		default:
			return nil, &net.DNSError{
				Err:         "server answered " + dns.RcodeToString[resp.Rcode],
				Name:        name,
				Server:      r.server,
				IsTemporary: true,
			}
		}
		if len(answer) > 0 || next == "" {
			return answer, nil
		}
		// The answer ended in a CNAME whose target the server did not
		// resolve (it is out of its zone); ask for the target.
		qname = next
	}
	return nil, &net.DNSError{Err: "CNAME chain too long", Name: name, Server: r.server, IsTemporary: true}
}

// followAnswer walks the CNAME chain from qname through the answer section
// and returns the qtype records at its end. next is the final CNAME target
// when the chain leaves the answer without reaching such records.
func followAnswer(answer []dns.RR, qname string, qtype uint16) (records []dns.RR, next string) {
	owner := qname
	seen := map[string]bool{}
	for !seen[owner] {
		seen[owner] = true
		var target string
		for _, rr := range answer {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, owner) {
				continue
			}
			if h.Rrtype == qtype {
				records = append(records, rr)
			} else if c, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				target = dns.CanonicalName(c.Target)
			}
		}
		if len(records) > 0 {
			return records, ""
		}
		if target == "" {
			// Nothing more in the answer about owner: if we got here
			// through a CNAME, the chain is incomplete and the
			// caller must ask for its end.
			if owner != qname {
				return nil, owner
			}
			return nil, ""
		}
		owner = target
	}
	// A CNAME loop within the answer: nothing usable.
	return nil, ""
}

// exchange sends one query, over UDP first and over TCP when the UDP answer
// is truncated. Transport failures become temporary *net.DNSError values so
// that callers defer as an MTA would.
func (r *dnsResolver) exchange(ctx context.Context, qname string, qtype uint16) (*dns.Msg, error) {
	msg := new(dns.Msg)
	msg.SetQuestion(qname, qtype)
	msg.RecursionDesired = true
	msg.SetEdns0(ednsUDPSize, false)

	var lastErr error
	for range udpTries {
		resp, err := r.exchangeOnce(ctx, "udp", msg)
		if err == nil && resp.Truncated {
			resp, err = r.exchangeOnce(ctx, "tcp", msg)
		}
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if ctxErr(ctx) != nil {
			break
		}
		// Only a lost or unanswered datagram is worth another try; a
		// refused port or a TCP failure will not change in milliseconds.
		var nerr net.Error
		if !errors.As(err, &nerr) || !nerr.Timeout() {
			break
		}
	}
	dnsErr := &net.DNSError{
		Err:         lastErr.Error(),
		Name:        strings.TrimSuffix(qname, "."),
		Server:      r.server,
		IsTemporary: true,
	}
	var nerr net.Error
	if errors.As(lastErr, &nerr) && nerr.Timeout() {
		dnsErr.IsTimeout = true
	}
	if cerr := ctxErr(ctx); cerr != nil {
		dnsErr.IsTimeout = dnsErr.IsTimeout || errors.Is(cerr, context.DeadlineExceeded)
		dnsErr.UnwrapErr = cerr
	}
	return nil, dnsErr
}

// exchangeOnce performs a single exchange over network. Cancelling ctx
// interrupts the read, not only its deadline, because the library only
// honours context deadlines.
func (r *dnsResolver) exchangeOnce(ctx context.Context, network string, msg *dns.Msg) (*dns.Msg, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	client := &dns.Client{Net: network, Timeout: tryTimeout, UDPSize: ednsUDPSize}
	conn, err := client.DialContext(ctx, r.server)
	if err != nil {
		return nil, err // already says "dial udp host:port: ..."
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	resp, _, err := client.ExchangeWithConnContext(ctx, msg, conn)
	if err != nil {
		if cerr := ctxErr(ctx); cerr != nil {
			return nil, fmt.Errorf("no answer over %s: %w", network, cerr)
		}
		return nil, err
	}
	// The library matches the ID only; a reply to another question (a
	// confused or spoofing middlebox) must not be taken as the answer.
	if len(resp.Question) > 0 {
		q := resp.Question[0]
		if !strings.EqualFold(q.Name, msg.Question[0].Name) || q.Qtype != msg.Question[0].Qtype {
			return nil, fmt.Errorf("reply over %s answers %s %s, not the question asked", network, q.Name, dns.TypeToString[q.Qtype])
		}
	}
	return resp, nil
}

// ctxErr is ctx.Err(), but also reports a deadline that has passed before
// the context's timer has fired: socket deadlines are set from the context
// deadline and can expire first, and the error must still say why.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}
