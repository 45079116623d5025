package probe

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/compose"
	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/examples/scenario"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// The all-MX tests put each MX host on its own loopback address, all on
// one port, as real MX hosts share port 25: Linux answers on all of
// 127.0.0.0/8. Each address runs one of these behaviours.
type loopKind int

const (
	loopForward loopKind = iota // forward to a scenario server, after the banner delay
	loopSilent                  // accept and never speak
	loopClosed                  // nothing listens: connection refused
)

type loopHost struct {
	ip      string // "127.0.0.2", "::1"
	kind    loopKind
	backend string        // scenario server address for loopForward
	delay   time.Duration // before the banner
}

// sharedPort binds every non-closed host on one free port and serves it;
// closed hosts are left without a listener on that port.
func sharedPort(t testing.TB, hosts []loopHost) int {
	t.Helper()
	for range 50 {
		first, err := net.Listen("tcp", net.JoinHostPort(hosts[0].ip, "0"))
		if err != nil {
			t.Fatalf("listen on %s: %v", hosts[0].ip, err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		ok := true
		for _, h := range hosts {
			if h.ip == hosts[0].ip {
				continue
			}
			// Closed hosts are probed too: nothing may listen there.
			ln, err := net.Listen("tcp", net.JoinHostPort(h.ip, strconv.Itoa(port)))
			if err != nil {
				ok = false
				break
			}
			if h.kind == loopClosed {
				ln.Close() // the port was free: it stays closed
				ln = nil
			}
			lns = append(lns, ln)
		}
		if !ok {
			for _, ln := range lns {
				if ln != nil {
					ln.Close()
				}
			}
			continue
		}
		if hosts[0].kind == loopClosed {
			t.Fatal("sharedPort: the first host must listen")
		}
		for i, h := range hosts {
			if lns[i] != nil {
				serveLoop(t, lns[i], h)
			}
		}
		return port
	}
	t.Fatal("no port free on every loopback address")
	return 0
}

// serveLoop serves one loopback host until the test ends.
func serveLoop(t testing.TB, ln net.Listener, h loopHost) {
	done := make(chan struct{})
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		close(done)
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				if h.kind == loopSilent {
					_, _ = io.Copy(io.Discard, c)
					return
				}
				select {
				case <-time.After(h.delay):
				case <-done:
					return
				}
				b, err := net.Dial("tcp", h.backend)
				if err != nil {
					return
				}
				defer b.Close()
				go func() {
					_, _ = io.Copy(b, c)
					b.Close()
				}()
				_, _ = io.Copy(c, b)
			}()
		}
	}()
}

// startScenario starts a scenario server that greets as hostname.
func startScenario(t testing.TB, name, hostname string, conf *tls.Config) *scenario.Server {
	t.Helper()
	srv, err := scenario.Start(context.Background(), name, scenario.Options{Hostname: hostname, TLSConfig: conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// expiredTLS is a self-signed certificate for host that expired yesterday.
func expiredTLS(t testing.TB, host string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, DNSNames: []string{host},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
}

var (
	engineOnce sync.Once
	engine     *diagnose.Engine
)

func testEngine(t testing.TB) *diagnose.Engine {
	engineOnce.Do(func() {
		e, err := diagnose.New()
		if err != nil {
			t.Fatal(err)
		}
		engine = e
	})
	return engine
}

// allMXOptions are the options of a session to bob@example.test through
// the test DNS server.
func allMXOptions(t testing.TB, dns string, port int, roots *x509.CertPool) Options {
	t.Helper()
	r, err := mxlookup.NewResolver(dns)
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		To: []string{"bob@example.test"}, From: "alice@client.test", EHLO: "client.test",
		Port: port, Resolver: r, TLSConfig: &tls.Config{RootCAs: roots},
		Timeout: 700 * time.Millisecond, Engine: testEngine(t),
		ToolName: "smtpprobe", ToolVersion: "test",
	}
}

func ipv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

func mxZone(hosts ...string) dnstest.Zone {
	var mx []dnstest.MX
	for i, h := range hosts {
		mx = append(mx, dnstest.MX{Preference: uint16(10 * (i + 1)), Host: h + ".example.test."})
	}
	return dnstest.Zone{"example.test.": {MX: mx}}
}

// TestAllMXMatrix runs one session per address against five MX hosts that
// each fail (or succeed) differently, and checks the matrix, the
// differences in words, the exit code rule and the summary.
func TestAllMXMatrix(t *testing.T) {
	v6 := ipv6Loopback()
	roots := x509.NewCertPool()
	ok1 := startScenario(t, "ok", "mx1.example.test", nil)
	roots.AddCert(ok1.Certificate)
	blocked := startScenario(t, "blocklisted-ip", "mx2.example.test", nil)
	expired := expiredTLS(t, "mx5.example.test")
	roots.AddCert(expired.Certificates[0].Leaf)
	ok5 := startScenario(t, "ok", "other.example.test", expired)

	hosts := []loopHost{
		{ip: "127.0.0.2", backend: ok1.Addr},
		{ip: "127.0.0.3", backend: blocked.Addr},
		{ip: "127.0.0.4", kind: loopClosed},
		{ip: "127.0.0.5", kind: loopSilent},
		{ip: "127.0.0.6", backend: ok5.Addr},
	}
	if v6 {
		hosts = append(hosts, loopHost{ip: "::1", kind: loopSilent})
	}
	port := sharedPort(t, hosts)
	zone := mxZone("mx1", "mx2", "mx3", "mx4", "mx5")
	zone["mx1.example.test."] = dnstest.Records{A: []string{"127.0.0.2"}}
	if v6 {
		zone["mx1.example.test."] = dnstest.Records{A: []string{"127.0.0.2"}, AAAA: []string{"::1"}}
	}
	zone["mx2.example.test."] = dnstest.Records{A: []string{"127.0.0.3"}}
	zone["mx3.example.test."] = dnstest.Records{A: []string{"127.0.0.4"}}
	zone["mx4.example.test."] = dnstest.Records{A: []string{"127.0.0.5"}}
	zone["mx5.example.test."] = dnstest.Records{A: []string{"127.0.0.6"}}
	dns := dnstest.Start(t, zone)

	o := allMXOptions(t, dns, port, roots)
	report, err := RunAllMX(context.Background(), o, DefaultAllMXParallel)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		host    string
		pref    int
		addr    string
		exit    int
		phase   string
		failure string
		cert    string
		banner  string
	}
	want := []row{
		{"mx1.example.test", 10, "127.0.0.2", 0, "end-of-data", "", "verified", "mx1.example.test"},
		{"mx2.example.test", 20, "127.0.0.3", 21, "banner", "reply", "-", ""},
		{"mx3.example.test", 30, "127.0.0.4", 2, "connect", "refused", "-", ""},
		{"mx4.example.test", 40, "127.0.0.5", 21, "banner", "timeout", "-", ""},
		{"mx5.example.test", 50, "127.0.0.6", 0, "end-of-data", "", "certificate-expired", "other.example.test"},
	}
	if v6 {
		want = slices.Insert(want, 1, row{"mx1.example.test", 10, "::1", 21, "banner", "timeout", "-", ""})
	}
	var got []row
	for _, e := range report.MXMatrix {
		got = append(got, row{e.Host, e.Preference, e.Address, e.Result.ExitCode, e.Result.Phase, e.Failure, e.CertColumn(), e.Banner})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("matrix\n got %+v\nwant %+v", got, want)
	}
	mx2 := report.MXMatrix[slices.IndexFunc(report.MXMatrix, func(e transcript.MXEntry) bool { return e.Host == "mx2.example.test" })]
	if mx2.Diagnosis == nil || mx2.Diagnosis.Category != "ip-blocklisted" || !strings.Contains(strings.Join(mx2.Result.Reply.Lines, " "), "blocked using") {
		t.Errorf("mx2: diagnosis %+v, reply %+v: want ip-blocklisted from the 'blocked using' reply", mx2.Diagnosis, mx2.Result.Reply)
	}
	for _, e := range report.MXMatrix {
		if len(e.Events) == 0 || e.DurationMS <= 0 {
			t.Errorf("%s: no transcript or duration", e.Name())
		}
		if e.Result.OK && (e.TLS == nil || e.TLS.ServerName != e.Host) {
			t.Errorf("%s: TLS %+v, want SNI/verification name %s", e.Name(), e.TLS, e.Host)
		}
	}

	accepted := "mx1.example.test (127.0.0.2) and mx5.example.test (127.0.0.6) accept"
	wantDiff := []string{
		"mx4.example.test (127.0.0.5) times out waiting for the greeting while " + accepted,
		"mx2.example.test (127.0.0.3) refuses at the greeting with 554 5.7.1 (ip-blocklisted) while " + accepted,
		"mx3.example.test (127.0.0.4) refuses connections while " + accepted,
		"only the certificate of mx5.example.test (127.0.0.6) has expired",
		"the banner names differ: mx1.example.test (127.0.0.2) greets as mx1.example.test; mx5.example.test (127.0.0.6) greets as other.example.test",
	}
	wantExit, wantChosen, wantSummary := 21, "127.0.0.3", "3 of 5 addresses failed; exit 21 is that of mx2.example.test (127.0.0.3), the most preferred address that failed"
	if v6 {
		wantDiff = slices.Insert(wantDiff, 0, "the IPv6 address of mx1.example.test (::1) times out waiting for the greeting while its IPv4 address (127.0.0.2) works")
		wantChosen, wantSummary = "::1", "4 of 6 addresses failed; exit 21 is that of mx1.example.test (::1), the most preferred address that failed"
	}
	if !slices.Equal(report.MXDifferences, wantDiff) {
		t.Errorf("differences\n got %q\nwant %q", report.MXDifferences, wantDiff)
	}
	if report.Result.ExitCode != wantExit || report.Result.OK || report.MXSummary != wantSummary {
		t.Errorf("result exit %d ok %v, summary %q; want exit %d and %q", report.Result.ExitCode, report.Result.OK, report.MXSummary, wantExit, wantSummary)
	}
	if host, _, _ := net.SplitHostPort(report.Target.Address); host != wantChosen || report.Target.Domain != "example.test" || report.Target.Source != "mx" || report.Diagnosis == nil {
		t.Errorf("top-level target %+v, diagnosis %v: want the chosen address %s", report.Target, report.Diagnosis, wantChosen)
	}

	// JSON: the contract keys of every entry, and the run's keys.
	var buf bytes.Buffer
	if err := transcript.WriteJSON(&buf, report); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		MXMatrix      []map[string]json.RawMessage `json:"mx_matrix"`
		MXDifferences []string                     `json:"mx_differences"`
		Result        struct {
			ExitCode int `json:"exit_code"`
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.MXMatrix) != len(want) || len(doc.MXDifferences) != len(wantDiff) || doc.Result.ExitCode != wantExit {
		t.Fatalf("JSON: %d entries, %d differences, exit %d", len(doc.MXMatrix), len(doc.MXDifferences), doc.Result.ExitCode)
	}
	for _, k := range []string{"host", "preference", "address", "result", "tls", "diagnosis", "duration_ms", "transcript", "steps"} {
		if _, ok := doc.MXMatrix[0][k]; !ok {
			t.Errorf("mx_matrix entry without %q: %s", k, buf.String()[:min(buf.Len(), 400)])
		}
	}

	// Text: the matrix, then the differences, then the summary.
	buf.Reset()
	if err := transcript.WriteMatrix(&buf, report, transcript.MatrixOptions{}); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	h, d, s := strings.Index(text, "HOST "), strings.Index(text, "Differences:"), strings.Index(text, wantSummary)
	if h < 0 || d < h || s < d || !strings.Contains(text, "refuses connections") {
		t.Errorf("text output out of order or incomplete:\n%s", text)
	}
	t.Logf("\n%s", text)
}

// TestAllMXExitIsMostPreferredFailure: a refused connection on the second
// MX and a refusing banner on the third give the second's exit code (2),
// and the sentence names the host that accepts.
func TestAllMXExitIsMostPreferredFailure(t *testing.T) {
	roots := x509.NewCertPool()
	ok1 := startScenario(t, "ok", "mx1.example.test", nil)
	roots.AddCert(ok1.Certificate)
	blocked := startScenario(t, "blocklisted-ip", "mx3.example.test", nil)
	port := sharedPort(t, []loopHost{{ip: "127.0.0.2", backend: ok1.Addr}, {ip: "127.0.0.3", kind: loopClosed}, {ip: "127.0.0.4", backend: blocked.Addr}})
	zone := mxZone("mx1", "mx2", "mx3")
	zone["mx1.example.test."] = dnstest.Records{A: []string{"127.0.0.2"}}
	zone["mx2.example.test."] = dnstest.Records{A: []string{"127.0.0.3"}}
	zone["mx3.example.test."] = dnstest.Records{A: []string{"127.0.0.4"}}
	o := allMXOptions(t, dnstest.Start(t, zone), port, roots)
	report, err := RunAllMX(context.Background(), o, 2)
	if err != nil {
		t.Fatal(err)
	}
	if report.Result.ExitCode != smtpclient.ExitConnect {
		t.Errorf("exit %d, want 2 (mx2, the most preferred failure)", report.Result.ExitCode)
	}
	if want := "2 of 3 addresses failed; exit 2 is that of mx2.example.test (127.0.0.3), the most preferred address that failed"; report.MXSummary != want {
		t.Errorf("summary %q, want %q", report.MXSummary, want)
	}
	if want := "mx2.example.test (127.0.0.3) refuses connections while mx1.example.test (127.0.0.2) accepts"; !slices.Contains(report.MXDifferences, want) {
		t.Errorf("differences %q lack %q", report.MXDifferences, want)
	}
}

// TestAllMXAllSucceedInParallel: five MX hosts that each wait 200 ms
// before their banner take about 200 ms together, not 1 s; with two
// sessions at a time, four hosts take two rounds. The message comes from
// standard input, read once and sent in full by every session.
func TestAllMXAllSucceedInParallel(t *testing.T) {
	const delay = 200 * time.Millisecond
	conf, err := scenario.SelfSignedTLS("mx1.example.test", "mx2.example.test", "mx3.example.test", "mx4.example.test", "mx5.example.test")
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	var hosts []loopHost
	zone := mxZone("mx1", "mx2", "mx3", "mx4", "mx5")
	for i := 1; i <= 5; i++ {
		srv := startScenario(t, "ok", fmt.Sprintf("mx%d.example.test", i), conf)
		roots.AddCert(srv.Certificate)
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		hosts = append(hosts, loopHost{ip: ip, backend: srv.Addr, delay: delay})
		zone[fmt.Sprintf("mx%d.example.test.", i)] = dnstest.Records{A: []string{ip}}
	}
	port := sharedPort(t, hosts)
	dns := dnstest.Start(t, zone)

	o := allMXOptions(t, dns, port, roots)
	o.Timeout = 5 * time.Second
	stdin := &countingReader{r: strings.NewReader("Subject: from stdin\r\n\r\n" + strings.Repeat("line of the body\r\n", 2000))}
	o.Message = compose.Options{Data: "-", Stdin: stdin, NoDataFixup: true}
	start := time.Now()
	report, err := RunAllMX(context.Background(), o, DefaultAllMXParallel)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if report.Result.ExitCode != 0 || !report.Result.OK || report.MXSummary != "all 5 addresses succeeded (exit 0)" || len(report.MXDifferences) != 0 || report.MXDifferences == nil {
		t.Fatalf("exit %d, summary %q, differences %q", report.Result.ExitCode, report.MXSummary, report.MXDifferences)
	}
	if elapsed >= 800*time.Millisecond {
		t.Errorf("5 addresses with a 200 ms banner each took %v: the sessions did not run in parallel", elapsed)
	}
	if stdin.eofs != 1 {
		t.Errorf("standard input read to its end %d times, want once", stdin.eofs)
	}
	for _, e := range report.MXMatrix {
		if !strings.Contains(e.Result.MessageFate, "accepted") || !hasDataOfSize(e, 23+2000*18) {
			for _, s := range e.Steps {
				t.Logf("%s %q", s.Phase, s.Command)
			}
			for _, ev := range e.Events {
				if strings.Contains(ev.Text, "bytes") {
					t.Logf("%q", ev.Text)
				}
			}
			t.Errorf("%s: fate %q; the whole message was not sent", e.Name(), e.Result.MessageFate)
		}
	}
	t.Logf("5 addresses, banner delay %v each, in parallel: %v", delay, elapsed.Round(time.Millisecond))

	// The bound holds: 2 at a time means two rounds for four hosts.
	o.Message = compose.Options{}
	zone4 := mxZone("mx1", "mx2", "mx3", "mx4")
	for i := 1; i <= 4; i++ {
		zone4[fmt.Sprintf("mx%d.example.test.", i)] = zone[fmt.Sprintf("mx%d.example.test.", i)]
	}
	o.Resolver, _ = mxlookup.NewResolver(dnstest.Start(t, zone4))
	start = time.Now()
	report, err = RunAllMX(context.Background(), o, 2)
	elapsed = time.Since(start)
	if err != nil || report.Result.ExitCode != 0 || len(report.MXMatrix) != 4 {
		t.Fatalf("err %v, exit %d, %d entries", err, report.Result.ExitCode, len(report.MXMatrix))
	}
	if elapsed < 2*delay-20*time.Millisecond {
		t.Errorf("4 addresses, 2 at a time, took %v: more than 2 sessions ran at once", elapsed)
	}
}

// hasDataOfSize reports whether the session declared SIZE=n in MAIL FROM.
func hasDataOfSize(e transcript.MXEntry, n int) bool {
	for _, s := range e.Steps {
		if s.Phase == "mail" && strings.Contains(s.Command, "SIZE="+strconv.Itoa(n)) {
			return true
		}
	}
	return false
}

type countingReader struct {
	r    io.Reader
	eofs int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if err == io.EOF {
		c.eofs++
	}
	return n, err
}

// TestAllMXNetworkFamily: -4 and -6 leave out the other family's
// addresses.
func TestAllMXNetworkFamily(t *testing.T) {
	if !ipv6Loopback() {
		t.Skip("no IPv6 loopback")
	}
	port := sharedPort(t, []loopHost{{ip: "127.0.0.2", kind: loopSilent}, {ip: "::1", kind: loopSilent}})
	zone := mxZone("mx1")
	zone["mx1.example.test."] = dnstest.Records{A: []string{"127.0.0.2"}, AAAA: []string{"::1"}}
	dns := dnstest.Start(t, zone)
	for network, want := range map[string]string{"tcp4": "127.0.0.2", "tcp6": "::1"} {
		o := allMXOptions(t, dns, port, nil)
		o.Network, o.Timeout, o.QuitAfter = network, 100*time.Millisecond, "banner"
		report, err := RunAllMX(context.Background(), o, 4)
		if err != nil {
			t.Fatal(err)
		}
		if len(report.MXMatrix) != 1 || report.MXMatrix[0].Address != want {
			t.Errorf("%s: %d entries, first %+v; want only %s", network, len(report.MXMatrix), report.MXMatrix, want)
		}
	}
}

// TestAllMXBadInput: the parallel bound is a usage error, and the DNS
// failures of a single session end the report the same way.
func TestAllMXBadInput(t *testing.T) {
	for _, p := range []int{0, -1, MaxAllMXParallel + 1} {
		if _, err := RunAllMX(context.Background(), Options{To: []string{"a@example.test"}}, p); !IsUsage(err) {
			t.Errorf("parallel %d: %v, want a usage error", p, err)
		}
	}
	if _, err := RunAllMX(context.Background(), Options{}, 8); !IsUsage(err) {
		t.Errorf("no recipient: %v, want a usage error", err)
	}
	dns := dnstest.Start(t, dnstest.Zone{"nomail.test.": {MX: dnstest.NullMX()}})
	for to, category := range map[string]string{"a@nomail.test": "no-service", "a@nowhere.test": "recipient-unknown"} {
		o := allMXOptions(t, dns, 25, nil)
		o.To = []string{to}
		report, err := RunAllMX(context.Background(), o, 8)
		if err != nil {
			t.Fatal(err)
		}
		if report.Result.ExitCode != smtpclient.ExitConnect || report.Diagnosis == nil || report.Diagnosis.Category != category ||
			report.MXMatrix == nil || len(report.MXMatrix) != 0 || !strings.HasPrefix(report.MXSummary, "no address probed") {
			t.Errorf("%s: exit %d, diagnosis %+v, matrix %v, summary %q", to, report.Result.ExitCode, report.Diagnosis, report.MXMatrix, report.MXSummary)
		}
	}
}

// TestAllMXCap: a host with 70 addresses is probed on the first 64.
func TestAllMXCap(t *testing.T) {
	var a []string
	for i := 1; i <= 70; i++ {
		a = append(a, fmt.Sprintf("127.0.1.%d", i))
	}
	zone := mxZone("mx1")
	zone["mx1.example.test."] = dnstest.Records{A: a}
	port := sharedPort(t, []loopHost{{ip: "127.0.0.2", kind: loopSilent}}) // a port, nothing on 127.0.1.x
	o := allMXOptions(t, dnstest.Start(t, zone), port, nil)
	o.QuitAfter = "banner"
	report, err := RunAllMX(context.Background(), o, MaxAllMXParallel)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.MXMatrix) != MaxAllMXAddresses || report.MXSkipped != 70-MaxAllMXAddresses {
		t.Fatalf("%d entries, %d skipped", len(report.MXMatrix), report.MXSkipped)
	}
	if report.MXSummary != "64 of 64 addresses failed; exit 2 is that of mx1.example.test (127.0.1.1), the most preferred address that failed" {
		t.Errorf("summary %q", report.MXSummary)
	}
	if len(report.MXDifferences) != 0 {
		t.Errorf("all refuse alike, yet differences %q", report.MXDifferences)
	}
}

// TestAllMXInterrupted: Ctrl-C ends every running session at once and the
// run exits 130.
func TestAllMXInterrupted(t *testing.T) {
	port := sharedPort(t, []loopHost{{ip: "127.0.0.2", kind: loopSilent}, {ip: "127.0.0.3", kind: loopSilent}})
	zone := mxZone("mx1", "mx2")
	zone["mx1.example.test."] = dnstest.Records{A: []string{"127.0.0.2"}}
	zone["mx2.example.test."] = dnstest.Records{A: []string{"127.0.0.3"}}
	o := allMXOptions(t, dnstest.Start(t, zone), port, nil)
	o.Timeout = 10 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	report, err := RunAllMX(ctx, o, 8)
	if err != nil {
		t.Fatal(err)
	}
	if report.Result.ExitCode != smtpclient.ExitInterrupted || time.Since(start) > 3*time.Second || !strings.HasPrefix(report.MXSummary, "interrupted") {
		t.Errorf("exit %d after %v, summary %q: want 130 at once", report.Result.ExitCode, time.Since(start), report.MXSummary)
	}
}

// TestSharedMessage: every reader sees the whole message, in memory or
// spooled to a file, even read at the same time.
func TestSharedMessage(t *testing.T) {
	for _, size := range []int{1000, sharedInMemory + 4096} {
		body := strings.Repeat("x", size-len("Subject: s\r\n\r\n")-2)
		o := Options{From: "a@b.test", To: []string{"c@d.test"}, EHLO: "client.test", Now: time.Now,
			Message: compose.Options{Data: "-", Stdin: strings.NewReader("Subject: s\r\n\r\n" + body + "\r\n"), NoDataFixup: true}}
		m, err := buildShared(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if (m.file != nil) != (size > sharedInMemory) {
			t.Errorf("size %d: spooled to a file %v", size, m.file != nil)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, n, _ := m.open()
				b, err := io.ReadAll(r)
				if err != nil || int64(len(b)) != n || !strings.HasSuffix(string(b), "x\r\n") {
					t.Errorf("size %d: read %d of %d bytes, %v", size, len(b), n, err)
				}
			}()
		}
		wg.Wait()
		m.close()
	}
}

// BenchmarkAllMX10 measures --all-mx against ten loopback MX hosts that
// each wait 200 ms before their banner (bench/allmx.sh runs it): the run
// should take about one banner delay, well under a second.
func BenchmarkAllMX10(b *testing.B) {
	const delay = 200 * time.Millisecond
	var names, fqdns []string
	var hosts []loopHost
	for i := 1; i <= 10; i++ {
		fqdns = append(fqdns, fmt.Sprintf("mx%d.example.test", i))
	}
	conf, err := scenario.SelfSignedTLS(fqdns...)
	if err != nil {
		b.Fatal(err)
	}
	roots := x509.NewCertPool()
	zone := dnstest.Zone{}
	for i := 1; i <= 10; i++ {
		name := fmt.Sprintf("mx%d", i)
		names = append(names, name)
		srv := startScenario(b, "ok", name+".example.test", conf)
		roots.AddCert(srv.Certificate)
		ip := fmt.Sprintf("127.0.0.%d", i+1)
		hosts = append(hosts, loopHost{ip: ip, backend: srv.Addr, delay: delay})
		zone[name+".example.test."] = dnstest.Records{A: []string{ip}}
	}
	for k, v := range mxZone(names...) {
		zone[k] = v
	}
	port := sharedPort(b, hosts)
	o := allMXOptions(b, dnstest.Start(b, zone), port, roots)
	o.Timeout = 5 * time.Second
	var worst time.Duration
	for b.Loop() {
		start := time.Now()
		report, err := RunAllMX(context.Background(), o, DefaultAllMXParallel)
		if err != nil || report.Result.ExitCode != 0 || len(report.MXMatrix) != 10 {
			b.Fatalf("err %v, exit %d, %d entries, %q", err, report.Result.ExitCode, len(report.MXMatrix), report.MXDifferences)
		}
		worst = max(worst, time.Since(start))
	}
	b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
}

// fakeRun is one address's session for the differences tests.
func fakeRun(host, ip string, p phrase, tlsInfo *transcript.TLSInfo, startTLS bool) mxRun {
	ok := p.kind == ""
	e := transcript.MXEntry{Host: host, Address: ip, Outcome: p.one, Failure: p.kind, Result: transcript.Result{OK: ok}, TLS: tlsInfo}
	if ok {
		e.Steps = []transcript.Step{{Phase: "helo", Reply: &transcript.Reply{Code: 250}}}
	}
	res := &smtpclient.Result{TLSActive: tlsInfo != nil && tlsInfo.HandshakeError == "", StartTLS: startTLS}
	return mxRun{entry: e, phrase: p, ip: net.ParseIP(ip), res: res, report: &transcript.Report{Target: transcript.Target{TLSMode: "optional"}}}
}

// TestDifferencesInWords pins the sentences for the shapes the matrix
// test does not reach: TLS use and versions, several certificate verdicts,
// many agreeing addresses, a host split within one family, plurals.
func TestDifferencesInWords(t *testing.T) {
	accepts, refused, timeout := verb("accepts", "", ""), verb("refuses", "connections", "refused"), verb("times", "out at connect", "timeout")
	tls13 := &transcript.TLSInfo{Version: "TLS 1.3", Verified: true}
	tls12 := &transcript.TLSInfo{Version: "TLS 1.2", Verified: true}
	bad := func(rt string) *transcript.TLSInfo {
		return &transcript.TLSInfo{Version: "TLS 1.3", ResultType: transcript.NullString(rt)}
	}
	tests := []struct {
		name string
		runs []mxRun
		want []string
	}{
		{"tls use and version", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", accepts, tls13, true),
			fakeRun("mx1.example.org", "192.0.2.11", accepts, tls13, true),
			fakeRun("mx2.example.org", "192.0.2.2", accepts, tls12, true),
			fakeRun("mx3.example.org", "192.0.2.3", accepts, nil, false),
		}, []string{
			"mx3.example.org (192.0.2.3) does not offer STARTTLS while mx1.example.org (both addresses) and mx2.example.org (192.0.2.2) use TLS",
			"mx2.example.org (192.0.2.2) negotiates TLS 1.2 while mx1.example.org (both addresses) negotiates TLS 1.3",
		}},
		{"only some certificates", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", accepts, tls13, true),
			fakeRun("mx2.example.org", "192.0.2.2", accepts, bad("certificate-host-mismatch"), true),
			fakeRun("mx3.example.org", "192.0.2.3", accepts, bad("certificate-host-mismatch"), true),
		}, []string{"only the certificates of mx2.example.org (192.0.2.2) and mx3.example.org (192.0.2.3) do not match the host name"}},
		{"several verdicts", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", accepts, tls13, true),
			fakeRun("mx2.example.org", "192.0.2.2", accepts, bad("certificate-expired"), true),
			fakeRun("mx3.example.org", "192.0.2.3", accepts, bad("certificate-not-trusted"), true),
		}, []string{
			"the certificate of mx2.example.org (192.0.2.2) has expired while that of mx1.example.org (192.0.2.1) verifies",
			"the certificate of mx3.example.org (192.0.2.3) is not trusted while that of mx1.example.org (192.0.2.1) verifies",
		}},
		{"many agree", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", accepts, nil, false),
			fakeRun("mx2.example.org", "192.0.2.2", accepts, nil, false),
			fakeRun("mx3.example.org", "192.0.2.3", accepts, nil, false),
			fakeRun("mx4.example.org", "192.0.2.4", accepts, nil, false),
			fakeRun("mx5.example.org", "192.0.2.5", refused, nil, false),
			fakeRun("mx6.example.org", "192.0.2.6", refused, nil, false),
		}, []string{"mx5.example.org (192.0.2.5) and mx6.example.org (192.0.2.6) refuse connections while the 4 other addresses accept"}},
		{"no success: the commonest is the reference", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", timeout, nil, false),
			fakeRun("mx2.example.org", "192.0.2.2", refused, nil, false),
			fakeRun("mx3.example.org", "192.0.2.3", refused, nil, false),
		}, []string{"mx1.example.org (192.0.2.1) times out at connect while mx2.example.org (192.0.2.2) and mx3.example.org (192.0.2.3) refuse connections"}},
		{"one family disagrees within itself", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", accepts, nil, false),
			fakeRun("mx1.example.org", "192.0.2.11", refused, nil, false),
			fakeRun("mx2.example.org", "192.0.2.2", accepts, nil, false),
		}, []string{"the addresses of mx1.example.org disagree: 192.0.2.1 works; 192.0.2.11 refuses connections"}},
		{"families in the plural", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", accepts, nil, false),
			fakeRun("mx1.example.org", "192.0.2.11", accepts, nil, false),
			fakeRun("mx1.example.org", "2001:db8::1", timeout, nil, false),
			fakeRun("mx1.example.org", "2001:db8::11", timeout, nil, false),
		}, []string{"the IPv6 addresses of mx1.example.org (2001:db8::1, 2001:db8::11) time out at connect while its IPv4 addresses (192.0.2.1, 192.0.2.11) work"}},
		{"all alike", []mxRun{
			fakeRun("mx1.example.org", "192.0.2.1", refused, nil, false),
			fakeRun("mx2.example.org", "192.0.2.2", refused, nil, false),
		}, []string{}},
	}
	for _, tt := range tests {
		if got := differences(tt.runs); !slices.Equal(got, tt.want) || got == nil {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

// TestAllMXImplicitAndServer: a domain without MX is probed at its own
// addresses (implicit MX), and -s HOST probes every address of that host.
func TestAllMXImplicitAndServer(t *testing.T) {
	port := sharedPort(t, []loopHost{{ip: "127.0.0.2", kind: loopSilent}, {ip: "127.0.0.3", kind: loopClosed}})
	dns := dnstest.Start(t, dnstest.Zone{
		"example.test.":     {A: []string{"127.0.0.2", "127.0.0.3"}},
		"mx9.example.test.": {A: []string{"127.0.0.3", "127.0.0.2"}},
	})
	o := allMXOptions(t, dns, port, nil)
	o.Timeout, o.QuitAfter = 200*time.Millisecond, "banner"
	report, err := RunAllMX(context.Background(), o, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.MXMatrix) != 2 || !report.MXMatrix[0].Implicit || report.Target.Source != "implicit-mx" || report.Result.ExitCode != 21 {
		t.Fatalf("implicit MX: %+v, target %+v, exit %d", report.MXMatrix, report.Target, report.Result.ExitCode)
	}
	if want := []string{"the addresses of example.test disagree: 127.0.0.2 times out waiting for the greeting; 127.0.0.3 refuses connections"}; !slices.Equal(report.MXDifferences, want) {
		t.Errorf("differences %q, want %q", report.MXDifferences, want)
	}
	o.Server = "mx9.example.test"
	report, err = RunAllMX(context.Background(), o, 8)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.MXMatrix) != 2 || report.MXMatrix[0].Address != "127.0.0.3" || report.Target.Source != "server" || report.Result.ExitCode != 2 {
		t.Fatalf("-s: %+v, target %+v, exit %d", report.MXMatrix, report.Target, report.Result.ExitCode)
	}
}
