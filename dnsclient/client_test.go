package dnsclient

import (
	"context"
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

func TestServerAddress(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"127.0.0.1", "127.0.0.1:53"},
		{"127.0.0.1:5353", "127.0.0.1:5353"},
		{"::1", "[::1]:53"},
		{"[::1]", "[::1]:53"},
		{"[::1]:5353", "[::1]:5353"},
		{"2001:db8::53", "[2001:db8::53]:53"},
		{"dns.example", "dns.example:53"},
		{"dns.example:853", "dns.example:853"},
		{"127.0.0.1:0", ""},
		{"127.0.0.1:65536", ""},
		{"127.0.0.1:dns", ""},
		{":53", ""},
		{"[::1", ""},
		{"[nothost]", ""},
		{"[::1]:", ""},
		{"dns example", ""},
		{"127.0.0.1\n", ""},
		{"a:b:c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := serverAddress(tt.in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("serverAddress(%q) = %q, want an error", tt.in, got)
				}
				if !strings.Contains(err.Error(), "DNS server") {
					t.Errorf("error %q does not say what was wrong", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("serverAddress(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
	if _, err := NewResolver("127.0.0.1:0"); err == nil {
		t.Error(`NewResolver("127.0.0.1:0") succeeded`)
	}
}

func FuzzServerAddress(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "[::1]:53", "::1", "dns.example:853", "[::1", ":53", "a:b:c", "[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := serverAddress(in)
		if err != nil {
			return
		}
		host, port, err := net.SplitHostPort(out)
		if err != nil || host == "" {
			t.Fatalf("serverAddress(%q) = %q: not host:port (%v)", in, out, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			t.Fatalf("serverAddress(%q) = %q: bad port", in, out)
		}
		if strings.ContainsFunc(out, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			t.Fatalf("serverAddress(%q) = %q: control character or space", in, out)
		}
	})
}

func TestLookupIP(t *testing.T) {
	addr := dnstest.Start(t, dnstest.Zone{
		"both.test.":    {A: []string{"192.0.2.1", "192.0.2.2"}, AAAA: []string{"2001:db8::1"}},
		"v4.test.":      {A: []string{"192.0.2.4"}},
		"txt.test.":     {TXT: []string{"hello"}},
		"bad.test.":     {ServFail: true},
		"halfbad.test.": {CNAME: "bad.test."},
	})
	r, err := NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		network, host string
		want          []string
		wantNotFound  bool
		wantTemporary bool
	}{
		{network: "ip", host: "both.test", want: []string{"192.0.2.1", "192.0.2.2", "2001:db8::1"}},
		{network: "ip4", host: "both.test.", want: []string{"192.0.2.1", "192.0.2.2"}},
		{network: "ip6", host: "BOTH.test", want: []string{"2001:db8::1"}},
		{network: "ip6", host: "v4.test", want: []string{}},
		{network: "ip", host: "txt.test", want: []string{}},
		{network: "ip", host: "192.0.2.9", want: []string{"192.0.2.9"}},
		{network: "ip6", host: "2001:db8::9", want: []string{"2001:db8::9"}},
		{network: "ip6", host: "192.0.2.9", wantNotFound: true},
		{network: "ip", host: "missing.test", wantNotFound: true},
		{network: "ip", host: "bad.test", wantTemporary: true},
		{network: "ip4", host: "halfbad.test", wantTemporary: true},
	}
	for _, tt := range tests {
		t.Run(tt.network+"/"+tt.host, func(t *testing.T) {
			ips, err := r.LookupIP(context.Background(), tt.network, tt.host)
			if tt.wantNotFound || tt.wantTemporary {
				var dnsErr *net.DNSError
				if !errors.As(err, &dnsErr) || dnsErr.IsNotFound != tt.wantNotFound || IsTemporary(err) != tt.wantTemporary {
					t.Fatalf("LookupIP = %v, %#v; want not-found %v, temporary %v", ips, err, tt.wantNotFound, tt.wantTemporary)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := make([]string, 0, len(ips))
			for _, ip := range ips {
				got = append(got, ip.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("LookupIP = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := r.LookupIP(context.Background(), "tcp", "both.test"); err == nil {
		t.Error("LookupIP with network tcp succeeded")
	}
}

// Cancelling a context without a deadline must end a lookup that would
// otherwise wait for the per-try timeouts.
func TestLookupCancel(t *testing.T) {
	addr := dnstest.Start(t, dnstest.Zone{"silent.test.": {Drop: true}})
	r, err := NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err = r.LookupMX(ctx, "silent.test")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("cancelled lookup took %v", elapsed)
	}
	if !errors.Is(err, context.Canceled) || !IsTemporary(err) {
		t.Errorf("err = %v, want a temporary error wrapping context.Canceled", err)
	}
}

// A port where nothing listens answers with ICMP unreachable: the lookup
// fails at once, temporarily, without waiting for three timeouts.
func TestLookupConnectionRefused(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	r, err := NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = r.LookupMX(context.Background(), "example.test")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("lookup against a closed port took %v", elapsed)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsTemporary || dnsErr.Server != addr {
		t.Errorf("err = %#v, want a temporary *net.DNSError naming %s", err, addr)
	}
}

// A reply that carries the right ID but another question is not an answer.
func TestLookupWrongQuestion(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			req := new(dns.Msg)
			if req.Unpack(buf[:n]) != nil {
				continue
			}
			resp := new(dns.Msg)
			resp.SetReply(req)
			resp.Question[0].Name = "other.test."
			resp.Answer = []dns.RR{&dns.MX{Hdr: dns.RR_Header{Name: "other.test.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Preference: 1, Mx: "evil.test."}}
			out, err := resp.Pack()
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(out, from)
		}
	}()
	r, err := NewResolver(pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	mxs, err := r.LookupMX(context.Background(), "example.test")
	if err == nil || !IsTemporary(err) || !strings.Contains(err.Error(), "not the question asked") {
		t.Fatalf("LookupMX = %v, %v; want a temporary error about the question", mxs, err)
	}
}

func TestFollowAnswer(t *testing.T) {
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name     string
		answer   []dns.RR
		qname    string
		qtype    uint16
		wantN    int
		wantNext string
	}{
		{"direct", []dns.RR{rr("a.test. 60 IN MX 10 mx.a.test.")}, "a.test.", dns.TypeMX, 1, ""},
		{"owner case differs", []dns.RR{rr("A.Test. 60 IN MX 10 mx.a.test.")}, "a.test.", dns.TypeMX, 1, ""},
		{"chain complete", []dns.RR{rr("a.test. 60 IN CNAME b.test."), rr("b.test. 60 IN A 192.0.2.1")}, "a.test.", dns.TypeA, 1, ""},
		{"chain out of order", []dns.RR{rr("c.test. 60 IN A 192.0.2.1"), rr("b.test. 60 IN CNAME c.test."), rr("a.test. 60 IN CNAME b.test.")}, "a.test.", dns.TypeA, 1, ""},
		{"chain incomplete", []dns.RR{rr("a.test. 60 IN CNAME b.other.")}, "a.test.", dns.TypeA, 0, "b.other."},
		{"records for an unrelated name ignored", []dns.RR{rr("x.test. 60 IN A 192.0.2.1")}, "a.test.", dns.TypeA, 0, ""},
		{"CNAME loop", []dns.RR{rr("a.test. 60 IN CNAME b.test."), rr("b.test. 60 IN CNAME a.test.")}, "a.test.", dns.TypeA, 0, ""},
		{"CNAME asked for", []dns.RR{rr("a.test. 60 IN CNAME b.test.")}, "a.test.", dns.TypeCNAME, 1, ""},
		{"other class ignored", []dns.RR{rr("a.test. 60 CH A 192.0.2.1")}, "a.test.", dns.TypeA, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, next := followAnswer(tt.answer, tt.qname, tt.qtype)
			if len(got) != tt.wantN || next != tt.wantNext {
				t.Errorf("followAnswer = %v, %q; want %d records, next %q", got, next, tt.wantN, tt.wantNext)
			}
		})
	}
}

// FuzzFollowAnswer feeds arbitrary DNS messages, as a hostile server could
// send them, to the answer walker: it must end and return only records of
// the asked type.
func FuzzFollowAnswer(f *testing.F) {
	seed := new(dns.Msg)
	seed.SetQuestion("a.test.", dns.TypeMX)
	for _, s := range []string{"a.test. 60 IN CNAME b.test.", "b.test. 60 IN CNAME a.test.", "b.test. 60 IN MX 0 .", "a.test. 60 IN MX 10 mx.test."} {
		r, err := dns.NewRR(s)
		if err != nil {
			f.Fatal(err)
		}
		seed.Answer = append(seed.Answer, r)
	}
	packed, err := seed.Pack()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(packed)
	f.Fuzz(func(t *testing.T, data []byte) {
		msg := new(dns.Msg)
		if msg.Unpack(data) != nil || len(msg.Question) == 0 {
			return
		}
		q := msg.Question[0]
		got, _ := followAnswer(msg.Answer, dns.CanonicalName(q.Name), q.Qtype)
		for _, rr := range got {
			if rr.Header().Rrtype != q.Qtype {
				t.Fatalf("followAnswer returned %v for a %s question", rr, dns.TypeToString[q.Qtype])
			}
		}
	})
}
