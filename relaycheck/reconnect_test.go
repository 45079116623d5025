package relaycheck

import (
	"bytes"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/smtpclient"
)

// unauthChecks are judged from the unauthenticated transactions, each from
// the server's answer to one RCPT.
var unauthChecks = []string{CheckOpenRelay, CheckPercentHack, CheckQuotedLocal, CheckSourceRoute, CheckBangPath,
	CheckOwnDomainSender, CheckNullSender, CheckLocalDelivery}

// ownRcpt is the recipient an unauthenticated check is about.
func ownRcpt(name string) string {
	switch name {
	case CheckLocalDelivery:
		return testUser
	case CheckOpenRelay, CheckOwnDomainSender, CheckNullSender:
		return DefaultForeign
	}
	for _, tr := range Tricks(DefaultForeign, testDomain) {
		if tr.Check == name {
			return tr.Address
		}
	}
	return ""
}

func rcptLine(name string) string { return "RCPT TO:<" + ownRcpt(name) + ">" }

// runScript runs relay-check against a scripted server, with no pause
// between reconnects unless opts sets one.
func runScript(t *testing.T, sc script, opts func(Options) Options) (*Report, *scriptServer, time.Duration) {
	t.Helper()
	srv := startScript(t, sc)
	o := baseOptions(t, srv.addr, nil)
	if opts != nil {
		o = opts(o)
	}
	start := time.Now()
	r := run(t, o)
	elapsed := time.Since(start)
	assertHonest(t, r)
	if t.Failed() {
		var b bytes.Buffer
		_ = WriteText(&b, r, TextOptions{Transcripts: true})
		t.Log(b.String())
	}
	return r, srv, elapsed
}

// assertHonest checks what every report must hold, whatever the server
// did: every check is there with a reason; no pass rests on a 4xx; a
// reply shown for a command is the reply that command got, in the session
// named; an unauthenticated check shows no reply to another recipient's
// RCPT.
func assertHonest(t *testing.T, r *Report) {
	t.Helper()
	if len(r.Checks) != len(CheckNames()) {
		t.Errorf("%d checks, want %d", len(r.Checks), len(CheckNames()))
	}
	sessions := map[string]Session{}
	for _, s := range r.Sessions {
		sessions[s.Name] = s
	}
	for _, c := range r.Checks {
		if c.Detail == "" {
			t.Errorf("%s: %s without a reason", c.Name, c.Verdict)
		}
		if c.Verdict == Pass && (strings.HasPrefix(c.Reply, "4") || strings.Contains(c.Reply, "\n4")) {
			t.Errorf("%s: pass on a temporary reply %q", c.Name, c.Reply)
		}
		if c.Reply != "" && (strings.HasPrefix(c.Command, "RCPT TO:") || strings.HasPrefix(c.Command, "MAIL FROM:")) {
			s, ok := sessions[c.Session]
			found := false
			if ok && s.Report != nil {
				for _, st := range s.Report.Steps {
					if st.Command == c.Command && st.Reply != nil && strings.Join(st.Reply.Lines, "\n") == c.Reply {
						found = true
					}
				}
			}
			if !found {
				t.Errorf("%s: reply %q is not what %q got in session %q", c.Name, c.Reply, c.Command, c.Session)
			}
		}
		for _, n := range unauthChecks {
			if c.Name == n && strings.HasPrefix(c.Command, "RCPT TO:") && c.Command != rcptLine(n) {
				t.Errorf("%s: shows the reply to %q, another recipient's RCPT", c.Name, c.Command)
			}
		}
	}
}

func checkOf(r *Report, name string) Check {
	for _, c := range r.Checks {
		if c.Name == name {
			return c
		}
	}
	return Check{}
}

func wantVerdicts(t *testing.T, r *Report, want Verdict, names ...string) {
	t.Helper()
	for _, n := range names {
		if c := checkOf(r, n); c.Verdict != want {
			t.Errorf("%s: %s, want %s (%s | reply %q)", n, c.Verdict, want, c.Detail, c.Reply)
		}
	}
}

// A server that ends the session after too many errors (chasquid 1.11:
// "421 4.5.0 Too many errors, bye" in place of the third error) gets the
// recipients it did not answer in a new session: every trick ends with
// the server's own answer to it, and the 421 is nobody's verdict.
func TestServerEndingSessionsAfterErrors(t *testing.T) {
	tests := []struct {
		name      string
		maxErrors int
		conns     int      // connections in the whole run
		twice     []string // checks whose RCPT was sent in two sessions
	}{
		// relay-foreign: foreign, percent, 421 at quoted; quoted,
		// source-route, 421 at bang; bang. Then own-domain, null
		// sender, local delivery, cleartext, tls: one each.
		{"chasquid: three errors", 3, 3 + 5, []string{CheckQuotedLocal, CheckBangPath}},
		{"two errors", 2, 5 + 5, []string{CheckPercentHack, CheckQuotedLocal, CheckSourceRoute, CheckBangPath}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, elapsed := runScript(t, script{maxErrors: tc.maxErrors}, nil)
			wantVerdicts(t, r, Pass, unauthChecks...)
			for _, n := range unauthChecks {
				c := checkOf(r, n)
				if c.Command != rcptLine(n) || strings.HasPrefix(c.Reply, "421") {
					t.Errorf("%s: judged from %q %q, want its own RCPT's refusal", n, c.Command, c.Reply)
				}
			}
			if r.ExitCode != ExitOK || !r.Reachable {
				t.Errorf("exit %d reachable %v, want 0, reachable", r.ExitCode, r.Reachable)
			}
			if got := srv.connections(); got != tc.conns {
				t.Errorf("%d connections, want %d", got, tc.conns)
			}
			for _, n := range []string{CheckOpenRelay, CheckPercentHack, CheckQuotedLocal, CheckSourceRoute, CheckBangPath} {
				want := 1
				for _, tw := range tc.twice {
					if tw == n {
						want = 2
					}
				}
				if n == CheckOpenRelay {
					want += 2 // the own-domain and null-sender sessions send it too
				}
				if got := srv.count(rcptLine(n)); got != want {
					t.Errorf("%s: RCPT sent %d times, want %d", n, got, want)
				}
			}
			// The check that met the 421 says so, and where it was
			// decided.
			q := checkOf(r, CheckQuotedLocal)
			if !strings.Contains(q.Detail, "421 4.5.0 Too many errors") || !strings.HasPrefix(q.Session, "relay-foreign#") {
				t.Errorf("quoted-local-part: session %q detail %q, want the 421 noted and a later session", q.Session, q.Detail)
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %s", elapsed)
			}
		})
	}
}

// A server that ends every session at the first error gives no verdict:
// each test is tried in at most two sessions, and after three sessions in
// a row that answered nothing, relay-check stops connecting.
func TestServerEndingEverySessionAtFirstError(t *testing.T) {
	r, srv, _ := runScript(t, script{maxErrors: 1}, nil)
	for _, c := range r.Checks {
		if c.Verdict == Pass || c.Verdict == Fail || c.Verdict == Warn {
			t.Errorf("%s: %s from a server that answered nothing (%s)", c.Name, c.Verdict, c.Detail)
		}
	}
	wantVerdicts(t, r, Inconclusive, unauthChecks...)
	if got := srv.connections(); got != maxEndedInARow {
		t.Errorf("%d connections, want %d", got, maxEndedInARow)
	}
	if n := srv.count(rcptLine(CheckOpenRelay)); n != 2 {
		t.Errorf("open-relay RCPT sent %d times, want 2 (one reconnect)", n)
	}
	if r.ExitCode != ExitUnreachable || r.Verdict != Inconclusive {
		t.Errorf("exit %d verdict %s, want %d inconclusive", r.ExitCode, r.Verdict, ExitUnreachable)
	}
	if c := checkOf(r, CheckOpenRelay); !strings.HasPrefix(c.Reply, "421") || c.Command != rcptLine(CheckOpenRelay) {
		t.Errorf("open-relay: %q %q, want the 421 its own RCPT got", c.Command, c.Reply)
	}
	// Never sent: no reply to show.
	if c := checkOf(r, CheckBangPath); c.Reply != "" || c.Command != "" {
		t.Errorf("bang-path, never sent, shows %q %q", c.Command, c.Reply)
	}
}

// A server that closes the connection after answering one RCPT: each
// session gets one answer, and the next session goes on from there.
func TestServerClosingAfterFirstRcpt(t *testing.T) {
	r, srv, _ := runScript(t, script{closeAfterRcpt: true}, nil)
	wantVerdicts(t, r, Pass, unauthChecks...)
	// relay-foreign takes one session per recipient; then one each for
	// own-domain, null sender, local delivery, cleartext and tls.
	if got := srv.connections(); got != 5+5 {
		t.Errorf("%d connections, want 10", got)
	}
	for _, n := range unauthChecks[1:5] {
		if got := srv.count(rcptLine(n)); got != 1 {
			t.Errorf("%s: the server read its RCPT %d times, want 1", n, got)
		}
	}
	if r.ExitCode != ExitOK {
		t.Errorf("exit %d", r.ExitCode)
	}
}

// A server that answers 421 to every command, or closes every connection
// after its greeting: inconclusive verdicts and exit 2, after a bounded
// number of connections paced by the reconnect delay; never a loop, never
// a pass.
func TestServerRefusingEverySession(t *testing.T) {
	const delay = 60 * time.Millisecond
	for _, sc := range []struct {
		name string
		sc   script
	}{
		{"421 to every command", script{all421: true}},
		{"closes after the greeting", script{dropAfterBanner: true}},
	} {
		sc := sc
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, elapsed := runScript(t, sc.sc, func(o Options) Options {
				o.ReconnectDelay = delay
				return withAuth(o, testPassword)
			})
			if r.ExitCode != ExitUnreachable {
				t.Errorf("exit %d, want %d", r.ExitCode, ExitUnreachable)
			}
			if !strings.Contains(r.Error, "ended every session") {
				t.Errorf("error %q", r.Error)
			}
			for _, c := range r.Checks {
				if c.Verdict != Inconclusive && c.Verdict != Skip {
					t.Errorf("%s: %s (%s)", c.Name, c.Verdict, c.Detail)
				}
			}
			wantVerdicts(t, r, Inconclusive, CheckOpenRelay, CheckPercentHack, CheckLocalDelivery)
			if got := srv.connections(); got != maxEndedInARow {
				t.Errorf("%d connections, want %d", got, maxEndedInARow)
			}
			for i, g := range srv.gaps() {
				if g < delay {
					t.Errorf("reconnect %d after %s, want at least %s", i+1, g, delay)
				}
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %s", elapsed)
			}
			var b bytes.Buffer
			if err := WriteText(&b, r, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "INCONCLUSIVE") || !strings.Contains(b.String(), "inconclusive") {
				t.Errorf("text output:\n%s", b.String())
			}
		})
	}
}

// A deferral is not a refusal: no pass, no fail, and no reconnect (only
// a 421 ends a session).
func TestTemporaryRepliesAreNotRefusals(t *testing.T) {
	tests := []struct {
		name  string
		sc    script
		opts  func(Options) Options
		want  map[string]Verdict
		conns int
	}{
		{name: "greylisting at RCPT", sc: script{rcptReply: "450 4.2.0 <x@y>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/"},
			want: map[string]Verdict{CheckOpenRelay: Inconclusive, CheckPercentHack: Inconclusive, CheckQuotedLocal: Inconclusive, CheckSourceRoute: Inconclusive,
				CheckBangPath: Inconclusive, CheckOwnDomainSender: Inconclusive, CheckNullSender: Inconclusive, CheckLocalDelivery: Inconclusive},
			conns: 6},
		{name: "temporary failure at RCPT", sc: script{rcptReply: "451 4.3.0 Temporary lookup failure"},
			want:  map[string]Verdict{CheckOpenRelay: Inconclusive, CheckBangPath: Inconclusive, CheckLocalDelivery: Inconclusive},
			conns: 6},
		{name: "authentication required, temporarily, at MAIL", sc: script{mailReply: "450 4.7.0 Authentication required"},
			want:  map[string]Verdict{CheckOpenRelay: Inconclusive, CheckPercentHack: Inconclusive, CheckNullSender: Inconclusive, CheckLocalDelivery: Inconclusive},
			conns: 6},
		{name: "a wrong password deferred", sc: script{auth: true, authFail: "454 4.7.0 Temporary authentication failure"},
			opts: func(o Options) Options {
				o = withAuth(o, testPassword)
				o.Session.AuthPlaintext = true
				return o
			},
			want: map[string]Verdict{CheckAuthValid: Pass, CheckAuthInvalid: Inconclusive}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, _ := runScript(t, tc.sc, tc.opts)
			for n, v := range tc.want {
				wantVerdicts(t, r, v, n)
			}
			if tc.conns > 0 && srv.connections() != tc.conns {
				t.Errorf("%d connections, want %d", srv.connections(), tc.conns)
			}
			if r.ExitCode == ExitUnreachable {
				t.Errorf("exit %d for a server that answers", r.ExitCode)
			}
		})
	}
}

// STARTTLS offered but broken (OpenSMTPD 6.8 with OpenSSL 3: "EVP lib"):
// a finding on the starttls check, with the reason and the RFC 8460
// result type, and the relay checks run in clear; only the first session
// pays for the failed handshake.
func TestBrokenSTARTTLS(t *testing.T) {
	tests := []struct {
		name     string
		opts     func(Options) Options
		starttls Verdict
		exit     int
		authSkip bool
	}{
		{name: "MX", starttls: Warn, exit: ExitOK},
		{name: "submission with credentials", opts: func(o Options) Options {
			o.Role = RoleSubmission
			return withAuth(o, testPassword)
		}, starttls: Fail, exit: ExitFailed, authSkip: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv, _ := runScript(t, script{brokenStartTLS: true}, tc.opts)
			st := checkOf(r, CheckStartTLS)
			if st.Verdict != tc.starttls || st.ResultType == "" || !strings.Contains(st.Detail, "handshake") || !strings.Contains(st.Detail, st.ResultType) {
				t.Errorf("starttls: %s result type %q: %s", st.Verdict, st.ResultType, st.Detail)
			}
			if st.Reply == "" || st.Command != "STARTTLS" {
				t.Errorf("starttls: reply %q to %q, want the 220 to STARTTLS", st.Reply, st.Command)
			}
			for _, n := range unauthChecks[:7] {
				c := checkOf(r, n)
				if c.Verdict != Pass || !strings.Contains(c.Detail, "in clear") {
					t.Errorf("%s: %s %q, want a pass, tested in clear", n, c.Verdict, c.Detail)
				}
			}
			fb := r.TLSFallback
			if fb == nil || fb.Reason == "" || fb.ResultType != st.ResultType || fb.Session != "relay-foreign" {
				t.Errorf("tls_fallback %+v", fb)
			}
			if n := srv.starttlsCount(); n != 1 {
				t.Errorf("STARTTLS tried in %d sessions, want 1", n)
			}
			if tc.authSkip {
				for _, n := range []string{CheckAuthValid, CheckRelayAfterAuth, CheckAuthInvalid, CheckSenderMismatch} {
					if c := checkOf(r, n); c.Verdict != Skip || !strings.Contains(c.Detail, "STARTTLS") {
						t.Errorf("%s: %s %q, want skip: no credentials in clear", n, c.Verdict, c.Detail)
					}
				}
				for _, cmd := range srv.received() {
					if strings.HasPrefix(cmd, "AUTH PLAIN ") {
						t.Errorf("credentials sent in clear: %q", cmd)
					}
				}
			}
			if r.ExitCode != tc.exit {
				t.Errorf("exit %d, want %d", r.ExitCode, tc.exit)
			}
			var b bytes.Buffer
			if err := WriteText(&b, r, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "ran in clear") {
				t.Errorf("the text report does not say the checks ran in clear:\n%s", b.String())
			}
		})
	}
}

// An implicit-TLS port whose handshake fails was reached: "TLS failed"
// with the reason, a failed starttls check and exit 3, not "could not be
// reached" (exit 2).
func TestBrokenImplicitTLS(t *testing.T) {
	tests := []struct {
		name string
		addr func(t *testing.T) (string, func() int)
	}{
		{"handshake broken by the server", func(t *testing.T) (string, func() int) {
			s := startScript(t, script{brokenImplicit: true})
			return s.addr, s.connections
		}},
		{"a cleartext server spoken to in TLS", func(t *testing.T) (string, func() int) {
			return startServer(t, policy{}, false).addr, nil
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, conns := tc.addr(t)
			o := baseOptions(t, addr, nil)
			o.Session.TLSMode, o.Session.TLSModeSet = smtpclient.TLSImplicit, true
			r := run(t, o)
			assertHonest(t, r)
			if r.ExitCode != ExitFailed || !r.Reachable {
				t.Errorf("exit %d reachable %v, want %d, reachable", r.ExitCode, r.Reachable, ExitFailed)
			}
			if !strings.HasPrefix(r.Error, "TLS failed: ") || !strings.Contains(r.Error, "handshake") {
				t.Errorf("error %q, want TLS failed with the reason", r.Error)
			}
			st := checkOf(r, CheckStartTLS)
			if st.Verdict != Fail || st.ResultType == "" || !strings.Contains(st.Detail, "implicit-TLS handshake fails") {
				t.Errorf("starttls: %s %q %s", st.Verdict, st.ResultType, st.Detail)
			}
			for _, c := range r.Checks {
				if c.Name != CheckStartTLS && (c.Verdict != Skip || !strings.Contains(c.Detail, "TLS")) {
					t.Errorf("%s: %s %q, want skip: TLS failed", c.Name, c.Verdict, c.Detail)
				}
			}
			if len(r.Sessions) != 1 {
				t.Errorf("%d sessions, want 1", len(r.Sessions))
			}
			if conns != nil && conns() != 1 {
				t.Errorf("%d connections, want 1", conns())
			}
			var b bytes.Buffer
			if err := WriteText(&b, r, TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), "*** TLS failed: ") || strings.Contains(b.String(), "could not be reached") {
				t.Errorf("text summary:\n%s", b.String())
			}
		})
	}
}

// The session of the issue, judged as it stands: chasquid answered 554
// and 550, then 421 to the quoted local part and closed; the source route
// and the bang path were never sent. The 421 is the quoted local part's
// (inconclusive), and nobody else's reply.
func TestJudgeNeverAttributesAnotherRcptsReply(t *testing.T) {
	c, err := New(baseOptions(t, "127.0.0.1:25", nil))
	if err != nil {
		t.Fatal(err)
	}
	rn := &runner{c: c, report: &Report{Reachable: true}}
	tricks := Tricks(DefaultForeign, testDomain)
	reply := func(code int, line string) *smtpclient.Reply {
		return &smtpclient.Reply{Code: code, Lines: []string{line}}
	}
	bye := reply(421, "421 4.5.0 Too many errors, bye")
	quoted := "RCPT TO:<" + ownRcpt(CheckQuotedLocal) + ">"
	o := &outcome{spec: spec{name: "relay-foreign", from: DefaultForeignSender, perRcpt: true}, res: &smtpclient.Result{
		ExitCode: smtpclient.ExitRcpt, Phase: smtpclient.PhaseRcpt, Command: quoted, Reply: bye,
		Banner: reply(220, "220 mx.example.test ESMTP chasquid"),
		RcptReplies: map[string]*smtpclient.Reply{
			DefaultForeign:            reply(554, "554 5.7.1 Relay access denied"),
			ownRcpt(CheckPercentHack): reply(550, "550 5.1.1 Destination address is unknown (is it a typo?)"),
			ownRcpt(CheckQuotedLocal): bye,
		},
	}}
	got := map[string]Check{CheckOpenRelay: rn.judgeRelay(CheckOpenRelay, o, DefaultForeign, false, "open relay")}
	for _, tr := range tricks {
		got[tr.Check] = rn.judgeRelay(tr.Check, o, tr.Address, true, tr.What)
	}
	for name, want := range map[string]Verdict{CheckOpenRelay: Pass, CheckPercentHack: Pass, CheckQuotedLocal: Inconclusive,
		CheckSourceRoute: Inconclusive, CheckBangPath: Inconclusive} {
		if got[name].Verdict != want {
			t.Errorf("%s: %s, want %s (%s)", name, got[name].Verdict, want, got[name].Detail)
		}
	}
	if q := got[CheckQuotedLocal]; q.Reply != bye.Lines[0] || q.Command != quoted {
		t.Errorf("quoted-local-part: %q %q, want the 421 to its own RCPT", q.Command, q.Reply)
	}
	for _, n := range []string{CheckSourceRoute, CheckBangPath} {
		if c := got[n]; c.Reply != "" || c.Command != "" || !strings.Contains(c.Detail, "never sent") {
			t.Errorf("%s, never sent: %q %q %q", n, c.Command, c.Reply, c.Detail)
		}
	}
}

// A server whose STARTTLS works but which answers every RCPT with 421 and
// closes: TLS is judged once and does not reset the bound on sessions
// ended in a row, so the run stops after a few connections.
func TestWorkingTLSThen421EveryRcpt(t *testing.T) {
	srvTLS, pool := testCert(t)
	r, srv, elapsed := runScript(t, script{tlsOK: srvTLS, rcptReply: "421 4.7.0 Try again later, closing connection", maxErrors: 1}, func(o Options) Options {
		o.Session.TLSConfig = &tls.Config{RootCAs: pool}
		return o
	})
	for _, c := range r.Checks {
		if c.Verdict == Pass && c.Name != CheckStartTLS && c.Name != CheckAuthMechanisms && c.Name != CheckAuthBeforeTLS {
			t.Errorf("%s: PASS on a server that answered every RCPT with 421 (%s)", c.Name, c.Detail)
		}
	}
	wantVerdicts(t, r, Inconclusive, CheckOpenRelay)
	if got := srv.connections(); got > maxEndedInARow+1 {
		t.Errorf("%d connections, want at most %d: a working STARTTLS must not reset the bound", got, maxEndedInARow+1)
	}
	if elapsed > 5*time.Second {
		t.Errorf("took %s", elapsed)
	}
}
