package relaycheck

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
)

var (
	engineOnce sync.Once
	engine     *diagnose.Engine
	engineErr  error
)

func testEngine(t *testing.T) *diagnose.Engine {
	t.Helper()
	engineOnce.Do(func() { engine, engineErr = diagnose.New() })
	if engineErr != nil {
		t.Fatalf("diagnose.New: %v", engineErr)
	}
	return engine
}

// baseOptions points the checks at addr with fast timeouts and a fixed
// EHLO name.
func baseOptions(t *testing.T, addr string, ts *testServer) Options {
	o := Options{
		Session: probe.Options{
			Server: addr, EHLO: "client.example.test", Engine: testEngine(t),
			ToolName: "smtpprobe", ToolVersion: "test",
			Resolver: noDNS{},
		},
		Local:        testUser,
		CheckTimeout: 3 * time.Second,
		RunTimeout:   30 * time.Second,
	}
	if ts != nil {
		o.Session.TLSConfig = &tls.Config{RootCAs: ts.pool}
	}
	return o
}

// withAuth adds the test credentials.
func withAuth(o Options, password string) Options {
	o.Session.Auth, o.Session.AuthUser, o.Session.AuthPassword = true, testUser, password
	return o
}

func run(t *testing.T, o Options) *Report {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c.Run(context.Background(), nil)
}

func verdicts(r *Report) map[string]Verdict {
	m := map[string]Verdict{}
	for _, c := range r.Checks {
		m[c.Name] = c.Verdict
	}
	return m
}

func TestPolicies(t *testing.T) {
	none := []string{CheckAuthValid, CheckRelayAfterAuth, CheckAuthInvalid, CheckSenderMismatch}
	tests := []struct {
		name     string
		p        policy
		implicit bool
		opts     func(Options) Options
		want     map[string]Verdict
		skipped  []string // checks that must be skip
		exit     int
		overall  Verdict
	}{
		{
			name: "proper MX",
			p:    policy{offerTLS: true},
			want: map[string]Verdict{
				CheckOpenRelay: Pass, CheckPercentHack: Pass, CheckQuotedLocal: Pass, CheckSourceRoute: Pass, CheckBangPath: Pass,
				CheckOwnDomainSender: Pass, CheckNullSender: Pass, CheckLocalDelivery: Pass,
				CheckAuthBeforeTLS: Pass, CheckStartTLS: Pass, CheckAuthMechanisms: Pass,
			},
			skipped: none, exit: ExitOK, overall: Pass,
		},
		{
			name: "open relay without TLS",
			p:    policy{openRelay: true},
			want: map[string]Verdict{
				CheckOpenRelay: Fail, CheckPercentHack: Warn, CheckQuotedLocal: Warn, CheckSourceRoute: Warn, CheckBangPath: Warn,
				CheckOwnDomainSender: Fail, CheckNullSender: Fail, CheckLocalDelivery: Pass,
				CheckAuthBeforeTLS: Pass, CheckStartTLS: Warn, CheckAuthMechanisms: Pass,
			},
			skipped: none, exit: ExitFailed, overall: Fail,
		},
		{
			name: "percent hack accepted by a catch-all MX",
			p:    policy{offerTLS: true, catchAll: true},
			want: map[string]Verdict{
				CheckOpenRelay: Pass, CheckPercentHack: Warn, CheckQuotedLocal: Warn, CheckSourceRoute: Pass, CheckBangPath: Warn,
				CheckOwnDomainSender: Pass, CheckNullSender: Pass, CheckLocalDelivery: Pass,
			},
			exit: ExitOK, overall: Warn,
		},
		{
			name: "submission requiring TLS and AUTH, senders bound to logins",
			p:    policy{offerTLS: true, offerAuth: true, requireAuth: true, senderLogin: true},
			opts: func(o Options) Options {
				o.Role = RoleSubmission
				return withAuth(o, testPassword)
			},
			want: map[string]Verdict{
				CheckOpenRelay: Pass, CheckPercentHack: Pass, CheckOwnDomainSender: Pass, CheckNullSender: Pass,
				CheckLocalDelivery: Pass, CheckAuthBeforeTLS: Pass, CheckStartTLS: Pass, CheckAuthMechanisms: Pass,
				CheckAuthValid: Pass, CheckRelayAfterAuth: Pass, CheckAuthInvalid: Pass, CheckSenderMismatch: Pass,
			},
			exit: ExitOK, overall: Pass,
		},
		{
			name: "submission that lets users spoof other domains",
			p:    policy{offerTLS: true, offerAuth: true, requireAuth: true},
			opts: func(o Options) Options {
				o.Role = RoleSubmission
				return withAuth(o, testPassword)
			},
			want: map[string]Verdict{CheckAuthValid: Pass, CheckRelayAfterAuth: Pass, CheckAuthInvalid: Pass, CheckSenderMismatch: Warn},
			exit: ExitOK, overall: Warn,
		},
		{
			name: "submission port taking unauthenticated local mail",
			p:    policy{offerTLS: true, offerAuth: true},
			opts: func(o Options) Options {
				o.Role = RoleSubmission
				return o
			},
			want:    map[string]Verdict{CheckOpenRelay: Pass, CheckLocalDelivery: Warn, CheckAuthMechanisms: Pass},
			skipped: none, exit: ExitOK, overall: Warn,
		},
		{
			name: "AUTH offered and accepted before TLS",
			p:    policy{offerTLS: true, offerAuth: true, authInClear: true, requireAuth: true},
			opts: func(o Options) Options {
				o.Role = RoleSubmission
				return withAuth(o, testPassword)
			},
			want: map[string]Verdict{CheckAuthBeforeTLS: Fail, CheckAuthMechanisms: Warn, CheckStartTLS: Pass, CheckAuthValid: Pass},
			exit: ExitFailed, overall: Fail,
		},
		{
			name: "server accepting any password",
			p:    policy{offerTLS: true, offerAuth: true, requireAuth: true, anyPassword: true},
			opts: func(o Options) Options { return withAuth(o, testPassword) },
			want: map[string]Verdict{CheckAuthValid: Pass, CheckAuthInvalid: Fail},
			exit: ExitFailed, overall: Fail,
		},
		{
			name:    "credentials refused on every mechanism",
			p:       policy{offerTLS: true, offerAuth: true, requireAuth: true, echoPassword: true},
			opts:    func(o Options) Options { return withAuth(o, "wrong-Password-99") },
			want:    map[string]Verdict{CheckAuthValid: Fail, CheckOpenRelay: Pass},
			skipped: []string{CheckRelayAfterAuth, CheckAuthInvalid, CheckSenderMismatch},
			exit:    ExitFailed, overall: Fail,
		},
		{
			name: "no bad password",
			p:    policy{offerTLS: true, offerAuth: true, requireAuth: true},
			opts: func(o Options) Options {
				o.NoBadPassword = true
				o.Role = RoleSubmission
				return withAuth(o, testPassword)
			},
			want:    map[string]Verdict{CheckAuthValid: Pass, CheckRelayAfterAuth: Pass},
			skipped: []string{CheckAuthInvalid},
			exit:    ExitOK,
		},
		{
			name:     "implicit TLS submission",
			p:        policy{offerAuth: true, requireAuth: true, senderLogin: true},
			implicit: true,
			opts: func(o Options) Options {
				o.Session.TLSMode, o.Session.TLSModeSet = smtpclient.TLSImplicit, true
				o.Role = RoleSubmission
				return withAuth(o, testPassword)
			},
			want: map[string]Verdict{
				CheckOpenRelay: Pass, CheckLocalDelivery: Pass, CheckAuthBeforeTLS: Pass, CheckStartTLS: Pass,
				CheckAuthMechanisms: Pass, CheckAuthValid: Pass, CheckRelayAfterAuth: Pass, CheckAuthInvalid: Pass, CheckSenderMismatch: Pass,
			},
			exit: ExitOK, overall: Pass,
		},
		{
			name: "certificate not trusted on a submission port",
			p:    policy{offerTLS: true, offerAuth: true, requireAuth: true},
			opts: func(o Options) Options {
				o.Session.TLSConfig = nil
				o.Role = RoleSubmission
				return o
			},
			want: map[string]Verdict{CheckStartTLS: Fail},
			exit: ExitFailed,
		},
		{
			// Refused for its IP, the client learns nothing about relaying:
			// a pass would be a false all-clear.
			name: "client IP blocklisted at RCPT",
			p:    policy{offerTLS: true, openRelay: true, blockClient: true},
			want: map[string]Verdict{CheckOpenRelay: Inconclusive, CheckPercentHack: Inconclusive, CheckOwnDomainSender: Inconclusive, CheckNullSender: Inconclusive, CheckLocalDelivery: Inconclusive},
			exit: ExitOK,
		},
		{
			name: "null sender refused at MAIL",
			p:    policy{offerTLS: true, rejectNullFrom: true},
			want: map[string]Verdict{CheckNullSender: Warn, CheckOpenRelay: Pass},
			exit: ExitOK, overall: Warn,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, tc.p, tc.implicit)
			o := baseOptions(t, ts.addr, ts)
			if tc.opts != nil {
				o = tc.opts(o)
			}
			r := run(t, o)
			got := verdicts(r)
			if len(r.Checks) != len(CheckNames()) {
				t.Errorf("%d checks, want %d", len(r.Checks), len(CheckNames()))
			}
			for i, name := range CheckNames() {
				if i < len(r.Checks) && r.Checks[i].Name != name {
					t.Errorf("check %d is %s, want %s", i, r.Checks[i].Name, name)
				}
			}
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: %s, want %s (%s)", name, got[name], want, detailOf(r, name))
				}
			}
			for _, name := range tc.skipped {
				if got[name] != Skip {
					t.Errorf("%s: %s, want skip (%s)", name, got[name], detailOf(r, name))
				}
			}
			if r.ExitCode != tc.exit {
				t.Errorf("exit %d, want %d", r.ExitCode, tc.exit)
			}
			if tc.overall != "" && r.Verdict != tc.overall {
				t.Errorf("verdict %s, want %s", r.Verdict, tc.overall)
			}
			if n := ts.dataCount(); n != 0 {
				t.Errorf("%d messages sent without --send", n)
			}
			for _, c := range r.Checks {
				if c.Detail == "" {
					t.Errorf("%s: empty detail", c.Name)
				}
			}
			if t.Failed() {
				var b bytes.Buffer
				_ = WriteText(&b, r, TextOptions{Transcripts: true})
				t.Log(b.String())
			}
		})
	}
}

func detailOf(r *Report, name string) string {
	for _, c := range r.Checks {
		if c.Name == name {
			return c.Detail + " | reply: " + c.Reply
		}
	}
	return "no such check"
}

func TestRefusalsCarryDiagnosisAndReply(t *testing.T) {
	ts := startServer(t, policy{offerTLS: true}, false)
	r := run(t, baseOptions(t, ts.addr, ts))
	for _, c := range r.Checks {
		if c.Name != CheckOpenRelay && c.Name != CheckSourceRoute {
			continue
		}
		if !strings.Contains(c.Reply, "Relay access denied") {
			t.Errorf("%s: reply %q, want the 554 Relay access denied", c.Name, c.Reply)
		}
		if c.Diagnosis == nil || c.Diagnosis.Category != "relay-denied" {
			t.Errorf("%s: diagnosis %+v, want relay-denied", c.Name, c.Diagnosis)
		}
		if !strings.HasPrefix(c.Command, "RCPT TO:<") {
			t.Errorf("%s: command %q", c.Name, c.Command)
		}
	}
}

func TestSendCompletesTransactions(t *testing.T) {
	tests := []struct {
		name  string
		p     policy
		auth  bool
		want  map[string]Verdict
		sent  int
		reply string
	}{
		{name: "MX delivers local mail", p: policy{offerTLS: true},
			want: map[string]Verdict{CheckLocalDelivery: Pass, CheckOpenRelay: Pass}, sent: 1},
		{name: "open relay relays", p: policy{openRelay: true},
			want: map[string]Verdict{CheckOpenRelay: Fail, CheckPercentHack: Fail, CheckNullSender: Fail}},
		{name: "authenticated relay delivers", p: policy{offerTLS: true, offerAuth: true, requireAuth: true, senderLogin: true}, auth: true,
			want: map[string]Verdict{CheckRelayAfterAuth: Pass, CheckSenderMismatch: Pass}, sent: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.p, false)
			o := baseOptions(t, ts.addr, ts)
			o.Send = true
			if tc.auth {
				o = withAuth(o, testPassword)
				o.Role = RoleSubmission
			}
			r := run(t, o)
			got := verdicts(r)
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: %s, want %s (%s)", name, got[name], want, detailOf(r, name))
				}
			}
			if tc.sent > 0 && ts.dataCount() != tc.sent {
				t.Errorf("%d messages sent, want %d", ts.dataCount(), tc.sent)
			}
			if tc.sent == 0 && ts.dataCount() == 0 {
				t.Errorf("--send sent no message")
			}
		})
	}
}

func TestUnreachableAndBrokenServers(t *testing.T) {
	tests := []struct {
		name    string
		addr    func(t *testing.T) string
		opts    func(Options) Options
		exit    int
		errHas  string
		maxTime time.Duration
	}{
		{name: "closed port", addr: closedPort, exit: ExitUnreachable, errHas: "connect", maxTime: 5 * time.Second},
		{name: "HTTP server", addr: func(t *testing.T) string { return startRaw(t, httpServer) }, exit: ExitUnreachable, errHas: "BANNER", maxTime: 5 * time.Second},
		{name: "TLS-only port spoken to in clear", addr: func(t *testing.T) string { return startServer(t, policy{}, true).addr },
			exit: ExitUnreachable, errHas: "failed at BANNER", maxTime: 5 * time.Second},
		// Implicit TLS against a cleartext server reaches it: TestBrokenImplicitTLS.
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := baseOptions(t, tc.addr(t), nil)
			o.CheckTimeout = 1 * time.Second
			if tc.opts != nil {
				o = tc.opts(o)
			}
			start := time.Now()
			r := run(t, o)
			if d := time.Since(start); d > tc.maxTime {
				t.Errorf("took %s, want under %s", d, tc.maxTime)
			}
			if r.ExitCode != tc.exit || r.Reachable {
				t.Errorf("exit %d reachable %v, want exit %d, unreachable", r.ExitCode, r.Reachable, tc.exit)
			}
			if !strings.Contains(r.Error, tc.errHas) {
				t.Errorf("error %q, want it to mention %q", r.Error, tc.errHas)
			}
			if len(r.Checks) != len(CheckNames()) {
				t.Errorf("%d checks, want %d", len(r.Checks), len(CheckNames()))
			}
			for _, c := range r.Checks {
				if c.Verdict != Skip || c.Detail == "" {
					t.Errorf("%s: %s %q, want skip with a reason", c.Name, c.Verdict, c.Detail)
				}
			}
			if len(r.Sessions) != 1 {
				t.Errorf("%d sessions, want only the first one", len(r.Sessions))
			}
		})
	}
}

func TestTimeoutsBoundTheRun(t *testing.T) {
	addr := startRaw(t, silentAfterEHLO)
	o := baseOptions(t, addr, nil)
	o.CheckTimeout = 400 * time.Millisecond
	o.RunTimeout = 1500 * time.Millisecond
	o = withAuth(o, testPassword)
	start := time.Now()
	r := run(t, o)
	elapsed := time.Since(start)
	if elapsed > 2500*time.Millisecond {
		t.Errorf("run took %s, past the 1.5 s run deadline", elapsed)
	}
	if !r.Reachable {
		t.Fatalf("a server that greets is reachable: %s", r.Error)
	}
	sawDeadline, sawTimeout := false, false
	for _, c := range r.Checks {
		// auth-mechanisms is judged from the EHLO reply, which this
		// server does give.
		if c.Name != CheckAuthMechanisms && (c.Verdict == Pass || c.Verdict == Fail) {
			t.Errorf("%s: %s from a silent server (%s)", c.Name, c.Verdict, c.Detail)
		}
		if strings.Contains(c.Detail, "run deadline") {
			sawDeadline = true
		}
		if strings.Contains(c.Detail, "within") || strings.Contains(c.Detail, "deadline") {
			sawTimeout = true
		}
	}
	if !sawDeadline || !sawTimeout {
		t.Errorf("want per-check timeouts and the run deadline in the details (deadline %v, timeout %v)", sawDeadline, sawTimeout)
	}
}

func TestInterrupted(t *testing.T) {
	ts := startServer(t, policy{offerTLS: true}, false)
	c, err := New(baseOptions(t, ts.addr, ts))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	r := c.Run(ctx, func(ch Check) {
		n++
		if n == 1 {
			cancel()
		}
	})
	if !r.Interrupted {
		t.Errorf("not marked interrupted")
	}
	if n != len(CheckNames()) {
		t.Errorf("progress called %d times, want %d", n, len(CheckNames()))
	}
	last := r.Checks[len(r.Checks)-1]
	if last.Verdict != Skip || !strings.Contains(last.Detail, "interrupted") {
		t.Errorf("last check %s %q, want skip: interrupted", last.Verdict, last.Detail)
	}
}

func TestSecretsNeverInOutput(t *testing.T) {
	tests := []struct {
		name     string
		password string
		p        policy
	}{
		{"accepted", testPassword, policy{offerTLS: true, offerAuth: true, requireAuth: true}},
		{"refused and echoed by the server", "echo-Me-Not-123", policy{offerTLS: true, offerAuth: true, requireAuth: true, echoPassword: true}},
		{"accepted in clear", testPassword, policy{offerAuth: true, authInClear: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, tc.p, false)
			o := withAuth(baseOptions(t, ts.addr, ts), tc.password)
			o.Session.AuthPlaintext = true
			o.Session.Command = []string{"probe", "relay-check", "--auth-password=" + tc.password}
			r := run(t, o)
			var out bytes.Buffer
			if err := WriteJSON(&out, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteText(&out, r, TextOptions{Verbose: true, Transcripts: true}); err != nil {
				t.Fatal(err)
			}
			s := out.String()
			for _, secret := range []string{tc.password, base64.StdEncoding.EncodeToString([]byte(tc.password)),
				base64.StdEncoding.EncodeToString([]byte("\x00" + testUser + "\x00" + tc.password))} {
				if strings.Contains(s, secret) {
					t.Errorf("output contains the secret %q", secret)
				}
			}
			ts.mu.Lock()
			tried := append([]string(nil), ts.auth...)
			ts.mu.Unlock()
			if len(tried) == 0 {
				t.Fatalf("the server saw no AUTH attempt")
			}
			if !strings.Contains(s, "[redacted]") {
				t.Errorf("no visible placeholder for the secret")
			}
		})
	}
}

func TestJSONShape(t *testing.T) {
	ts := startServer(t, policy{offerTLS: true}, false)
	r := run(t, baseOptions(t, ts.addr, ts))
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Target map[string]any `json:"target"`
		Checks []struct {
			Name, Verdict, Reply, Detail string
		} `json:"checks"`
		Verdict  string `json:"verdict"`
		ExitCode int    `json:"exit_code"`
		Sessions []struct {
			Name    string `json:"name"`
			Session struct {
				Transcript []map[string]any `json:"transcript"`
				Result     map[string]any   `json:"result"`
			} `json:"session"`
		} `json:"sessions"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b.String())
	}
	if doc.Target["host"] != "127.0.0.1" || doc.Target["domain"] != testDomain {
		t.Errorf("target %v", doc.Target)
	}
	if len(doc.Checks) != len(CheckNames()) || doc.Checks[0].Name != CheckOpenRelay || doc.Checks[0].Verdict != "pass" {
		t.Errorf("checks %+v", doc.Checks)
	}
	if doc.Verdict != "pass" || doc.ExitCode != 0 {
		t.Errorf("verdict %q exit %d", doc.Verdict, doc.ExitCode)
	}
	if len(doc.Sessions) < 5 || len(doc.Sessions[0].Session.Transcript) == 0 || doc.Sessions[0].Session.Result == nil {
		t.Errorf("sessions %+v", doc.Sessions)
	}
}

func TestNewUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"no server and no domain", Options{}, "--server"},
		{"foreign with CRLF", Options{Session: probe.Options{Server: "mx.example.test"}, Foreign: "a@b\r\nRSET"}, "--foreign"},
		{"bad domain", Options{Session: probe.Options{Server: "mx.example.test"}, Domain: "a b"}, "--domain"},
		{"bad port", Options{Session: probe.Options{Server: "mx.example.test:99999"}}, "bad port"},
		{"auth without user", Options{Session: probe.Options{Server: "mx.example.test", Auth: true}}, "--auth-user"},
		{"sender with brackets", Options{Session: probe.Options{Server: "mx.example.test"}, Sender: "<a@b>"}, "--from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	tests := []struct {
		name                      string
		o                         Options
		host, domain, local, from string
		port                      int
		role                      Role
		guessed                   bool
	}{
		{name: "MX host", o: Options{Session: probe.Options{Server: "mx1.example.org"}},
			host: "mx1.example.org", domain: "example.org", local: "postmaster@example.org", from: "relaycheck@example.org", port: 25, role: RoleMX, guessed: true},
		{name: "submission port, user is an address", o: Options{Session: probe.Options{Server: "smtp.example.org:587", Auth: true, AuthUser: "bob@example.org"}},
			host: "smtp.example.org", domain: "example.org", local: "postmaster@example.org", from: "bob@example.org", port: 587, role: RoleSubmission, guessed: true},
		{name: "implicit TLS picks 465", o: Options{Session: probe.Options{Server: "smtp.example.org", TLSMode: smtpclient.TLSImplicit, TLSModeSet: true}},
			host: "smtp.example.org", domain: "example.org", local: "postmaster@example.org", from: "relaycheck@example.org", port: 465, role: RoleSubmission, guessed: true},
		{name: "IP literal and explicit recipient", o: Options{Session: probe.Options{Server: "192.0.2.7"}, Local: "ann@corp.example"},
			host: "192.0.2.7", domain: "corp.example", local: "ann@corp.example", from: "relaycheck@corp.example", port: 25, role: RoleMX},
		{name: "role override and null sender", o: Options{Session: probe.Options{Server: "[2001:db8::1]:2525"}, Role: RoleSubmission, Sender: "<>"},
			host: "2001:db8::1", domain: "[IPv6:2001:db8::1]", local: "postmaster@[IPv6:2001:db8::1]", from: "", port: 2525, role: RoleSubmission, guessed: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			g := c.Target()
			if g.Host != tc.host || g.Domain != tc.domain || g.LocalRecipient != tc.local || g.Sender != tc.from ||
				g.Port != tc.port || g.Role != tc.role || g.LocalGuessed != tc.guessed {
				t.Errorf("target %+v", g)
			}
			if g.ForeignRecipient != DefaultForeign || g.ForeignSender != DefaultForeignSender || g.SpoofSender != DefaultSpoofSender {
				t.Errorf("foreign defaults %+v", g)
			}
		})
	}
}

// noDNS fails every lookup: the tests use IP literals only.
type noDNS struct{}

func (noDNS) LookupIP(context.Context, string, string) ([]net.IP, error) {
	return nil, errors.New("no DNS in tests")
}
func (noDNS) LookupMX(context.Context, string) ([]*net.MX, error) {
	return nil, errors.New("no DNS in tests")
}

// fakeDNS answers the MX of example.test with mx.example.test at 127.0.0.1.
type fakeDNS struct{}

func (fakeDNS) LookupMX(_ context.Context, domain string) ([]*net.MX, error) {
	if domain == testDomain {
		return []*net.MX{{Host: "mx.example.test.", Pref: 10}}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: domain, IsNotFound: true}
}

func (fakeDNS) LookupIP(_ context.Context, _, host string) ([]net.IP, error) {
	if host == "mx.example.test" {
		return []net.IP{net.ParseIP("127.0.0.1")}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func TestServerFromMX(t *testing.T) {
	ts := startServer(t, policy{offerTLS: true}, false)
	_, port, err := probe.SplitServer(ts.addr, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		local     string
		reachable bool
		host      string
	}{
		{"MX found", testUser, true, "mx.example.test"},
		{"domain without mail", "bob@nomail.test", false, ""},
		{"address literal", "bob@[127.0.0.1]", true, "127.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions(t, "", ts)
			o.Local = tc.local
			o.Session.Port = port
			o.Session.Resolver = fakeDNS{}
			r := run(t, o)
			if r.Reachable != tc.reachable || r.Target.Host != tc.host {
				t.Fatalf("reachable %v host %q (%s), want %v %q", r.Reachable, r.Target.Host, r.Error, tc.reachable, tc.host)
			}
			if !tc.reachable {
				if r.ExitCode != ExitUnreachable || !strings.Contains(r.Error, "MX lookup") {
					t.Errorf("exit %d error %q", r.ExitCode, r.Error)
				}
				return
			}
			got := verdicts(r)
			if got[CheckOpenRelay] != Pass {
				t.Errorf("open-relay %s: %s", got[CheckOpenRelay], detailOf(r, CheckOpenRelay))
			}
			// The certificate names mx.example.test: found through the MX,
			// the host name verifies; as an address literal the IP does.
			if got[CheckStartTLS] != Pass {
				t.Errorf("starttls %s: %s", got[CheckStartTLS], detailOf(r, CheckStartTLS))
			}
		})
	}
}
