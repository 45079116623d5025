package dnstest_test

import (
	"context"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

func query(t *testing.T, addr, network, name string, qtype uint16, edns bool) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network}
	resp, _, err := c.Exchange(m, addr)
	if err != nil {
		t.Fatalf("query %s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return resp
}

func TestServerAnswers(t *testing.T) {
	longSPF := "v=spf1 " + strings.Repeat("ip4:192.0.2.0/24 ", 30) + "-all"
	srv := dnstest.NewServer(t, dnstest.Zone{
		"Example.Test": {
			A:    []string{"192.0.2.1"},
			AAAA: []string{"2001:db8::1"},
			MX:   []dnstest.MX{{Preference: 10, Host: "mx.example.test"}},
			TXT:  []string{longSPF, `quote " and \ backslash`},
		},
		"null.test.":                          {MX: dnstest.NullMX()},
		"www.example.test.":                   {CNAME: "example.test"},
		dnstest.ReverseName(t, "192.0.2.1"):   {PTR: []string{"mx.example.test"}},
		dnstest.ReverseName(t, "2001:db8::1"): {PTR: []string{"mx6.example.test."}},
		"_submission._tcp.example.test.":      {RR: []dns.RR{&dns.SRV{Priority: 0, Weight: 1, Port: 587, Target: "mail.example.test."}}},
		"fail.test.":                          {ServFail: true},
		"mx.example.test.":                    {},
		"many.test.":                          {A: manyAddrs(60)},
	})

	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		network   string
		edns      bool
		rcode     int
		wantN     int
		truncated bool
	}{
		{"A", "example.test.", dns.TypeA, "udp", false, dns.RcodeSuccess, 1, false},
		{"AAAA over TCP", "EXAMPLE.test.", dns.TypeAAAA, "tcp", false, dns.RcodeSuccess, 1, false},
		{"MX", "example.test.", dns.TypeMX, "udp", true, dns.RcodeSuccess, 1, false},
		{"null MX", "null.test.", dns.TypeMX, "udp", false, dns.RcodeSuccess, 1, false},
		{"TXT", "example.test.", dns.TypeTXT, "udp", true, dns.RcodeSuccess, 2, false},
		{"CNAME followed in zone", "www.example.test.", dns.TypeA, "udp", false, dns.RcodeSuccess, 2, false},
		{"CNAME asked for", "www.example.test.", dns.TypeCNAME, "udp", false, dns.RcodeSuccess, 1, false},
		{"PTR v4", "1.2.0.192.in-addr.arpa.", dns.TypePTR, "udp", false, dns.RcodeSuccess, 1, false},
		{"SRV from RR", "_submission._tcp.example.test.", dns.TypeSRV, "udp", false, dns.RcodeSuccess, 1, false},
		{"NODATA", "mx.example.test.", dns.TypeA, "udp", false, dns.RcodeSuccess, 0, false},
		{"NXDOMAIN", "nope.example.test.", dns.TypeA, "udp", false, dns.RcodeNameError, 0, false},
		{"SERVFAIL", "fail.test.", dns.TypeMX, "udp", false, dns.RcodeServerFailure, 0, false},
		{"truncated at 512 without EDNS", "many.test.", dns.TypeA, "udp", false, dns.RcodeSuccess, -1, true},
		{"whole over EDNS 4096", "many.test.", dns.TypeA, "udp", true, dns.RcodeSuccess, 60, false},
		{"whole over TCP", "many.test.", dns.TypeA, "tcp", false, dns.RcodeSuccess, 60, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := query(t, srv.Addr, tt.network, tt.qname, tt.qtype, tt.edns)
			if resp.Rcode != tt.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
			}
			if !resp.Authoritative {
				t.Error("answer not authoritative")
			}
			if resp.Truncated != tt.truncated {
				t.Errorf("TC = %v, want %v", resp.Truncated, tt.truncated)
			}
			if tt.wantN >= 0 && len(resp.Answer) != tt.wantN {
				t.Errorf("%d answers, want %d: %v", len(resp.Answer), tt.wantN, resp.Answer)
			}
			resp.Compress = true // as sent: Len is otherwise the uncompressed size
			if tt.truncated && (len(resp.Answer) >= 60 || resp.Len() > dns.MinMsgSize) {
				t.Errorf("truncated answer has %d records, %d octets", len(resp.Answer), resp.Len())
			}
		})
	}

	// The standard library's resolver must read the same zone.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr)
	}}
	ctx := context.Background()
	txts, err := r.LookupTXT(ctx, "example.test")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(txts, longSPF) || !slices.Contains(txts, `quote " and \ backslash`) {
		t.Errorf("LookupTXT = %q, want the long SPF record joined and the quoted one intact", txts)
	}
	names, err := r.LookupAddr(ctx, "192.0.2.1")
	if err != nil || !slices.Equal(names, []string{"mx.example.test."}) {
		t.Errorf("LookupAddr(192.0.2.1) = %v, %v", names, err)
	}
	names, err = r.LookupAddr(ctx, "2001:db8::1")
	if err != nil || !slices.Equal(names, []string{"mx6.example.test."}) {
		t.Errorf("LookupAddr(2001:db8::1) = %v, %v", names, err)
	}
	mxs, err := r.LookupMX(ctx, "null.test")
	if err != nil || len(mxs) != 1 || mxs[0].Host != "." || mxs[0].Pref != 0 {
		t.Errorf("LookupMX(null.test) = %v, %v; want one \"0 .\"", mxs, err)
	}
	ips, err := r.LookupIP(ctx, "ip", "many.test")
	if err != nil || len(ips) != 60 {
		t.Errorf("LookupIP(many.test) = %d addresses, %v; want 60 (retried over TCP)", len(ips), err)
	}

	var sawTCP bool
	for _, q := range srv.Queries() {
		if q.Name == "many.test." && q.Network == "tcp" {
			sawTCP = true
		}
		if q.Name != strings.ToLower(q.Name) {
			t.Errorf("query log name %q not canonical", q.Name)
		}
	}
	if !sawTCP {
		t.Error("query log shows no TCP query for many.test.")
	}
}

func TestServerFormErr(t *testing.T) {
	addr := dnstest.Start(t, dnstest.Zone{"a.test.": {A: []string{"192.0.2.1"}}})
	m := new(dns.Msg)
	m.SetQuestion("a.test.", dns.TypeA)
	m.Question = append(m.Question, dns.Question{Name: "b.test.", Qtype: dns.TypeA, Qclass: dns.ClassINET})
	resp, _, err := new(dns.Client).Exchange(m, addr)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: rcode %s, want FORMERR", dns.RcodeToString[resp.Rcode])
	}
}

func manyAddrs(n int) []string {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = net.IPv4(198, 51, 100, byte(i+1)).String()
	}
	return addrs
}
