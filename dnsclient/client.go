package dnsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Resolver is what the probe needs from DNS; tests fake it or point a
// Client at an in-process server (see mxlookup/dnstest). *net.Resolver
// satisfies it.
//
// Implementations report a name that does not exist as a *net.DNSError with
// IsNotFound set, and a failure that may go away (SERVFAIL, REFUSED,
// timeout) as a *net.DNSError with IsTemporary or IsTimeout set. A name that
// exists but has no records of the type asked (NODATA) gives an empty
// result and no error.
type Resolver interface {
	LookupMX(ctx context.Context, domain string) ([]*net.MX, error)
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error) // network: "ip", "ip4", "ip6"
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error) // PTR names of an IP address
}

// Query tuning. The per-try timeout is the stub-resolver default of
// resolv.conf(5); three tries over UDP absorb a lost datagram without
// letting one dead server hold a probe for long. The context, when it has a
// deadline, bounds all of this further.
const (
	udpTries      = 3
	tryTimeout    = 2 * time.Second
	ednsUDPSize   = 1232 // DNS Flag Day 2020: avoids IP fragmentation on common paths
	maxCNAMEChain = 8
	// maxLogAnswers bounds the answers kept per logged query: a 64 KiB
	// TXT answer is summarised, not copied into every report.
	maxLogAnswers   = 16
	maxLogAnswerLen = 512
)

// The names of DNS outcomes, as the query log and error texts give them.
// NODATA is a NOERROR answer without records of the type asked.
const (
	RCodeNoError  = "NOERROR"
	RCodeNoData   = "NODATA"
	RCodeNXDomain = "NXDOMAIN"
	RCodeServFail = "SERVFAIL"
	RCodeRefused  = "REFUSED"
	RCodeTimeout  = "TIMEOUT"
	RCodeNetwork  = "NETWORK" // no answer for another reason (refused port, bad reply)
)

// Query is one question the client asked and what came back: the "dns"
// array of the session JSON.
type Query struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Server  string   `json:"server"`
	RCode   string   `json:"rcode"`   // one of the RCode names, or the server's own rcode name
	Answers []string `json:"answers"` // the records of the asked type, in presentation form
	TTL     *uint32  `json:"ttl"`     // the smallest TTL of those records; null without records
	MS      float64  `json:"ms"`
	AD      bool     `json:"ad,omitempty"` // the server set Authenticated Data
	Error   string   `json:"error,omitempty"`
}

// Client is the one exact DNS client of the probe (github.com/miekg/dns):
// every query goes to the configured servers (--dns-server, else the
// nameservers of /etc/resolv.conf), NXDOMAIN, NODATA, SERVFAIL, REFUSED and
// timeouts are told apart, and every query is logged for the report.
//
// It is written on miekg/dns rather than net.Resolver because the standard
// resolver hides the rcode (SERVFAIL and NXDOMAIN both read "no such
// host" through cgo), cannot be pointed at one server portably, and keeps
// no record of what it asked.
type Client struct {
	servers []string // host:port, tried in order on transport failures
	hosts   *hostsFile

	mu  sync.Mutex
	log []Query
}

// New returns a client sending every query to server ("host:port" or
// "host", default port 53; IPv6 in brackets, or bare when no port is
// given). With server == "" it uses the nameservers of /etc/resolv.conf
// (127.0.0.1 when there are none, as the C library does) and answers names
// of /etc/hosts from that file first, as the system resolver would.
func New(server string) (*Client, error) {
	if server != "" {
		addr, err := serverAddress(server)
		if err != nil {
			return nil, err
		}
		return &Client{servers: []string{addr}}, nil
	}
	return fromSystemFiles("/etc/resolv.conf", "/etc/hosts"), nil
}

// fromSystemFiles is the default client, from a resolv.conf and a hosts
// file (tests give their own).
func fromSystemFiles(resolvConf, hosts string) *Client {
	c := &Client{hosts: loadHosts(hosts)}
	if conf, err := dns.ClientConfigFromFile(resolvConf); err == nil {
		for _, s := range conf.Servers {
			if addr, err := serverAddress(s); err == nil {
				c.servers = append(c.servers, addr)
			}
		}
	}
	if len(c.servers) == 0 {
		c.servers = []string{"127.0.0.1:53"}
	}
	return c
}

// NewResolver is New as a Resolver.
func NewResolver(server string) (Resolver, error) {
	c, err := New(server)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Servers are the name servers the client asks, in order.
func (c *Client) Servers() []string { return append([]string(nil), c.servers...) }

// Queries returns a copy of every query made so far, in the order they
// finished.
func (c *Client) Queries() []Query {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Query(nil), c.log...)
}

func (c *Client) record(q Query) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, q)
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

// LookupMX returns the MX records of domain with exchange hosts as fully
// qualified names (trailing dot), like net.Resolver.
func (c *Client) LookupMX(ctx context.Context, domain string) ([]*net.MX, error) {
	rrs, err := c.lookup(ctx, domain, dns.TypeMX)
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
func (c *Client) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
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
	if ips, ok := localhostAddrs(host, network); ok {
		return ips, nil
	}
	if ips, ok := c.hosts.lookup(host, network); ok && len(ips) > 0 {
		return ips, nil
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
			rrs, err := c.lookup(ctx, host, qt)
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

// LookupTXT returns the TXT records of name, each record's
// character-strings joined (as SPF and DMARC read them).
func (c *Client) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := c.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			var b strings.Builder
			for _, part := range t.Txt {
				b.WriteString(unescapeTXT(part))
			}
			out = append(out, b.String())
		}
	}
	return out, nil
}

// unescapeTXT turns a character-string as miekg/dns keeps it (zone-file
// presentation form: \" for a quote, \\ for a backslash, \DDD for any
// other byte outside printable ASCII) back into the bytes on the wire, which
// is what SPF, DMARC and DKIM records are parsed from.
func unescapeTXT(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b = append(b, s[i])
			continue
		}
		if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
			n := int(s[i+1]-'0')*100 + int(s[i+2]-'0')*10 + int(s[i+3]-'0')
			if n <= 255 {
				b = append(b, byte(n))
				i += 3
				continue
			}
		}
		b = append(b, s[i+1])
		i++
	}
	return string(b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// LookupAddr returns the PTR names of an IP address, fully qualified.
func (c *Client) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "not an IP address", Name: addr}
	}
	rrs, err := c.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, p.Ptr)
		}
	}
	return out, nil
}

// LookupIPAddr is LookupIP("ip") in net.IPAddr form (the shape SPF
// libraries ask for).
func (c *Client) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := c.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, err
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip}
	}
	return out, nil
}

// lookup asks for name/qtype and returns the answer records of that type
// owned by the name or by the end of its CNAME chain. A name that exists
// without such records (NODATA) gives an empty slice and no error.
func (c *Client) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	qname := dns.CanonicalName(name)
	if _, ok := dns.IsDomainName(qname); !ok || qname == "." || strings.ContainsAny(qname, " \t\r\n\x00") {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name}
	}
	for range maxCNAMEChain {
		resp, server, err := c.exchange(ctx, qname, qtype)
		if err != nil {
			return nil, err
		}
		answer, next := followAnswer(resp.Answer, qname, qtype)
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			// With a CNAME in the answer the NXDOMAIN is about the
			// target, which is still "not found" for the asked name.
			return nil, &net.DNSError{Err: RCodeNXDomain + " (no such name)", Name: name, Server: server, IsNotFound: true}
		default:
			return nil, &net.DNSError{
				Err:         rcodeName(resp.Rcode) + " (the server could not answer)",
				Name:        name,
				Server:      server,
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
	return nil, &net.DNSError{Err: "CNAME chain too long", Name: name, IsTemporary: true}
}

func rcodeName(rcode int) string {
	if n, ok := dns.RcodeToString[rcode]; ok {
		return n
	}
	return "RCODE" + strconv.Itoa(rcode)
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

// exchange sends one query to the first server that answers (the next
// one only on a transport failure), over UDP first and over TCP when the
// UDP answer is truncated, and logs it. Transport failures become temporary
// *net.DNSError values so that callers defer as an MTA would.
func (c *Client) exchange(ctx context.Context, qname string, qtype uint16) (*dns.Msg, string, error) {
	msg := new(dns.Msg)
	msg.SetQuestion(qname, qtype)
	msg.RecursionDesired = true
	msg.SetEdns0(ednsUDPSize, false)

	var lastErr error
	server := c.servers[0]
	for _, server = range c.servers {
		start := time.Now()
		resp, err := c.exchangeServer(ctx, server, msg)
		c.record(logEntry(qname, qtype, server, resp, err, time.Since(start)))
		if err == nil {
			return resp, server, nil
		}
		lastErr = err
		if ctxErr(ctx) != nil {
			break
		}
	}
	dnsErr := &net.DNSError{
		Err:         RCodeNetwork + ": " + lastErr.Error(),
		Name:        strings.TrimSuffix(qname, "."),
		Server:      server,
		IsTemporary: true,
	}
	var nerr net.Error
	if errors.As(lastErr, &nerr) && nerr.Timeout() {
		dnsErr.IsTimeout = true
		dnsErr.Err = RCodeTimeout + ": " + lastErr.Error()
	}
	if cerr := ctxErr(ctx); cerr != nil {
		dnsErr.IsTimeout = dnsErr.IsTimeout || errors.Is(cerr, context.DeadlineExceeded)
		dnsErr.UnwrapErr = cerr
	}
	return nil, server, dnsErr
}

// exchangeServer asks one server, retrying a lost datagram.
func (c *Client) exchangeServer(ctx context.Context, server string, msg *dns.Msg) (*dns.Msg, error) {
	var lastErr error
	for range udpTries {
		resp, err := c.exchangeOnce(ctx, server, "udp", msg)
		if err == nil && resp.Truncated {
			resp, err = c.exchangeOnce(ctx, server, "tcp", msg)
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
	return nil, lastErr
}

// logEntry describes one exchange for the query log.
func logEntry(qname string, qtype uint16, server string, resp *dns.Msg, err error, took time.Duration) Query {
	q := Query{Name: strings.TrimSuffix(qname, "."), Type: dns.TypeToString[qtype], Server: server, MS: float64(took.Microseconds()) / 1000, Answers: []string{}}
	if err != nil {
		q.RCode = RCodeNetwork
		var nerr net.Error
		if errors.As(err, &nerr) && nerr.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			q.RCode = RCodeTimeout
		}
		q.Error = err.Error()
		return q
	}
	q.RCode = rcodeName(resp.Rcode)
	q.AD = resp.AuthenticatedData
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != qtype && h.Rrtype != dns.TypeCNAME {
			continue
		}
		if q.TTL == nil || h.Ttl < *q.TTL {
			ttl := h.Ttl
			q.TTL = &ttl
		}
		if len(q.Answers) < maxLogAnswers {
			text := strings.TrimPrefix(rr.String(), h.String())
			if len(text) > maxLogAnswerLen {
				text = text[:maxLogAnswerLen] + fmt.Sprintf("... (%d bytes)", len(text))
			}
			q.Answers = append(q.Answers, dns.TypeToString[h.Rrtype]+" "+text)
		}
	}
	if resp.Rcode == dns.RcodeSuccess && len(q.Answers) == 0 {
		q.RCode = RCodeNoData
	}
	return q
}

// exchangeOnce performs a single exchange over network. Cancelling ctx
// interrupts the read, not only its deadline, because the library only
// honours context deadlines.
func (c *Client) exchangeOnce(ctx context.Context, server, network string, msg *dns.Msg) (*dns.Msg, error) {
	if err := ctxErr(ctx); err != nil {
		return nil, err
	}
	client := &dns.Client{Net: network, Timeout: tryTimeout, UDPSize: ednsUDPSize}
	conn, err := client.DialContext(ctx, server)
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

// RCode names the DNS outcome behind a lookup error: NXDOMAIN, SERVFAIL,
// REFUSED (or another rcode the server gave), TIMEOUT, NETWORK; "" for nil
// or an error that is not a DNS answer.
func RCode(err error) string {
	if err == nil {
		return ""
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) {
		return ""
	}
	switch {
	case dnsErr.IsNotFound:
		return RCodeNXDomain
	case dnsErr.IsTimeout:
		return RCodeTimeout
	}
	word, _, _ := strings.Cut(dnsErr.Err, " ")
	word = strings.TrimSuffix(word, ":")
	if word != "" && word == strings.ToUpper(word) {
		return word
	}
	return RCodeNetwork
}

// IsTemporary reports whether err is a DNS failure that may pass (SERVFAIL,
// REFUSED, timeout, unreachable server, cancelled lookup), as opposed to a
// definite "no such name". An MTA defers on these.
func IsTemporary(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
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
