package dnsreport

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
)

func TestParseSTSPolicy(t *testing.T) {
	good := []struct {
		text string
		want STSPolicy
	}{
		// RFC 8461 §3.2's example.
		{"version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmx: backupmx.example.com\nmax_age: 604800\n",
			STSPolicy{"STSv1", "enforce", []string{"mail.example.com", "*.example.net", "backupmx.example.com"}, 604800}},
		{"version: STSv1\r\nmode: none\r\nmax_age: 86400", STSPolicy{"STSv1", "none", nil, 86400}},
		// Unknown fields are ignored; of repeated ones the first counts.
		{"version:STSv1\nmode: testing\nmode: enforce\nmx: MX.Example.COM\nmax_age: 1\nmax_age: 2\nfuture-field: some value\n",
			STSPolicy{"STSv1", "testing", []string{"mx.example.com"}, 1}},
	}
	for _, tc := range good {
		p, err := ParseSTSPolicy(tc.text)
		if err != nil {
			t.Errorf("%q: %v", tc.text, err)
			continue
		}
		if p.Version != tc.want.Version || p.Mode != tc.want.Mode || !slices.Equal(p.MX, tc.want.MX) || p.MaxAge != tc.want.MaxAge {
			t.Errorf("%q: %+v, want %+v", tc.text, *p, tc.want)
		}
	}
	bad := map[string]string{
		"": "empty",
		"version: STSv1\nmode: strict\nmx: a.example\nmax_age: 1\n":            "mode",
		"version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1\n":           "version",
		"version: STSv1\nmode: enforce\nmax_age: 1\n":                          "no mx",
		"version: STSv1\nmode: enforce\nmx: a.example\n":                       "max_age",
		"mode: enforce\nmx: a.example\nmax_age: 1\n":                           "version",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: -1\n":          "max_age",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 12345678901\n": "max_age",
		"version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 1\n":         "blank",
		"version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n\n":         "blank",
		" version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1\n":          "key",
		"version: STSv1\nmode: enforce\nmx: a.example.\nmax_age: 1\n":          "mx",
		"version: STSv1\nmode: enforce\nmx: *.*.example\nmax_age: 1\n":         "mx",
		"version: STSv1\nmode: enforce\nmx: a_b.example\nmax_age: 1\n":         "mx",
		"version: STSv1\nmode enforce\nmx: a.example\nmax_age: 1\n":            "key: value",
		"<html>404</html>": "key",
	}
	for text, want := range bad {
		if _, err := ParseSTSPolicy(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one mentioning %q", text, err, want)
		}
	}
}

func TestSTSPolicyMatches(t *testing.T) {
	p := &STSPolicy{MX: []string{"mail.example.com", "*.example.net"}}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "mx1.example.net": true,
		"example.net": false, "a.b.example.net": false, "other.example.com": false,
	} {
		if got := p.Matches(host); got != want {
			t.Errorf("Matches(%q) = %v, want %v", host, got, want)
		}
	}
}

func TestParseSTSRecord(t *testing.T) {
	for rec, want := range map[string]string{
		"v=STSv1; id=20160831085700Z;": "20160831085700Z",
		"v=STSv1;id=abc":               "abc",
		"v=STSv1 ;\tid=abc ; ext=val":  "abc",
	} {
		id, err := ParseSTSRecord(rec)
		if err != nil || id != want {
			t.Errorf("%q: %q, %v; want %q", rec, id, err, want)
		}
	}
	for _, rec := range []string{
		"v=STSv1", "v=STSv1;", "v=STSv1; id=", "v=STSv1; id=has-hyphen", "v=STSv1; id=abc ",
		"v=STSv1; ext=1", "v=STSv1 id=abc", "v=STSv1; id=" + strings.Repeat("a", 33),
		"v=STSv2; id=abc", "v=STSv1;; id=abc", "v=STSv1; id=abc; bad",
	} {
		if id, err := ParseSTSRecord(rec); err == nil {
			t.Errorf("%q: accepted, id %q", rec, id)
		}
	}
}

func TestParseTLSRPTRecord(t *testing.T) {
	for rec, want := range map[string][]string{
		"v=TLSRPTv1;rua=mailto:reports@example.com":                             {"mailto:reports@example.com"},
		"v=TLSRPTv1; rua=https://reporting.example.com/v1/tlsrpt":               {"https://reporting.example.com/v1/tlsrpt"},
		"v=TLSRPTv1; rua=mailto:a@example.com , https://r.example.com/x; ext=1": {"mailto:a@example.com", "https://r.example.com/x"},
	} {
		rua, err := ParseTLSRPTRecord(rec)
		if err != nil || !slices.Equal(rua, want) {
			t.Errorf("%q: %q, %v; want %q", rec, rua, err, want)
		}
	}
	for _, rec := range []string{
		"v=TLSRPTv1", "v=TLSRPTv1;", "v=TLSRPTv1; rua=", "v=TLSRPTv1; rua=http://x.example/",
		"v=TLSRPTv1; rua=mailto:", "v=TLSRPTv1; rua=mailto:a@b.example; rua=mailto:c@d.example",
		"v=TLSRPTv1 rua=mailto:a@b.example", "v=TLSRPTv2; rua=mailto:a@b.example", "v=TLSRPTv1; ext=1",
	} {
		if rua, err := ParseTLSRPTRecord(rec); err == nil {
			t.Errorf("%q: accepted, rua %q", rec, rua)
		}
	}
}

func TestSPFTerms(t *testing.T) {
	for term, want := range map[string][3]string{
		"-include:_spf.example.com": {"include", "_spf.example.com", ""},
		"redirect=_spf.example.com": {"redirect", "_spf.example.com", "mod"},
		"a/24":                      {"a", "/24", ""},
		"MX:mail.example.com/24":    {"mx", "mail.example.com/24", ""},
		"~all":                      {"all", "", ""},
		"exists:%{i}.x.example=y":   {"exists", "%{i}.x.example=y", ""},
	} {
		name, arg, mod := splitSPFTerm(term)
		got := [3]string{name, arg, ""}
		if mod {
			got[2] = "mod"
		}
		if got != want {
			t.Errorf("splitSPFTerm(%q) = %q, want %q", term, got, want)
		}
	}
	for arg, ok := range map[string]bool{"192.0.2.0/24": true, "192.0.2.1": true, "192.0.2.0/33": false, "2001:db8::/32": false, "192.0.2.0/024": false} {
		if validSPFIP("ip4", arg) != ok {
			t.Errorf("validSPFIP(ip4, %q) = %v", arg, !ok)
		}
	}
	if !isSPFRecord("V=SPF1 -all") || isSPFRecord("v=spf10 -all") || !isSPFRecord("v=spf1") {
		t.Error("isSPFRecord")
	}
}

// mapResolver serves TXT records from a map and counts its queries; any
// other name does not exist.
type mapResolver struct {
	txt     map[string][]string
	queries atomic.Int64
}

func (m *mapResolver) notFound(name string) error {
	return &net.DNSError{Err: "NXDOMAIN (no such name)", Name: name, IsNotFound: true}
}

func (m *mapResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	m.queries.Add(1)
	if _, ok := m.txt[name]; ok {
		return nil, nil
	}
	return nil, m.notFound(name)
}

func (m *mapResolver) LookupIP(_ context.Context, _, name string) ([]net.IP, error) {
	m.queries.Add(1)
	if _, ok := m.txt[name]; ok {
		return []net.IP{net.IPv4(192, 0, 2, 1)}, nil
	}
	return nil, m.notFound(name)
}

func (m *mapResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	m.queries.Add(1)
	if t, ok := m.txt[name]; ok {
		return t, nil
	}
	return nil, m.notFound(name)
}

func (m *mapResolver) LookupAddr(_ context.Context, name string) ([]string, error) {
	m.queries.Add(1)
	return nil, m.notFound(name)
}

func TestCountSPFLookups(t *testing.T) {
	r := &mapResolver{txt: map[string][]string{
		"example.com":      {"v=spf1 include:a.example.com redirect=b.example.com"},
		"a.example.com":    {"v=spf1 a mx ptr exists:%{i}.e.example.com include:%{d}.x -all"},
		"b.example.com":    {"v=spf1 include:a.example.com include:none.example.com ip4:192.0.2.0/24 ~all exp=explain.example.com"},
		"none.example.com": {"not spf"},
	}}
	w := countSPFLookups(context.Background(), r, "example.com", r.txt["example.com"][0])
	// example.com: include, redirect (2); a.example.com twice: a, mx,
	// ptr, exists, include (5 each); b.example.com: include a, include
	// none (2). The redirect of example.com is followed: no "all" there.
	if w.Lookups != 14 {
		t.Errorf("lookups %d, want 14", w.Lookups)
	}
	if !slices.ContainsFunc(w.Problems, func(p string) bool { return strings.Contains(p, "none.example.com publishes no SPF record") }) {
		t.Errorf("problems %q", w.Problems)
	}
	if !slices.ContainsFunc(w.Warnings, func(p string) bool { return strings.Contains(p, "ptr") }) {
		t.Errorf("warnings %q", w.Warnings)
	}
	for rec, want := range map[string][2]int{
		"v=spf1 a/24 mx//64 -all":                     {2, 1}, // the fake gives nodata.example.com an address but no MX
		"v=spf1 a:nothing.example.com/24 -all":        {1, 1},
		"v=spf1 -all redirect=example.com":            {0, 0}, // redirect is ignored next to all
		"v=spf1 ip4:192.0.2.1 exp=x.example.com ~all": {0, 0},
	} {
		r.txt["nodata.example.com"] = []string{rec}
		w := countSPFLookups(context.Background(), r, "nodata.example.com", rec)
		if w.Lookups != want[0] || w.VoidLookups != want[1] {
			t.Errorf("%q: %d lookups, %d void; want %v", rec, w.Lookups, w.VoidLookups, want)
		}
	}
}

// FuzzParseSTSPolicy: the parser never panics, and a policy it accepts is
// valid and survives being written out and parsed again.
func FuzzParseSTSPolicy(f *testing.F) {
	f.Add("version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\nmax_age: 604800\n")
	f.Add("version: STSv1\r\nmode: none\r\nmax_age: 0")
	f.Add("version: STSv1\nmode: testing\nx: y\nmx: a\nmax_age: 1\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := ParseSTSPolicy(text)
		if err != nil {
			return
		}
		if p.Version != stsVersion || !slices.Contains([]string{"enforce", "testing", "none"}, p.Mode) || p.MaxAge < 0 || p.MaxAge > 9999999999 {
			t.Fatalf("accepted an invalid policy %+v from %q", *p, text)
		}
		if len(p.MX) == 0 && p.Mode != "none" {
			t.Fatalf("accepted mode %s without mx from %q", p.Mode, text)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "version: %s\nmode: %s\n", p.Version, p.Mode)
		for _, mx := range p.MX {
			if !validMXPattern(mx) {
				t.Fatalf("accepted mx %q from %q", mx, text)
			}
			fmt.Fprintf(&b, "mx: %s\n", mx)
		}
		fmt.Fprintf(&b, "max_age: %d\n", p.MaxAge)
		q, err := ParseSTSPolicy(b.String())
		if err != nil || q.Mode != p.Mode || q.MaxAge != p.MaxAge || !slices.Equal(q.MX, p.MX) {
			t.Fatalf("round trip of %+v: %+v, %v", *p, q, err)
		}
	})
}

// FuzzParseSTSRecord: never panics; an accepted id is 1 to 32 letters and
// digits and parses back from a minimal record.
func FuzzParseSTSRecord(f *testing.F) {
	f.Add("v=STSv1; id=20160831085700Z;")
	f.Add("v=STSv1 ;\tid=abc ; ext=val")
	f.Fuzz(func(t *testing.T, rec string) {
		id, err := ParseSTSRecord(rec)
		if err != nil {
			return
		}
		if id == "" || len(id) > 32 || !allASCII(id, isAlnum) {
			t.Fatalf("accepted id %q from %q", id, rec)
		}
		if again, err := ParseSTSRecord("v=STSv1; id=" + id); err != nil || again != id {
			t.Fatalf("round trip of %q: %q, %v", id, again, err)
		}
	})
}

// FuzzParseTLSRPTRecord: never panics; accepted report URIs are mailto: or
// https: and parse back from a minimal record.
func FuzzParseTLSRPTRecord(f *testing.F) {
	f.Add("v=TLSRPTv1; rua=mailto:reports@example.com")
	f.Add("v=TLSRPTv1;rua=mailto:a@example.com , https://r.example.com/x; ext=1;")
	f.Fuzz(func(t *testing.T, rec string) {
		rua, err := ParseTLSRPTRecord(rec)
		if err != nil {
			return
		}
		if len(rua) == 0 {
			t.Fatalf("accepted %q without rua", rec)
		}
		for _, u := range rua {
			l := strings.ToLower(u)
			if !strings.HasPrefix(l, "mailto:") && !strings.HasPrefix(l, "https:") {
				t.Fatalf("accepted rua %q from %q", u, rec)
			}
		}
		again, err := ParseTLSRPTRecord("v=TLSRPTv1; rua=" + strings.Join(rua, ","))
		if err != nil || !slices.Equal(again, rua) {
			t.Fatalf("round trip of %q: %q, %v", rua, again, err)
		}
	})
}

// FuzzCountSPFLookups: whatever the records, the walk ends, stays within
// its query bound, and counts no more void lookups than lookups. Every
// name of even length holds the second record, so includes of it recurse.
func FuzzCountSPFLookups(f *testing.F) {
	f.Add("v=spf1 include:ab -all", "v=spf1 include:ab include:abcd a mx ptr exists:x redirect=ab")
	f.Add("v=spf1 redirect=abcd", "v=spf1 a:%{i}.x mx/24 ip4:1.2.3.4/32 ip6:::1 +all")
	f.Fuzz(func(t *testing.T, top, child string) {
		if !isSPFRecord(top) {
			return
		}
		r := &evenResolver{mapResolver: mapResolver{}, child: child}
		w := countSPFLookups(context.Background(), r, "top.example", top)
		if w.Lookups < 0 || w.VoidLookups > w.Lookups {
			t.Fatalf("lookups %d, void %d", w.Lookups, w.VoidLookups)
		}
		if q := r.queries.Load(); q > 2*spfWalkMaxLookups+2 {
			t.Fatalf("%d queries for %q / %q", q, top, child)
		}
		if w.Lookups > spfMaxLookups && !slices.ContainsFunc(w.Problems, func(p string) bool { return strings.Contains(p, "DNS lookups") }) {
			t.Fatalf("%d lookups without a problem", w.Lookups)
		}
	})
}

// evenResolver gives every name of even length the TXT record child.
type evenResolver struct {
	mapResolver
	child string
}

func (e *evenResolver) LookupTXT(_ context.Context, name string) ([]string, error) {
	e.queries.Add(1)
	if len(name)%2 == 0 {
		return []string{e.child}, nil
	}
	return nil, e.notFound(name)
}
