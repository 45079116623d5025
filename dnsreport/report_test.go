package dnsreport

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// The test world: example.test is a well-kept domain with three MX
// preferences (one naming a missing host), SPF through includes, DMARC,
// MTA-STS, TLS-RPT and a DKIM key; the other domains each break one thing.
const (
	mx1IP      = "192.0.2.10" // PTR mx1.example.test, forward-confirmed
	mx2IP      = "192.0.2.20" // PTR elsewhere.example.test, which resolves elsewhere
	listedIP   = "192.0.2.99" // listed in bl.test
	unlistedIP = "192.0.2.1"  // not listed; PTR mail.example.test, forward-confirmed
)

func world(t *testing.T) dnstest.Zone {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	p := base64.StdEncoding.EncodeToString(der)
	z := dnstest.Zone{
		"example.test.": {
			MX: []dnstest.MX{{Preference: 20, Host: "mx2.example.test."}, {Preference: 10, Host: "mx1.example.test."}, {Preference: 30, Host: "gone.example.test."}},
			TXT: []string{
				"v=spf1 mx a:mail.example.test include:_spf.example.test -all",
				"google-site-verification=abc",
			},
		},
		"mx1.example.test.":                {A: []string{mx1IP}},
		"mx2.example.test.":                {A: []string{mx2IP}},
		"elsewhere.example.test.":          {A: []string{"198.51.100.7"}},
		"mail.example.test.":               {A: []string{unlistedIP}},
		"_spf.example.test.":               {TXT: []string{"v=spf1 ip4:192.0.2.0/24 include:_spf2.example.test ~all"}},
		"_spf2.example.test.":              {TXT: []string{"v=spf1 ip6:2001:db8::/32 -all"}},
		"_dmarc.example.test.":             {TXT: []string{"v=DMARC1; p=reject; rua=mailto:dmarc@example.test"}},
		"_mta-sts.example.test.":           {TXT: []string{"v=STSv1; id=20240101T000000"}},
		"_smtp._tls.example.test.":         {TXT: []string{"v=TLSRPTv1; rua=mailto:tls@example.test, https://report.example.test/tls"}},
		"s1._domainkey.example.test.":      {TXT: []string{"v=DKIM1; k=rsa; p=" + p}},
		dnstest.ReverseName(t, mx1IP):      {PTR: []string{"mx1.example.test."}},
		dnstest.ReverseName(t, mx2IP):      {PTR: []string{"elsewhere.example.test."}},
		dnstest.ReverseName(t, unlistedIP): {PTR: []string{"mail.example.test."}},

		// bl.test: a DNSBL listing 192.0.2.99.
		"99.2.0.192.bl.test.": {A: []string{"127.0.0.2"}, TXT: []string{"listed for testing"}},
		"bl.test.":            {},

		// null MX, implicit MX, a domain whose only MX is missing.
		"nullmx.test.":        {MX: dnstest.NullMX(), TXT: []string{"v=spf1 -all"}},
		"implicit.test.":      {A: []string{"192.0.2.30"}, TXT: []string{"v=spf1 a -all"}},
		"missingmx.test.":     {MX: []dnstest.MX{{Preference: 10, Host: "nowhere.missingmx.test."}}},
		"_dmarc.nullmx.test.": {TXT: []string{"v=DMARC1; p=reject"}},

		// SPF in trouble: a loop, too many lookups, void lookups.
		"loop.test.":       {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}, TXT: []string{"v=spf1 include:a.loop.test -all"}},
		"a.loop.test.":     {TXT: []string{"v=spf1 include:b.loop.test -all"}},
		"b.loop.test.":     {TXT: []string{"v=spf1 include:a.loop.test -all"}},
		"many.test.":       {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}, TXT: []string{"v=spf1 include:i1.many.test include:i2.many.test include:i3.many.test -all"}},
		"void.test.":       {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}, TXT: []string{"v=spf1 a:no1.void.test a:no2.void.test mx:no3.void.test ip4:192.0.2.1 -all"}},
		"twospf.test.":     {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}, TXT: []string{"v=spf1 -all", "v=spf1 mx -all"}},
		"_dmarc.bad.test.": {TXT: []string{"v=DMARC1; p=maybe"}},
		"bad.test.":        {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}, TXT: []string{"v=spf1 mx -all"}},

		// MTA-STS in trouble.
		"_mta-sts.nopolicy.test.": {TXT: []string{"v=STSv1; id=1"}},
		"nopolicy.test.":          {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}},
		"_mta-sts.badmode.test.":  {TXT: []string{"v=STSv1; id=1"}},
		"badmode.test.":           {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}},
		"_mta-sts.wrongmx.test.":  {TXT: []string{"v=STSv1; id=1"}},
		"wrongmx.test.":           {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}},
		"_mta-sts.badrec.test.":   {TXT: []string{"v=STSv1; id=has-hyphen"}},
		"badrec.test.":            {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}}},

		// DNS failures.
		"servfail.test.": {ServFail: true},
		"silent.test.":   {Drop: true},
	}
	for i := 1; i <= 3; i++ {
		// Each of i1..i3 makes four lookups of its own: 3 + 3*4 = 15.
		z[fmt.Sprintf("i%d.many.test.", i)] = dnstest.Records{TXT: []string{"v=spf1 a:mx1.example.test a:mx2.example.test mx:example.test include:_spf2.example.test ~all"}}
	}
	return z
}

// policies are the MTA-STS policies the test HTTPS server serves, by host.
var policies = map[string]string{
	"mta-sts.example.test": "version: STSv1\nmode: enforce\nmx: mx1.example.test\nmx: *.example.test\nmax_age: 604800\n",
	"mta-sts.badmode.test": "version: STSv1\nmode: strict\nmx: mx1.example.test\nmax_age: 604800\n",
	"mta-sts.wrongmx.test": "version: STSv1\r\nmode: testing\r\nmx: mail.other.test\r\nmax_age: 604800\r\n",
}

// stsServer starts an HTTPS server on 127.0.0.1 with a certificate for
// every mta-sts host of the world, and returns a client that trusts it
// and dials it whatever the host: the production client with only its
// dialer replaced.
func stsServer(t *testing.T) *http.Client {
	t.Helper()
	names := []string{"mta-sts.example.test", "mta-sts.nopolicy.test", "mta-sts.badmode.test", "mta-sts.wrongmx.test"}
	cert, pool := testCert(t, names)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := strings.Cut(r.Host, ":")
		body, ok := policies[host]
		if !ok || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return clientTo(pool, srv.Listener.Addr().String())
}

func clientTo(pool *x509.CertPool, addr string) *http.Client {
	c := newPolicyClient(nil, pool)
	var d net.Dialer
	c.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return d.DialContext(ctx, network, addr)
	}
	return c
}

// testCert makes a self-signed certificate for names and a pool trusting it.
func testCert(t *testing.T, names []string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: names[0]},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// fixture is a resolver on the world and an HTTPS client on its policies.
type fixture struct {
	r      *dnsclient.Client
	client *http.Client
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	addr := dnstest.Start(t, world(t))
	r, err := dnsclient.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{r: r, client: stsServer(t)}
}

func (f fixture) run(t *testing.T, o Options) *Report {
	t.Helper()
	if o.HTTPClient == nil {
		o.HTTPClient = f.client
	}
	if o.Zones == nil {
		o.Zones = []string{"bl.test"}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, f.r, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func hasProblem(rep *Report, words ...string) bool {
	return slices.ContainsFunc(rep.Problems, func(p string) bool {
		for _, w := range words {
			if !strings.Contains(p, w) {
				return false
			}
		}
		return true
	})
}

func TestWellKeptDomain(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, Options{Domain: "Example.TEST.", IP: unlistedIP, DKIMSelector: "s1"})
	if rep.Domain != "example.test" || rep.MXKind != MXNormal {
		t.Fatalf("domain %q kind %q", rep.Domain, rep.MXKind)
	}
	// MX by preference, whatever order DNS gave.
	var hosts []string
	for _, h := range rep.MX {
		hosts = append(hosts, fmt.Sprintf("%d %s", h.Preference, h.Host))
	}
	if want := []string{"10 mx1.example.test", "20 mx2.example.test", "30 gone.example.test"}; !slices.Equal(hosts, want) {
		t.Fatalf("MX %v, want %v", hosts, want)
	}
	if a := rep.MX[0].Addresses; len(a) != 1 || a[0].Address != mx1IP || a[0].FCrDNS != "pass" || !slices.Equal(a[0].PTR, []string{"mx1.example.test"}) {
		t.Errorf("mx1 addresses %+v, want %s forward-confirmed", a, mx1IP)
	}
	if a := rep.MX[1].Addresses; len(a) != 1 || a[0].FCrDNS != "fail" {
		t.Errorf("mx2 addresses %+v, want FCrDNS fail", a)
	}
	if rep.MX[2].Problem == "" || len(rep.MX[2].Addresses) != 0 || !hasProblem(rep, "gone.example.test", "does not exist") {
		t.Errorf("missing MX host not reported: %+v / %q", rep.MX[2], rep.Problems)
	}
	// SPF: mx, a, include (3) + include's include (1) = 4 lookups, no void.
	if rep.SPF == nil || rep.SPF.Lookups != 4 || rep.SPF.VoidLookups != 0 {
		t.Errorf("SPF %+v, want 4 lookups, 0 void", rep.SPF)
	}
	if rep.SPF.Result == nil || rep.SPF.Result.Result != "pass" {
		t.Errorf("SPF result for %s: %+v, want pass", unlistedIP, rep.SPF.Result)
	}
	if rep.DMARC == nil || rep.DMARC.Result != "reject" || !strings.HasPrefix(rep.DMARC.Record, "v=DMARC1") {
		t.Errorf("DMARC %+v", rep.DMARC)
	}
	m := rep.MTASTS
	if m == nil || m.ID != "20240101T000000" || m.Policy == nil || m.Policy.Mode != "enforce" || m.Policy.MaxAge != 604800 || len(m.Policy.MX) != 2 || m.ResultType != nil {
		t.Errorf("MTA-STS %+v", m)
	}
	if rep.TLSRPT == nil || !slices.Equal(rep.TLSRPT.RUA, []string{"mailto:tls@example.test", "https://report.example.test/tls"}) {
		t.Errorf("TLS-RPT %+v", rep.TLSRPT)
	}
	if d := rep.DKIM; d == nil || d.KeyType != "rsa" || d.KeyBits != 2048 || len(d.Problems) != 0 {
		t.Errorf("DKIM %+v", d)
	}
	if rep.PTR == nil || rep.PTR.Result != "pass" {
		t.Errorf("PTR of the IP %+v", rep.PTR)
	}
	if len(rep.DNSBL) != 1 || rep.DNSBL[0].Result != "not-listed" {
		t.Errorf("DNSBL %+v", rep.DNSBL)
	}
	// The only problem is the missing MX host; mx2's reverse DNS is a warning.
	if len(rep.Problems) != 1 || rep.ExitCode != ExitProblems || rep.DNSError {
		t.Errorf("problems %q, exit %d, dns_error %v", rep.Problems, rep.ExitCode, rep.DNSError)
	}
	if !slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, mx2IP) && strings.Contains(w, "reverse DNS") }) {
		t.Errorf("no warning about mx2's reverse DNS: %q", rep.Warnings)
	}
	if len(rep.DNS) == 0 {
		t.Error("the query log of the client is not in the report")
	}
}

func TestMXKinds(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		domain, kind string
		exit         int
		problem      string
	}{
		{"nullmx.test", MXNull, ExitOK, ""},
		{"implicit.test", MXImplicit, ExitProblems, "no DMARC"},
		{"missingmx.test", MXNormal, ExitProblems, "nowhere.missingmx.test"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			rep := f.run(t, Options{Domain: tc.domain})
			if rep.MXKind != tc.kind || rep.ExitCode != tc.exit {
				t.Fatalf("kind %q exit %d, want %q %d; problems %q", rep.MXKind, rep.ExitCode, tc.kind, tc.exit, rep.Problems)
			}
			if tc.problem != "" && !hasProblem(rep, tc.problem) {
				t.Errorf("no problem naming %q: %q", tc.problem, rep.Problems)
			}
			switch tc.kind {
			case MXNull:
				if len(rep.MX) != 0 || len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[0], "null MX") {
					t.Errorf("null MX: mx %+v warnings %q", rep.MX, rep.Warnings)
				}
			case MXImplicit:
				if len(rep.MX) != 1 || rep.MX[0].Host != "implicit.test" || len(rep.MX[0].Addresses) != 1 {
					t.Errorf("implicit MX: %+v", rep.MX)
				}
			}
		})
	}
}

func TestSPFLimits(t *testing.T) {
	f := newFixture(t)
	t.Run("loop", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "loop.test"})
		if len(rep.SPF.Loops) != 1 || rep.SPF.Loops[0] != "a.loop.test -> b.loop.test -> a.loop.test" || !hasProblem(rep, "loop") {
			t.Errorf("loops %q problems %q", rep.SPF.Loops, rep.Problems)
		}
	})
	t.Run("more than 10 lookups", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "many.test"})
		if rep.SPF.Lookups != 15 || !hasProblem(rep, "15 DNS lookups", "10") || rep.ExitCode != ExitProblems {
			t.Errorf("lookups %d problems %q exit %d", rep.SPF.Lookups, rep.Problems, rep.ExitCode)
		}
	})
	t.Run("void lookups", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "void.test"})
		if rep.SPF.VoidLookups != 3 || !hasProblem(rep, "3 lookups that find nothing") {
			t.Errorf("void %d problems %q", rep.SPF.VoidLookups, rep.Problems)
		}
	})
	t.Run("two records", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "twospf.test"})
		if !hasProblem(rep, "2 SPF records") {
			t.Errorf("problems %q", rep.Problems)
		}
	})
	t.Run("no record", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "missingmx.test"})
		if rep.SPF.Record != "" || !hasProblem(rep, "no SPF record") {
			t.Errorf("SPF %+v problems %q", rep.SPF, rep.Problems)
		}
	})
	t.Run("result fail for an outside IP", func(t *testing.T) {
		// The include ends in ~all, which does not match inside an
		// include: the top record's -all decides.
		rep := f.run(t, Options{Domain: "example.test", IP: "198.51.100.7"})
		if rep.SPF.Result == nil || rep.SPF.Result.Result != "fail" || !hasProblem(rep, "198.51.100.7", "Receivers reject") {
			t.Errorf("result %+v problems %q", rep.SPF.Result, rep.Problems)
		}
	})
}

func TestDMARC(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct{ domain, result, problem string }{
		{"example.test", "reject", ""},
		{"implicit.test", "absent", "no DMARC record"},
		{"bad.test", "permerror", "DMARC record of bad.test cannot be used"},
	} {
		rep := f.run(t, Options{Domain: tc.domain})
		if rep.DMARC.Result != tc.result {
			t.Errorf("%s: DMARC %q, want %q (%s)", tc.domain, rep.DMARC.Result, tc.result, rep.DMARC.Detail)
		}
		if tc.problem != "" && !hasProblem(rep, tc.problem) {
			t.Errorf("%s: no problem %q in %q", tc.domain, tc.problem, rep.Problems)
		}
	}
}

func TestMTASTS(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		domain, resultType, problem string
	}{
		{"nopolicy.test", resultSTSFetch, "404"},
		{"badmode.test", resultSTSInvalid, `mode "strict"`},
		{"wrongmx.test", "", "MX host mx1.example.test is not allowed"},
		{"badrec.test", "", "MTA-STS record at _mta-sts.badrec.test is invalid"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			rep := f.run(t, Options{Domain: tc.domain})
			got := ""
			if rep.MTASTS.ResultType != nil {
				got = *rep.MTASTS.ResultType
			}
			if got != tc.resultType || !hasProblem(rep, tc.problem) || rep.ExitCode != ExitProblems {
				t.Errorf("result_type %q (want %q), exit %d, problems %q", got, tc.resultType, rep.ExitCode, rep.Problems)
			}
		})
	}
	t.Run("certificate for another name", func(t *testing.T) {
		// httptest's own certificate is for example.com, not
		// mta-sts.example.test: a sender refuses it.
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, policies["mta-sts.example.test"])
		}))
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is expected
		srv.StartTLS()
		defer srv.Close()
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		rep := f.run(t, Options{Domain: "example.test", HTTPClient: clientTo(pool, srv.Listener.Addr().String())})
		if rep.MTASTS.ResultType == nil || *rep.MTASTS.ResultType != resultSTSWebPKI {
			t.Errorf("result_type %v, want %s; problems %q", rep.MTASTS.ResultType, resultSTSWebPKI, rep.Problems)
		}
	})
	t.Run("redirect", func(t *testing.T) {
		cert, pool := testCert(t, []string{"mta-sts.example.test"})
		srv := httptest.NewUnstartedServer(http.RedirectHandler("https://elsewhere.test/policy", http.StatusFound))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
		srv.StartTLS()
		defer srv.Close()
		rep := f.run(t, Options{Domain: "example.test", HTTPClient: clientTo(pool, srv.Listener.Addr().String())})
		if rep.MTASTS.ResultType == nil || *rep.MTASTS.ResultType != resultSTSFetch || !hasProblem(rep, "redirect") {
			t.Errorf("result_type %v problems %q", rep.MTASTS.ResultType, rep.Problems)
		}
	})
}

func TestDKIMSelector(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, Options{Domain: "example.test", DKIMSelector: "nokey"})
	if rep.DKIM == nil || rep.DKIM.Record != "" || !hasProblem(rep, "No DKIM key is published at nokey._domainkey.example.test") {
		t.Errorf("DKIM %+v problems %q", rep.DKIM, rep.Problems)
	}
}

func TestDNSBL(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, Options{Domain: "example.test", IP: listedIP})
	if len(rep.DNSBL) != 1 || rep.DNSBL[0].Result != "listed" || !hasProblem(rep, listedIP, "bl.test") {
		t.Errorf("DNSBL %+v problems %q", rep.DNSBL, rep.Problems)
	}
	rep = f.run(t, Options{Domain: "example.test", IP: unlistedIP})
	if rep.DNSBL[0].Result != "not-listed" || hasProblem(rep, "DNSBL") {
		t.Errorf("DNSBL %+v problems %q", rep.DNSBL, rep.Problems)
	}
}

func TestDNSFailures(t *testing.T) {
	f := newFixture(t)
	t.Run("SERVFAIL", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "servfail.test"})
		if rep.ExitCode != ExitDNSFailed || !rep.DNSError || rep.MXKind != MXUnknown || len(rep.DNSFailures) == 0 || !strings.Contains(rep.DNSFailures[0], "SERVFAIL") {
			t.Errorf("exit %d kind %q failures %q", rep.ExitCode, rep.MXKind, rep.DNSFailures)
		}
		var out bytes.Buffer
		if err := WriteText(&out, rep); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"MX         unknown: DNS did not answer", "SPF        unknown: DNS did not answer", "DNS could not answer:", "(exit 5)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("text lacks %q:\n%s", want, out.String())
			}
		}
	})
	t.Run("server never answers", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		start := time.Now()
		rep, err := Run(ctx, f.r, Options{Domain: "silent.test", HTTPClient: f.client, Zones: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("took %v: not bounded by the context", took)
		}
		if rep.ExitCode != ExitDNSFailed || !strings.Contains(rep.DNSFailures[0], "TIMEOUT") {
			t.Errorf("exit %d failures %q", rep.ExitCode, rep.DNSFailures)
		}
	})
	t.Run("no such domain", func(t *testing.T) {
		rep := f.run(t, Options{Domain: "nothing.test"})
		if rep.Exists || rep.MXKind != MXNone || rep.ExitCode != ExitProblems || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "does not exist") {
			t.Errorf("exists %v kind %q exit %d problems %q", rep.Exists, rep.MXKind, rep.ExitCode, rep.Problems)
		}
		if rep.SPF != nil || rep.DMARC != nil || rep.MTASTS != nil {
			t.Error("a domain that does not exist was looked up further")
		}
	})
}

func TestUsageErrors(t *testing.T) {
	for _, o := range []Options{
		{},
		{Domain: "not a domain"},
		{Domain: "exa_mple.com"},
		{Domain: "-bad.example"},
		{Domain: "a..b"},
		{Domain: "alice@example.org"},
		{Domain: "192.0.2.1"},
		{Domain: "example.org", IP: "192.0.2.256"},
		{Domain: "example.org", IP: "mail.example.org"},
		{Domain: "example.org", IP: "fe80::1%eth0"},
		{Domain: "example.org", DKIMSelector: "bad selector"},
		{Domain: "example.org", Zones: []string{"bad zone"}},
	} {
		_, err := Run(context.Background(), fakeResolver{}, o)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%+v: error %v, want a UsageError", o, err)
		}
	}
	o, err := Options{Domain: "bücher.example", IP: "::ffff:192.0.2.1"}.Validate()
	if err != nil || o.Domain != "xn--bcher-kva.example" || o.IP != "192.0.2.1" {
		t.Errorf("Validate: %+v, %v", o, err)
	}
}

func TestOutputs(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, Options{Domain: "example.test", IP: listedIP, DKIMSelector: "s1"})
	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{
		"=== DNS report for example.test (IP 192.0.2.99, DKIM selector s1)",
		"MX         by preference",
		"10  mx1.example.test   192.0.2.10  PTR mx1.example.test        forward-confirmed",
		"30  gone.example.test  (does not exist: NXDOMAIN)",
		"SPF        v=spf1 mx a:mail.example.test include:_spf.example.test -all",
		"           4 of 10 DNS lookups, 0 of 2 void lookups",
		"MTA-STS    v=STSv1; id=20240101T000000",
		"           policy: STSv1, mode enforce, max_age 604800, mx mx1.example.test, *.example.test",
		"DKIM       s1._domainkey.example.test: rsa 2048 bits",
		"DNSBL      bl.test                      listed (127.0.0.2)",
		"Problems:\n  1. MX host gone.example.test",
		"(exit 4)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"domain", "mx", "mx_kind", "spf", "dmarc", "mta_sts", "tls_rpt", "dkim", "ptr", "dnsbl", "problems", "warnings", "dns_failures", "dns_error", "exit_code", "dns"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	mx0 := m["mx"].([]any)[0].(map[string]any)
	addr0 := mx0["addresses"].([]any)[0].(map[string]any)
	if mx0["host"] != "mx1.example.test" || addr0["fcrdns"] != "pass" {
		t.Errorf("mx[0] %v", mx0)
	}
	spf := m["spf"].(map[string]any)
	if spf["lookups"] != 4.0 || spf["problems"] == nil {
		t.Errorf("spf %v", spf)
	}
	sts := m["mta_sts"].(map[string]any)["policy"].(map[string]any)
	if sts["mode"] != "enforce" || sts["max_age"] != 604800.0 {
		t.Errorf("mta_sts.policy %v", sts)
	}
	if m["exit_code"] != 4.0 {
		t.Errorf("exit_code %v", m["exit_code"])
	}
}

// TestDefaultClientDialsThroughResolver: the default policy client asks the
// probe's resolver, not the system's, for the policy host.
func TestDefaultClientDialsThroughResolver(t *testing.T) {
	srv := dnstest.NewServer(t, dnstest.Zone{"mta-sts.example.test.": {A: []string{"127.0.0.1"}}})
	r, err := dnsclient.New(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	dial := dialThrough(r, &net.Dialer{Timeout: time.Second})
	conn, err := dial(context.Background(), "tcp", net.JoinHostPort("mta-sts.example.test", port))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if !slices.ContainsFunc(srv.Queries(), func(q dnstest.Query) bool { return q.Name == "mta-sts.example.test." && q.Type == "A" }) {
		t.Errorf("the dialer did not ask the resolver: %+v", srv.Queries())
	}
	if _, err := dial(context.Background(), "tcp", net.JoinHostPort("nothing.example.test", port)); err == nil {
		t.Error("dialed a host that does not exist")
	}
	c := newPolicyClient(r, nil)
	if c.CheckRedirect(nil, nil) == nil || c.Transport.(*http.Transport).Proxy != nil {
		t.Error("the default client follows redirects or uses a proxy")
	}
}

// fakeResolver answers nothing; for tests that must not reach DNS.
type fakeResolver struct{}

func (fakeResolver) LookupMX(context.Context, string) ([]*net.MX, error) { return nil, errNoDNS }
func (fakeResolver) LookupIP(context.Context, string, string) ([]net.IP, error) {
	return nil, errNoDNS
}
func (fakeResolver) LookupTXT(context.Context, string) ([]string, error)  { return nil, errNoDNS }
func (fakeResolver) LookupAddr(context.Context, string) ([]string, error) { return nil, errNoDNS }

var errNoDNS = errors.New("no DNS in this test")

// The text report shows no raw control byte and clips huge records.
func TestTextEscapesAndClips(t *testing.T) {
	big := "v=spf1 " + strings.Repeat("ip4:192.0.2.1 ", 3000) + "-all"
	addr := dnstest.Start(t, dnstest.Zone{
		"odd.test.":        {TXT: []string{big}, MX: []dnstest.MX{{Preference: 10, Host: "mx.odd.test."}}},
		"mx.odd.test.":     {A: []string{"192.0.2.1"}},
		"_dmarc.odd.test.": {TXT: []string{"v=DMARC1; p=reject; x=\x1b[2J"}},
	})
	r, _ := dnsclient.New(addr)
	rep, err := Run(context.Background(), r, Options{Domain: "odd.test"})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := WriteText(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "\x1b") {
		t.Error("a raw ESC reached the text report")
	}
	if len(out) > 20000 || !strings.Contains(out, "--json has it whole") {
		t.Errorf("the 40 KiB SPF record was not clipped (%d bytes of text)", len(out))
	}
}
