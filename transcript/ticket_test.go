package transcript_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"flag"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/examples/scenario"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

var updateReports = flag.Bool("update", false, "rewrite the example reports in examples/reports")

var (
	engineOnce sync.Once
	engine     *diagnose.Engine
	engineErr  error
)

func testEngine(t *testing.T) *diagnose.Engine {
	t.Helper()
	engineOnce.Do(func() { engine, engineErr = diagnose.New() })
	if engineErr != nil {
		t.Fatal(engineErr)
	}
	return engine
}

// scenarioReport runs the probe against a scenario server as `probe demo`
// does, with a fixed clock for the message and the report's start.
func scenarioReport(t *testing.T, name string, conf *tls.Config, edit func(*probe.Options)) *transcript.Report {
	t.Helper()
	srv, err := scenario.Start(context.Background(), name, scenario.Options{TLSConfig: conf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate)
	o := probe.Options{
		Server: srv.Addr, From: "alice@example.com", To: []string{"bob@example.net"}, EHLO: "client.example",
		TLSConfig: &tls.Config{RootCAs: roots}, Timeout: 2 * time.Second, Engine: testEngine(t),
		ToolName: "smtpprobe", ToolVersion: "test",
		Command: []string{"probe", "--server=" + srv.Addr, "--helo=client.example"},
	}
	o.Message.Now = time.Date(2026, 11, 25, 21, 32, 39, 0, time.UTC)
	for _, a := range srv.Scenario.Args {
		k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch k {
		case "to":
			o.To = strings.Split(v, ",")
		case "from":
			o.From = v
		case "auth-user":
			o.Auth, o.AuthUser = true, v
		case "timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				t.Fatal(err)
			}
			o.Timeout = d
		case "tls":
			o.TLSMode, o.TLSModeSet = smtpclient.TLSRequired, true
		case "auth-password":
			o.AuthPassword = v
			a = "--auth-password=[redacted]"
		}
		if k != "to" && k != "from" {
			o.Command = append(o.Command, a)
		}
	}
	o.Command = append(o.Command[:2], append([]string{"--from=" + o.From, "--to=" + strings.Join(o.To, ",")}, o.Command[2:]...)...)
	if edit != nil {
		edit(&o)
	}
	r, err := probe.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`port \d{5}\b`), "port PORT"},
	{regexp.MustCompile(`--port=\d+`), "--port=PORT"},
	{regexp.MustCompile(`\[\+ *\d+\.\d+s\]`), "[+ N.NNNs]"},
	{regexp.MustCompile(`in \d+\.\d ms`), "in N ms"},
	// Today's dates (the test certificates' and the clock's), not the
	// fixed ones of the expired certificate.
	{regexp.MustCompile(`\b20(2[2-9]|[3-9]\d)-\d\d-\d\d(T\d\d:\d\d:\d\dZ| \d\d:\d\d(:\d\d)? UTC)?`), "DATE"},
	{regexp.MustCompile(`expires \d{4}-\d\d-\d\d`), "expires DATE"},
	{regexp.MustCompile(`[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}`), "DATE"},
	{regexp.MustCompile(`<[0-9a-f.]+@client\.example>`), "<MESSAGE-ID@client.example>"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "SHA256"},
	{regexp.MustCompile(`boundary="?[^"\s]+"?|--=_[0-9a-f]+`), "BOUNDARY"},
	{regexp.MustCompile(`serial [0-9a-f]+`), "serial N"},
}

var timingCell = regexp.MustCompile(`\| [0-9.]+( \(max [0-9.]+\))?`)

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	// The row of milliseconds under the timing table's header.
	lines := strings.Split(s, "\n")
	for i := 1; i < len(lines); i++ {
		if strings.HasPrefix(lines[i-1], "|---:") {
			lines[i] = timingCell.ReplaceAllString(lines[i], "| N")
		}
	}
	return strings.Join(lines, "\n")
}

func render(t *testing.T, r *transcript.Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := transcript.WriteReport(&buf, r, transcript.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("..", "examples", "reports", name+".md")
	got = normalize(got)
	if *updateReports {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./transcript -run Report -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update after checking):\n%s", path, got)
	}
}

// linesAboveTranscript counts the report's lines before its transcript.
func linesAboveTranscript(s string) int {
	before, _, _ := strings.Cut(s, "## Transcript")
	return strings.Count(before, "\n")
}

func TestReportRelayDenied(t *testing.T) {
	got := render(t, scenarioReport(t, "relay-denied", nil, nil))
	golden(t, "relay-denied", got)
	if first, _, _ := strings.Cut(got, "\n"); first != "# Rejected at RCPT TO with 554 5.7.1: `<bob@example.net>: Relay access denied` (exit 24)" {
		t.Errorf("first line %q", first)
	}
	if n := linesAboveTranscript(got); n > 40 {
		t.Errorf("%d lines above the transcript, want at most 40 for a simple rejection", n)
	}
}

func TestReportSubmissionOK(t *testing.T) {
	got := render(t, scenarioReport(t, "submission-ok", nil, nil))
	golden(t, "submission-ok", got)
	if strings.Contains(got, scenario.DemoPassword) || !strings.Contains(got, "AUTH PLAIN [redacted]") {
		t.Error("the password reached the report, or AUTH is not shown redacted")
	}
	if first, _, _ := strings.Cut(got, "\n"); first != "# Accepted for delivery: queued as `4Xyz00001` (exit 0)" {
		t.Errorf("first line %q", first)
	}
}

func TestReportTimeout(t *testing.T) {
	got := render(t, scenarioReport(t, "silent-data", nil, nil))
	if first, _, _ := strings.Cut(got, "\n"); first != "# No reply to the message (after the final dot) within 1 s (exit 26)" {
		t.Errorf("first line %q", first)
	}
	if !strings.Contains(got, "\n## Message\n| Size | 401 bytes |") || !strings.Contains(got, "| Message-ID | `<") {
		t.Error("the message sent is not identified")
	}
	golden(t, "silent-data", got)
}

func TestReportTLSExpired(t *testing.T) {
	got := render(t, scenarioReport(t, "ok", expiredTLS(t, "localhost"), func(o *probe.Options) {
		o.TLSVerify = true
		o.TLSMode, o.TLSModeSet = smtpclient.TLSRequired, true
	}))
	golden(t, "tls-expired", got)
}

// expiredTLS is a self-signed certificate for host and 127.0.0.1 that
// expired on 2021-01-01.
func expiredTLS(t *testing.T, host string) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: host},
		NotBefore: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, DNSNames: []string{host}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}
}

// TestReportMXBlocklisted runs a banner refusal found through the
// recipient domain's MX, with the sender checks it starts: the report
// names the resolver, the MX answer, the client IP the server saw and
// the checks.
func TestReportMXBlocklisted(t *testing.T) {
	dns := dnstest.Start(t, dnstest.Zone{
		"example.test.":     {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.test."}, {Preference: 20, Host: "mx2.example.test."}}},
		"mx1.example.test.": {A: []string{"127.0.0.1"}},
	})
	r, err := mxlookup.NewResolver(dns)
	if err != nil {
		t.Fatal(err)
	}
	got := render(t, scenarioReport(t, "blocklisted-ip", nil, func(o *probe.Options) {
		_, port, _ := net.SplitHostPort(o.Server)
		o.Port, _ = strconv.Atoi(port)
		o.Server, o.To, o.Resolver, o.FirstMXOnly = "", []string{"bob@example.test"}, r, true
		o.Command = []string{"probe", "--to=bob@example.test", "--from=alice@example.com", "--helo=client.example", "--port=" + port, "--dns-server=" + dns}
	}))
	golden(t, "mx-blocklisted", got)
	for _, want := range []string{"| Client IP the server saw | 127.0.0.1 |", "| MX example.test | 10 mx1.example.test, 20 mx2.example.test |", "| sender check |"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in the report", want)
		}
	}
}

// TestReportHostileServerText feeds the report a server that answers with
// table pipes, backtick runs, Markdown and HTML syntax and terminal
// escapes: nothing may reach the output raw, break a table or close a
// code span or the transcript's fence early.
func TestReportHostileServerText(t *testing.T) {
	evil := "554 5.7.1 `x` ```y``` a|b <script>alert(1)</script> *bold* [l](http://e.example) \x1b[31mred\x1b[0m\x07"
	reply := &transcript.Reply{Code: 554, EnhancedCode: "5.7.1", Lines: []string{evil}}
	r := &transcript.Report{
		Tool: transcript.Tool{Name: "smtpprobe", Version: "test"}, Command: []string{"probe", "-s", "mx|`x`"},
		Target: transcript.Target{Host: "mx.example", Port: 25, Address: "192.0.2.1:25", TLSMode: "optional"},
		Events: []transcript.Event{
			{Dir: transcript.Info, Text: "Connected to mx.example (192.0.2.1:25) from 198.51.100.7:40000 in 1.0 ms"},
			{Dir: transcript.Recv, Text: "220 mx.example ESMTP"},
			{Dir: transcript.Send, Text: "EHLO client.example"},
			{Dir: transcript.Recv, Text: "250-mx.example"},
			{Dir: transcript.Recv, Text: "250 X-EVIL|`k`\x1b[2J"},
			{Dir: transcript.Send, Text: "MAIL FROM:<a@b.example>"},
			{Dir: transcript.Recv, Unexpected: true, Text: evil},
		},
		Steps: []transcript.Step{
			{Phase: "banner", Reply: &transcript.Reply{Code: 220, Lines: []string{"220 mx.example ESMTP"}}},
			{Phase: "helo", Command: "EHLO client.example", Reply: &transcript.Reply{Code: 250, Lines: []string{"250-mx.example", "250 X-EVIL|`k`\x1b[2J"}}},
			{Phase: "mail", Command: "MAIL FROM:<a@b.example>", Reply: reply},
		},
		TLS: &transcript.TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", ServerName: "mx.example", VerifyError: "x509: `|`\x1b",
			PeerCertificates: []transcript.CertInfo{{Subject: "CN=a|b`c`\x1b[1m", Issuer: "CN=i", DNSNames: []string{"x|y"}}}},
		Result: transcript.Result{ExitCode: 23, Phase: "mail", Command: "MAIL FROM:<a@b.example>", Reply: reply, ExitMeaning: "MAIL FROM rejected"},
		Diagnosis: &diagnose.Diagnosis{Category: "policy-generic", Party: "sender", Meaning: "quoted: " + evil,
			NextSteps: []string{"# not a heading | `x`"}, Evidence: []string{"matched " + evil}, Confidence: 0.5},
	}
	got := render(t, r)
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("a control byte reached the report:\n%q", got)
	}
	// Outside code, the server's HTML and Markdown are escaped text.
	wantMeaning := "- **Meaning:** quoted: 554 5.7.1 \\`x\\` \\`\\`\\`y\\`\\`\\` a\\|b \\<script\\>alert(1)\\</script\\> \\*bold\\* \\[l\\](http://e.example) \\\\x1b\\[31mred"
	if !strings.Contains(got, wantMeaning) {
		t.Errorf("meaning not escaped:\n%s", got)
	}
	first, _, _ := strings.Cut(got, "\n")
	if want := "# Rejected at MAIL FROM with 554 5.7.1: ```` `x` ```y``` a|b <script>alert(1)</script> *bold* [l](http://e.example) \\x1b[31mred\\x1b[0m\\x07 ```` (exit 23)"; first != want {
		t.Errorf("first line\n%s\nwant\n%s", first, want)
	}
	// The transcript's fence is longer than the server's longest run.
	if !strings.Contains(got, "## Transcript\n\n````\n") {
		t.Errorf("the transcript fence is not four backticks:\n%s", got)
	}
	// Every table row has the cells of its table: no server pipe split one.
	cols := 0
	for _, line := range strings.Split(got, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(line, "|") - strings.Count(line, `\|`)
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("table row with %d cells, want %d: %s", n-1, cols-1, line)
		}
	}
	if !strings.Contains(got, `1. \# not a heading \| \`+"`x\\`") {
		t.Errorf("next step not escaped:\n%s", got)
	}
}

func TestEHLOCapabilities(t *testing.T) {
	ehlo := func(lines ...string) transcript.Step {
		return transcript.Step{Phase: "helo", Command: "EHLO c.example", Reply: &transcript.Reply{Code: 250, Lines: append([]string{"250-hi"}, lines...)}}
	}
	banner := transcript.Step{Phase: "banner", Reply: &transcript.Reply{Code: 220, Lines: []string{"220 hi"}}}
	// STARTTLS: before and after.
	c := transcript.EHLOCapabilities([]transcript.Step{banner, ehlo("250-STARTTLS", "250 SIZE 100"), {Phase: "starttls", Command: "STARTTLS"},
		{Phase: "starttls", Command: "(TLS handshake)"}, ehlo("250-AUTH PLAIN", "250 SIZE 200")})
	if strings.Join(c.BeforeTLS, ",") != "STARTTLS,SIZE 100" || strings.Join(c.AfterTLS, ",") != "AUTH PLAIN,SIZE 200" {
		t.Errorf("STARTTLS: %+v", c)
	}
	// Implicit TLS: the handshake comes before the banner.
	c = transcript.EHLOCapabilities([]transcript.Step{{Phase: "connect", Command: "(TLS handshake at connect (implicit TLS))"}, banner, ehlo("250 AUTH PLAIN")})
	if c.BeforeTLS != nil || strings.Join(c.AfterTLS, ",") != "AUTH PLAIN" {
		t.Errorf("implicit TLS: %+v", c)
	}
	// A failed handshake, then a new connection in clear.
	c = transcript.EHLOCapabilities([]transcript.Step{banner, ehlo("250 STARTTLS"), {Phase: "starttls", Command: "(TLS handshake)", Error: "boom"}, banner, ehlo("250 PIPELINING")})
	if strings.Join(c.BeforeTLS, ",") != "PIPELINING" || c.AfterTLS != nil {
		t.Errorf("fallback: %+v", c)
	}
}

// TestReportVerdicts checks the first line of reports that end in ways
// the scenarios above do not.
func TestReportVerdicts(t *testing.T) {
	tests := []struct {
		res  transcript.Result
		want string
	}{
		{transcript.Result{ExitCode: 130, Phase: "rcpt", Interrupted: true}, "# Interrupted during RCPT TO (exit 130): the report holds what happened until then"},
		{transcript.Result{ExitCode: 2, Phase: "connect", Error: "cannot connect to 192.0.2.1:25: connection refused"}, "# Could not connect: cannot connect to 192.0.2.1:25: connection refused (exit 2)"},
		{transcript.Result{ExitCode: 25, Phase: "data", Command: "DATA", Error: "no reply within 30s (--timeout) during data"}, "# No reply to DATA within 30 s (exit 25)"},
		{transcript.Result{ExitCode: 21, Phase: "banner", Error: "no reply within 1m0s (--timeout) during banner"}, "# No greeting (banner) within 60 s (exit 21)"},
		{transcript.Result{ExitCode: 24, Phase: "rcpt", Command: "RCPT TO:<b@c.example>", Reply: &transcript.Reply{Code: 450, EnhancedCode: "4.2.0", Lines: []string{"450 4.2.0 <b@c.example>: Recipient address rejected: Greylisted"}}}, "# Temporarily refused at RCPT TO with 450 4.2.0: `<b@c.example>: Recipient address rejected: Greylisted` (exit 24)"},
		{transcript.Result{OK: true, QueueID: "4Xk2", MessageFate: "accepted", AcceptedRcpts: []string{"a"}, RejectedRcpts: []string{"b"}}, "# Accepted for delivery: queued as `4Xk2`; 1 of 2 recipients refused (exit 0)"},
		{transcript.Result{OK: true, StoppedAfter: "rcpt"}, "# Stopped after RCPT as asked: no message sent (exit 0)"},
		{transcript.Result{ExitCode: 29, Phase: "starttls", Error: "TLS is required"}, "# TLS failed: the server does not offer STARTTLS (starttls-not-supported) (exit 29)"},
		{transcript.Result{ExitCode: 6, Phase: "mail", Command: "MAIL FROM:<a@b.example>", Error: "connection closed by the server"}, "# Connection closed unexpectedly during MAIL FROM (exit 6)"},
	}
	for _, tt := range tests {
		r := &transcript.Report{Result: tt.res}
		if tt.res.ExitCode == 29 {
			r.TLS = &transcript.TLSInfo{ResultType: "starttls-not-supported", VerifySummary: "the server does not offer STARTTLS"}
		}
		got := render(t, r)
		if first, _, _ := strings.Cut(got, "\n"); first != tt.want {
			t.Errorf("first line\n%s\nwant\n%s", first, tt.want)
		}
	}
}

func TestReportPartialRecipients(t *testing.T) {
	got := render(t, scenarioReport(t, "partial-rcpt", nil, nil))
	golden(t, "partial-rcpt", got)
	if first, _, _ := strings.Cut(got, "\n"); first != "# Accepted for delivery: queued as `4Xyz00001`; 1 of 2 recipients refused (exit 0)" {
		t.Errorf("first line %q", first)
	}
}

// TestReportTLSFallback: STARTTLS offered, the handshake broken, the
// message delivered in clear on a new connection.
func TestReportTLSFallback(t *testing.T) {
	got := render(t, scenarioReport(t, "broken-starttls", nil, nil))
	golden(t, "broken-starttls", got)
	if !strings.Contains(got, "| Fallback | went on in clear (reconnected)") {
		t.Errorf("the fallback is not reported:\n%s", got)
	}
}
