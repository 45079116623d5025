package mxlookup_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// testZone covers every Targets case that a real server can express.
func testZone() dnstest.Zone {
	manyMX := make([]dnstest.MX, 0, 100)
	for i := range 100 {
		manyMX = append(manyMX, dnstest.MX{Preference: uint16(i % 7), Host: fmt.Sprintf("mx%03d.a-rather-long-mail-host-name.many.test.", i)})
	}
	return dnstest.Zone{
		"ordered.test.": {MX: []dnstest.MX{
			{Preference: 20, Host: "MX2.Ordered.TEST."},
			{Preference: 10, Host: "mx1.ordered.test."},
			{Preference: 30, Host: "mx3.ordered.test"},
		}},
		"equal.test.": {MX: []dnstest.MX{
			{Preference: 10, Host: "c.equal.test."},
			{Preference: 10, Host: "a.equal.test."},
			{Preference: 5, Host: "first.equal.test."},
			{Preference: 10, Host: "b.equal.test."},
			{Preference: 20, Host: "last.equal.test."},
		}},
		"dup.test.": {MX: []dnstest.MX{
			{Preference: 20, Host: "mx.dup.test."},
			{Preference: 10, Host: "mx.dup.test."},
			{Preference: 15, Host: "other.dup.test."},
		}},
		"aonly.test.":    {A: []string{"192.0.2.1"}},
		"aaaaonly.test.": {AAAA: []string{"2001:db8::1"}},
		"nullmx.test.":   {MX: dnstest.NullMX(), A: []string{"192.0.2.2"}},
		"mixednull.test.": {MX: []dnstest.MX{
			{Preference: 0, Host: "."},
			{Preference: 10, Host: "mx.mixednull.test."},
		}},
		"txtonly.test.":  {TXT: []string{"v=spf1 -all"}},
		"servfail.test.": {ServFail: true},
		// The domain itself is an alias: RFC 5321 §5.1 processes the
		// canonical name as if it were the initial domain.
		"alias.test.":  {CNAME: "target.test."},
		"target.test.": {MX: []dnstest.MX{{Preference: 5, Host: "mx.target.test."}}},
		// An MX host that is an alias (RFC 2181 §10.3 forbids it, yet it
		// is common and MTAs follow it).
		"cnamemx.test.":            {MX: []dnstest.MX{{Preference: 10, Host: "alias-mx.cnamemx.test."}}},
		"alias-mx.cnamemx.test.":   {CNAME: "real-mx.cnamemx.test."},
		"real-mx.cnamemx.test.":    {A: []string{"192.0.2.25"}},
		"xn--bcher-kva.example.":   {MX: []dnstest.MX{{Preference: 10, Host: "mx.xn--bcher-kva.example."}}},
		"many.test.":               {MX: manyMX},
		"dangling.test.":           {CNAME: "missing.elsewhere.test."},
		"aliasservfail.test.":      {CNAME: "servfail.test."},
		"mx.mixednull.test.":       {A: []string{"192.0.2.3"}},
		"mx1.ordered.test.":        {A: []string{"192.0.2.11"}},
		"mx.target.test.":          {AAAA: []string{"2001:db8::25"}},
		"mx.xn--bcher-kva.example": {A: []string{"192.0.2.80"}},
	}
}

// goResolver is the standard library's resolver sent to addr: Targets must
// behave the same whichever Resolver it gets.
func goResolver(addr string) mxlookup.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
}

func TestTargets(t *testing.T) {
	addr := dnstest.Start(t, testZone())
	own, err := mxlookup.NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	resolvers := map[string]mxlookup.Resolver{"miekg": own, "stdlib": goResolver(addr)}

	tests := []struct {
		name    string
		domain  string
		want    []mxlookup.Target
		wantErr error // sentinel, when an error is expected
	}{
		{"MX by preference, lower-cased, no trailing dot", "ordered.test", []mxlookup.Target{
			{Host: "mx1.ordered.test", Preference: 10},
			{Host: "mx2.ordered.test", Preference: 20},
			{Host: "mx3.ordered.test", Preference: 30},
		}, nil},
		{"equal preferences sorted by name without a shuffle source", "equal.test", []mxlookup.Target{
			{Host: "first.equal.test", Preference: 5},
			{Host: "a.equal.test", Preference: 10},
			{Host: "b.equal.test", Preference: 10},
			{Host: "c.equal.test", Preference: 10},
			{Host: "last.equal.test", Preference: 20},
		}, nil},
		{"host at two preferences kept once at its best", "dup.test", []mxlookup.Target{
			{Host: "mx.dup.test", Preference: 10},
			{Host: "other.dup.test", Preference: 15},
		}, nil},
		{"trailing dot", "ordered.test.", []mxlookup.Target{
			{Host: "mx1.ordered.test", Preference: 10},
			{Host: "mx2.ordered.test", Preference: 20},
			{Host: "mx3.ordered.test", Preference: 30},
		}, nil},
		{"upper case domain", "ORDERED.Test", []mxlookup.Target{
			{Host: "mx1.ordered.test", Preference: 10},
			{Host: "mx2.ordered.test", Preference: 20},
			{Host: "mx3.ordered.test", Preference: 30},
		}, nil},
		{"implicit MX from A only", "aonly.test", []mxlookup.Target{{Host: "aonly.test", Implicit: true}}, nil},
		{"implicit MX from AAAA only", "aaaaonly.test", []mxlookup.Target{{Host: "aaaaonly.test", Implicit: true}}, nil},
		{"null MX even with an A record", "nullmx.test", nil, mxlookup.ErrNullMX},
		{"null MX beside real MX: the real one is used", "mixednull.test", []mxlookup.Target{{Host: "mx.mixednull.test", Preference: 10}}, nil},
		{"NXDOMAIN", "nonexistent.test", nil, mxlookup.ErrNoMailHost},
		{"name exists without MX or address", "txtonly.test", nil, mxlookup.ErrNoMailHost},
		{"SERVFAIL is temporary", "servfail.test", nil, mxlookup.ErrTemporary},
		{"CNAME'd domain", "alias.test", []mxlookup.Target{{Host: "mx.target.test", Preference: 5}}, nil},
		{"CNAME'd MX host kept as published", "cnamemx.test", []mxlookup.Target{{Host: "alias-mx.cnamemx.test", Preference: 10}}, nil},
		{"CNAME to a name that does not exist", "dangling.test", nil, mxlookup.ErrNoMailHost},
		{"CNAME to a failing name is temporary", "aliasservfail.test", nil, mxlookup.ErrTemporary},
		{"IDN U-label", "bücher.example", []mxlookup.Target{{Host: "mx.xn--bcher-kva.example", Preference: 10}}, nil},
		{"IDN A-label with trailing dot", "XN--BCHER-KVA.example.", []mxlookup.Target{{Host: "mx.xn--bcher-kva.example", Preference: 10}}, nil},
		{"IDN upper-case U-label", "BÜCHER.example", []mxlookup.Target{{Host: "mx.xn--bcher-kva.example", Preference: 10}}, nil},
		{"IP address is not a domain", "192.0.2.1", nil, mxlookup.ErrNoMailHost},
	}
	for rname, r := range resolvers {
		for _, tt := range tests {
			t.Run(rname+"/"+tt.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				got, err := mxlookup.Targets(ctx, r, tt.domain, nil)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("Targets(%q) = %v, %v; want error %v", tt.domain, got, err, tt.wantErr)
					}
					if got != nil {
						t.Errorf("Targets(%q) returned targets %v with an error", tt.domain, got)
					}
					if !strings.Contains(err.Error(), strings.TrimSuffix(strings.ToLower(tt.domain), ".")) {
						t.Errorf("error %q does not name the domain", err)
					}
					if wantTemp := tt.wantErr == mxlookup.ErrTemporary; mxlookup.IsTemporary(err) != wantTemp {
						t.Errorf("IsTemporary(%v) = %v, want %v", err, !wantTemp, wantTemp)
					}
					return
				}
				if err != nil {
					t.Fatalf("Targets(%q): %v", tt.domain, err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("Targets(%q) =\n %v\nwant\n %v", tt.domain, got, tt.want)
				}
			})
		}
	}
}

// The CNAME'd MX host from TestTargets must still resolve to its address.
func TestLookupIPFollowsCNAME(t *testing.T) {
	addr := dnstest.Start(t, testZone())
	own, err := mxlookup.NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	for rname, r := range map[string]mxlookup.Resolver{"miekg": own, "stdlib": goResolver(addr)} {
		t.Run(rname, func(t *testing.T) {
			ips, err := r.LookupIP(context.Background(), "ip4", "alias-mx.cnamemx.test")
			if err != nil {
				t.Fatal(err)
			}
			if len(ips) != 1 || ips[0].String() != "192.0.2.25" {
				t.Errorf("LookupIP = %v, want [192.0.2.25]", ips)
			}
		})
	}
}

// A hundred MX records do not fit in a 1232-octet UDP answer: the server
// truncates and the resolver must get them all over TCP.
func TestTargetsTruncatedAnswerRetriedOverTCP(t *testing.T) {
	srv := dnstest.NewServer(t, testZone())
	r, err := mxlookup.NewResolver(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mxlookup.Targets(context.Background(), r, "many.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 {
		t.Fatalf("got %d targets, want 100", len(got))
	}
	if !slices.IsSortedFunc(got, func(a, b mxlookup.Target) int { return int(a.Preference) - int(b.Preference) }) {
		t.Errorf("targets not sorted by preference: %v", got)
	}
	var udp, tcp int
	for _, q := range srv.Queries() {
		if q.Name == "many.test." && q.Type == "MX" {
			switch q.Network {
			case "udp":
				udp++
			case "tcp":
				tcp++
			}
		}
	}
	if udp != 1 || tcp != 1 {
		t.Errorf("MX queries for many.test: %d over UDP, %d over TCP; want 1 and 1", udp, tcp)
	}
}

func TestTargetsShuffle(t *testing.T) {
	addr := dnstest.Start(t, testZone())
	r, err := mxlookup.NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	hosts := func(ts []mxlookup.Target) string {
		var b strings.Builder
		for _, t := range ts {
			b.WriteString(t.Host + " ")
		}
		return b.String()
	}

	// Same seed, same order: a probe run can be reproduced.
	for seed := range uint64(20) {
		a, err := mxlookup.Targets(ctx, r, "equal.test", rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		b, err := mxlookup.Targets(ctx, r, "equal.test", rand.New(rand.NewPCG(seed, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a, b) {
			t.Fatalf("seed %d gave %v then %v", seed, a, b)
		}
	}

	// Different seeds reach every order of the three equal hosts, and
	// never move a host across preferences.
	orders := map[string]int{}
	for seed := range uint64(300) {
		got, err := mxlookup.Targets(ctx, r, "equal.test", rand.New(rand.NewPCG(seed, 2)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 5 || got[0].Host != "first.equal.test" || got[4].Host != "last.equal.test" {
			t.Fatalf("seed %d: shuffle crossed preferences: %v", seed, got)
		}
		orders[hosts(got[1:4])]++
	}
	if len(orders) != 6 {
		t.Errorf("300 seeds gave %d of the 6 orders of three equal-preference hosts: %v", len(orders), orders)
	}
	for order, n := range orders {
		// Expected 50 each; a fair shuffle stays well inside 20..80.
		if n < 20 || n > 80 {
			t.Errorf("order %q came %d times in 300; shuffle looks biased: %v", order, n, orders)
		}
	}
}

// A server that never answers: the context deadline bounds the lookup and
// the failure is temporary, a timeout.
func TestTargetsTimeout(t *testing.T) {
	addr := dnstest.Start(t, dnstest.Zone{"silent.test.": {Drop: true}})
	r, err := mxlookup.NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = mxlookup.Targets(ctx, r, "silent.test", nil)
	elapsed := time.Since(start)
	if !errors.Is(err, mxlookup.ErrTemporary) || !mxlookup.IsTemporary(err) {
		t.Fatalf("err = %v, want a temporary failure", err)
	}
	var dnsErr *net.DNSError
	if !errors.As(err, &dnsErr) || !dnsErr.IsTimeout {
		t.Errorf("err = %v, want a *net.DNSError with IsTimeout", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("lookup took %v, want it bounded by the 300ms context", elapsed)
	}
}

// fakeResolver answers from maps; the error maps let a test give the exact
// errors a real resolver would.
type fakeResolver struct {
	mx    map[string][]*net.MX
	mxErr map[string]error
	ip    map[string][]net.IP
	ipErr map[string]error
}

func (f fakeResolver) LookupMX(_ context.Context, domain string) ([]*net.MX, error) {
	return f.mx[domain], f.mxErr[domain]
}

func (f fakeResolver) LookupIP(_ context.Context, _, host string) ([]net.IP, error) {
	return f.ip[host], f.ipErr[host]
}

func TestTargetsFakeResolver(t *testing.T) {
	notFound := &net.DNSError{Err: "no such host", Name: "x", IsNotFound: true}
	servFail := &net.DNSError{Err: "server misbehaving", Name: "x", Server: "192.0.2.53:53", IsTemporary: true}
	refused := &net.DNSError{Err: "server misbehaving", Name: "x", Server: "192.0.2.53:53"}
	malformed := &net.DNSError{Err: "DNS response contained records which contain invalid names", Name: "x"}

	tests := []struct {
		name    string
		r       fakeResolver
		want    []mxlookup.Target
		wantErr error
	}{
		{
			name: "stdlib NODATA for MX, then address: implicit MX",
			r: fakeResolver{
				mxErr: map[string]error{"d.test": notFound},
				ip:    map[string][]net.IP{"d.test": {net.ParseIP("192.0.2.1")}},
			},
			want: []mxlookup.Target{{Host: "d.test", Implicit: true}},
		},
		{
			name: "empty MX without error, then address: implicit MX",
			r:    fakeResolver{ip: map[string][]net.IP{"d.test": {net.ParseIP("2001:db8::1")}}},
			want: []mxlookup.Target{{Host: "d.test", Implicit: true}},
		},
		{
			name:    "no MX, address lookup fails temporarily",
			r:       fakeResolver{mxErr: map[string]error{"d.test": notFound}, ipErr: map[string]error{"d.test": servFail}},
			wantErr: mxlookup.ErrTemporary,
		},
		{
			name:    "REFUSED is a reason to defer, not to bounce",
			r:       fakeResolver{mxErr: map[string]error{"d.test": refused}},
			wantErr: mxlookup.ErrTemporary,
		},
		{
			name: "partly malformed answer: the good records are used",
			r: fakeResolver{
				mx:    map[string][]*net.MX{"d.test": {{Host: "mx.d.test.", Pref: 10}}},
				mxErr: map[string]error{"d.test": malformed},
			},
			want: []mxlookup.Target{{Host: "mx.d.test", Preference: 10}},
		},
		{
			name:    "MX hosts that are not host names: no fallback to implicit MX",
			r:       fakeResolver{mx: map[string][]*net.MX{"d.test": {{Host: "bad host.d.test.", Pref: 10}, {Host: "x\r\n.d.test.", Pref: 20}}}, ip: map[string][]net.IP{"d.test": {net.ParseIP("192.0.2.1")}}},
			wantErr: mxlookup.ErrNoMailHost,
		},
		{
			name: "nil record and invalid host are skipped",
			r:    fakeResolver{mx: map[string][]*net.MX{"d.test": {nil, {Host: "a..b.", Pref: 1}, {Host: "mx.d.test", Pref: 10}}}},
			want: []mxlookup.Target{{Host: "mx.d.test", Preference: 10}},
		},
		{
			name: "IP address published as an MX host is still tried",
			r:    fakeResolver{mx: map[string][]*net.MX{"d.test": {{Host: "192.0.2.7.", Pref: 10}}}},
			want: []mxlookup.Target{{Host: "192.0.2.7", Preference: 10}},
		},
		{
			name:    "null MX with non-zero preference",
			r:       fakeResolver{mx: map[string][]*net.MX{"d.test": {{Host: ".", Pref: 10}}}},
			wantErr: mxlookup.ErrNullMX,
		},
		{
			name:    "nothing at all, no error",
			r:       fakeResolver{},
			wantErr: mxlookup.ErrNoMailHost,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mxlookup.Targets(context.Background(), tt.r, "d.test", nil)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Targets = %v, %v; want %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Targets = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTargetsBadInput(t *testing.T) {
	r := fakeResolver{}
	for _, domain := range []string{"", ".", "a..b", "exa mple.test", "example.test\r\nRCPT TO:<x>", "-bad.test", "a_b.test"} {
		t.Run(fmt.Sprintf("%q", domain), func(t *testing.T) {
			got, err := mxlookup.Targets(context.Background(), r, domain, nil)
			if err == nil {
				t.Fatalf("Targets(%q) = %v, want an error", domain, got)
			}
			if errors.Is(err, mxlookup.ErrNoMailHost) || errors.Is(err, mxlookup.ErrTemporary) {
				t.Errorf("Targets(%q) = %v: a bad name is not a DNS outcome", domain, err)
			}
		})
	}
	if _, err := mxlookup.Targets(context.Background(), nil, "example.test", nil); err == nil {
		t.Error("Targets with a nil resolver succeeded")
	}
}

func TestIsTemporary(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", &net.DNSError{Err: "no such host", IsNotFound: true}, false},
		{"servfail", &net.DNSError{Err: "server misbehaving", IsTemporary: true}, true},
		{"timeout", &net.DNSError{Err: "i/o timeout", IsTimeout: true}, true},
		{"refused", &net.DNSError{Err: "server misbehaving", Server: "x:53"}, true},
		{"wrapped sentinel", fmt.Errorf("d: %w", mxlookup.ErrTemporary), true},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"null MX", fmt.Errorf("d: %w", mxlookup.ErrNullMX), false},
		{"other", errors.New("boom"), false},
		{"dns rcode text only", errors.New(dns.RcodeToString[dns.RcodeServerFailure]), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mxlookup.IsTemporary(tt.err); got != tt.want {
				t.Errorf("IsTemporary(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
