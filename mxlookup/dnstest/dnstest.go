// Package dnstest runs a tiny in-process authoritative DNS server for tests,
// on 127.0.0.1 over UDP and TCP, serving a zone described in a few lines:
//
//	addr := dnstest.Start(t, dnstest.Zone{
//		"example.test.":     {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}},
//		"mx1.example.test.": {A: []string{"192.0.2.10"}},
//		"nomail.test.":      {MX: dnstest.NullMX()},
//		"broken.test.":      {ServFail: true},
//		dnstest.ReverseName(t, "192.0.2.10"): {PTR: []string{"mx1.example.test."}},
//	})
//	r, _ := mxlookup.NewResolver(addr)
//
// Names not in the zone get NXDOMAIN; names in it without records of the
// asked type get an empty NOERROR answer (NODATA). UDP answers larger than
// the client's advertised EDNS0 size (512 octets without EDNS0) are
// truncated with the TC bit set, so clients must retry over TCP as real
// servers force them to. SetDelay makes every answer wait, as a distant
// resolver's do. The server stops when the test ends.
package dnstest

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"
)

// DefaultTTL is the TTL of records built from Records fields.
const DefaultTTL = 300

// maxCNAMEChain bounds how many in-zone CNAMEs one answer follows, so a
// CNAME loop in a test zone cannot hang the server.
const maxCNAMEChain = 8

// Zone maps owner names (case-insensitive; the trailing dot is optional) to
// their records.
type Zone map[string]Records

// MX is one MX record: a preference and an exchange host ("." for null MX).
type MX struct {
	Preference uint16
	Host       string
}

// NullMX returns the RFC 7505 null MX record set: a single "0 .".
func NullMX() []MX { return []MX{{Preference: 0, Host: "."}} }

// Records are the records of one name. Address strings are parsed when the
// server starts; a bad one fails the test there.
type Records struct {
	A     []string // IPv4 addresses
	AAAA  []string // IPv6 addresses
	MX    []MX
	CNAME string   // canonical name; the other fields are then ignored, as DNS requires
	PTR   []string // host names, for names under in-addr.arpa / ip6.arpa (see ReverseName)
	TXT   []string // one TXT record each; strings over 255 octets are split into several character-strings, as for long SPF records
	RR    []dns.RR // any other records, owned by this name whatever their header says

	// ServFail answers every query for this name with SERVFAIL.
	ServFail bool
	// Drop never answers queries for this name, to exercise client timeouts.
	Drop bool
}

// ReverseName returns the PTR owner name of an IP address
// ("192.0.2.1" -> "1.2.0.192.in-addr.arpa."), failing the test on a bad
// address.
func ReverseName(t TB, ip string) string {
	t.Helper()
	name, err := dns.ReverseAddr(ip)
	if err != nil {
		t.Fatalf("dnstest: reverse name of %q: %v", ip, err)
	}
	return name
}

// Query is one question the server received.
type Query struct {
	Name    string // lower-case, fully qualified
	Type    string // "A", "MX", ...
	Network string // "udp" or "tcp"
}

// Server is a running test DNS server.
type Server struct {
	// Addr is the "127.0.0.1:port" address, the same port for UDP and TCP.
	Addr string

	zone map[string][]dns.RR // canonical name -> records; nil slice for marker-only names
	opts map[string]Records  // canonical name -> ServFail/Drop flags

	delay     atomic.Int64  // time.Duration before each answer (SetDelay)
	closed    chan struct{} // closed by Close: delayed answers give up
	closeOnce sync.Once

	mu      sync.Mutex
	queries []Query
	stops   []func()
}

// SetDelay makes the server wait d before each answer it gives from then
// on, over UDP and TCP, whatever the name (NXDOMAIN and SERVFAIL answers
// too), as a resolver some way off does: SetDelay(20*time.Millisecond)
// stands for a 20 ms resolver. Queries are still answered concurrently,
// each after its own wait; 0 (the default) answers at once. It is safe to
// call while clients query; a query already waiting keeps the delay it
// started with. Close does not wait for delayed answers: they are dropped.
func (s *Server) SetDelay(d time.Duration) {
	s.delay.Store(int64(max(d, 0)))
}

// TB is the part of testing.TB the helpers use; testing.TB satisfies it.
// The package does not import "testing", so the demo server of `probe
// demo` can serve its DNS world with Serve.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start starts a server for zone and returns its address ("127.0.0.1:port",
// UDP and TCP). It is stopped by t.Cleanup.
func Start(t TB, zone Zone) string {
	t.Helper()
	return NewServer(t, zone).Addr
}

// NewServer is Start returning the Server, whose Queries show what clients
// asked (to check, say, that a truncated answer was retried over TCP).
func NewServer(t TB, zone Zone) *Server {
	t.Helper()
	s, err := Serve(zone)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// Serve starts a server for zone on a loopback port; Close stops it.
func Serve(zone Zone) (*Server, error) {
	s := &Server{zone: map[string][]dns.RR{}, opts: map[string]Records{}, closed: make(chan struct{})}
	for name, recs := range zone {
		owner := dns.CanonicalName(name)
		if _, ok := dns.IsDomainName(owner); !ok {
			return nil, fmt.Errorf("dnstest: invalid owner name %q", name)
		}
		rrs, err := buildRRs(owner, recs)
		if err != nil {
			return nil, fmt.Errorf("dnstest: %s: %w", name, err)
		}
		s.zone[owner] = append(s.zone[owner], rrs...)
		s.opts[owner] = recs
	}

	pc, ln, err := listenPair()
	if err != nil {
		return nil, err
	}
	s.Addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(s.serveDNS)
	udp := &dns.Server{PacketConn: pc, Handler: handler}
	tcp := &dns.Server{Listener: ln, Handler: handler}
	for _, srv := range []*dns.Server{udp, tcp} {
		started := make(chan struct{})
		srv.NotifyStartedFunc = func() { close(started) }
		done := make(chan error, 1)
		go func() { done <- srv.ActivateAndServe() }()
		stop := func() {
			_ = srv.Shutdown()
			<-done
		}
		select {
		case <-started:
		case err := <-done:
			s.Close()
			return nil, fmt.Errorf("dnstest: server did not start: %w", err)
		case <-time.After(5 * time.Second):
			s.Close()
			return nil, fmt.Errorf("dnstest: server did not start within 5s")
		}
		s.stops = append(s.stops, stop)
	}
	return s, nil
}

// Close stops the server and waits for it.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.mu.Lock()
	stops := s.stops
	s.stops = nil
	s.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

// listenPair opens UDP and TCP listeners on the same loopback port. The UDP
// port is chosen by the kernel; if its TCP twin is taken, try again.
func listenPair() (net.PacketConn, net.Listener, error) {
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, fmt.Errorf("dnstest: listen udp: %w", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln, nil
		}
		lastErr = err
		_ = pc.Close()
	}
	return nil, nil, fmt.Errorf("dnstest: no loopback port free for both UDP and TCP: %w", lastErr)
}

// Queries returns the questions received so far, in arrival order.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// buildRRs turns the simple description of one name into records.
func buildRRs(owner string, recs Records) ([]dns.RR, error) {
	hdr := func(rrtype uint16) dns.RR_Header {
		return dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: DefaultTTL}
	}
	var rrs []dns.RR
	if recs.CNAME != "" {
		return []dns.RR{&dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: dns.CanonicalName(recs.CNAME)}}, nil
	}
	for _, a := range recs.A {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is4() {
			return nil, fmt.Errorf("record A %q is not an IPv4 address", a)
		}
		rrs = append(rrs, &dns.A{Hdr: hdr(dns.TypeA), A: ip.AsSlice()})
	}
	for _, a := range recs.AAAA {
		ip, err := netip.ParseAddr(a)
		if err != nil || !ip.Is6() || ip.Is4In6() {
			return nil, fmt.Errorf("AAAA record %q is not an IPv6 address", a)
		}
		rrs = append(rrs, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip.AsSlice()})
	}
	for _, mx := range recs.MX {
		rrs = append(rrs, &dns.MX{Hdr: hdr(dns.TypeMX), Preference: mx.Preference, Mx: dns.Fqdn(mx.Host)})
	}
	for _, p := range recs.PTR {
		rrs = append(rrs, &dns.PTR{Hdr: hdr(dns.TypePTR), Ptr: dns.Fqdn(p)})
	}
	for _, txt := range recs.TXT {
		rrs = append(rrs, &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(txt)})
	}
	for i, rr := range recs.RR {
		if rr == nil {
			return nil, fmt.Errorf("RR[%d] is nil", i)
		}
		rr = dns.Copy(rr)
		h := rr.Header()
		h.Name = owner
		// Fill what a test writer naturally leaves out of the header.
		if h.Rrtype == 0 {
			h.Rrtype = rrtypeOf(rr)
		}
		if h.Class == 0 {
			h.Class = dns.ClassINET
		}
		if h.Ttl == 0 {
			h.Ttl = DefaultTTL
		}
		rrs = append(rrs, rr)
	}
	return rrs, nil
}

// rrtypeOf finds the type code of a record from its Go type.
func rrtypeOf(rr dns.RR) uint16 {
	want := reflect.TypeOf(rr)
	for code, newRR := range dns.TypeToRR {
		if reflect.TypeOf(newRR()) == want {
			return code
		}
	}
	return dns.TypeNone
}

// splitTXT splits s into character-strings of at most 255 octets (RFC 1035
// §3.3), escaping what the library's presentation format would misread.
func splitTXT(s string) []string {
	var parts []string
	for len(s) > 255 {
		parts = append(parts, escapeTXT(s[:255]))
		s = s[255:]
	}
	return append(parts, escapeTXT(s))
}

// escapeTXT escapes backslashes and quotes: miekg/dns stores TXT strings in
// presentation format and would otherwise pack "\" as an escape.
func escapeTXT(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}

// serveDNS answers one query from the zone.
func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	network := "udp"
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		network = "tcp"
	}
	resp := new(dns.Msg)
	if len(req.Question) != 1 || req.Opcode != dns.OpcodeQuery {
		resp.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	qname := dns.CanonicalName(q.Name)
	s.mu.Lock()
	s.queries = append(s.queries, Query{Name: qname, Type: dns.TypeToString[q.Qtype], Network: network})
	s.mu.Unlock()

	opt := s.opts[qname]
	if opt.Drop {
		return
	}
	if d := time.Duration(s.delay.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-s.closed:
			t.Stop()
			return
		}
	}
	resp.SetReply(req)
	// Authoritative, and recursion "available" so that the Go stub
	// resolver does not take an empty answer for a lame referral.
	resp.Authoritative = true
	resp.RecursionAvailable = true
	switch {
	case opt.ServFail:
		resp.Rcode = dns.RcodeServerFailure
	case q.Qclass != dns.ClassINET:
		resp.Rcode = dns.RcodeRefused
	default:
		s.answer(resp, qname, q.Qtype)
	}

	size := dns.MinMsgSize
	if reqOpt := req.IsEdns0(); reqOpt != nil {
		size = max(int(reqOpt.UDPSize()), dns.MinMsgSize)
		resp.SetEdns0(reqOpt.UDPSize(), false)
	}
	if network == "udp" {
		resp.Truncate(size)
	}
	_ = w.WriteMsg(resp)
}

// answer fills resp for qname/qtype, following in-zone CNAMEs as an
// authoritative server does. A CNAME whose target the zone lacks ends the
// answer without an error, leaving the client to chase the target, as
// happens when it lies in another zone.
func (s *Server) answer(resp *dns.Msg, qname string, qtype uint16) {
	name := qname
	for range maxCNAMEChain {
		rrs, exists := s.zone[name]
		if !exists {
			if name == qname {
				resp.Rcode = dns.RcodeNameError
			}
			return
		}
		var cname *dns.CNAME
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype || qtype == dns.TypeANY {
				resp.Answer = append(resp.Answer, dns.Copy(rr))
			} else if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if cname == nil {
			return
		}
		resp.Answer = append(resp.Answer, dns.Copy(cname))
		name = dns.CanonicalName(cname.Target)
		if s.opts[name].ServFail {
			resp.Rcode = dns.RcodeServerFailure
			return
		}
	}
}
