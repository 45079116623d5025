package scenario

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"net"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestScenariosEndToEnd starts every scenario, drives it with the test
// client using the scenario's Args and checks that the session stops at the
// declared step with exactly the declared reply.
func TestScenariosEndToEnd(t *testing.T) {
	// One certificate for all servers keeps the run fast, as callers are
	// told to do.
	conf, err := SelfSignedTLS(defaultHostname)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range All() {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			srv, err := Start(context.Background(), sc.Name, Options{TLSConfig: conf, Logf: testLogf(t)})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			defer func() {
				if err := srv.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			start := time.Now()
			got := runSession(t, srv.Addr, sc, rootsFor(srv))
			t.Logf("%s: phase=%q code=%d timeout=%v in %v", sc.Name, got.phase, got.code, got.timeout, time.Since(start).Round(time.Millisecond))

			if got.phase != sc.ExpectPhase {
				t.Fatalf("stopped in phase %q (%+v), want %q", got.phase, got, sc.ExpectPhase)
			}
			if exitFor(got.phase) != sc.ExpectExit {
				t.Errorf("phase %q means exit %d, scenario declares %d", got.phase, exitFor(got.phase), sc.ExpectExit)
			}
			if got.code != sc.ExpectCode {
				t.Errorf("code %d, want %d (%q)", got.code, sc.ExpectCode, got.lines)
			}
			switch {
			case sc.ExpectReply == nil:
				if !got.timeout {
					t.Errorf("want a timeout, got %+v", got)
				}
			case got.garbage != "":
				if want := sc.ExpectReply[0]; got.garbage != want {
					t.Errorf("garbage %q, want %q", got.garbage, want)
				}
			case sc.ExpectExit == exitOK && got.refused != nil:
				if !reflect.DeepEqual(got.refused, sc.ExpectReply) {
					t.Errorf("refused RCPT reply\n got %q\nwant %q", got.refused, sc.ExpectReply)
				}
			default:
				if !reflect.DeepEqual(got.lines, sc.ExpectReply) {
					t.Errorf("reply\n got %q\nwant %q", got.lines, sc.ExpectReply)
				}
			}
			if sc.Name == "starttls-injection" && !got.injected {
				t.Errorf("the injected line did not arrive with the STARTTLS reply")
			}
		})
	}
}

// TestExpectReplyLiterals pins the exact wording of the main scenarios, so a
// template change that would still round-trip through the server is caught.
func TestExpectReplyLiterals(t *testing.T) {
	tests := []struct {
		name string
		want []string
	}{
		{"ok", []string{"250 2.0.0 Ok: queued as 4Xyz00001"}},
		{"blocklisted-ip", []string{"554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/127.0.0.1"}},
		{"no-service", []string{"554 mx.scenario.test ESMTP No SMTP service here"}},
		{"relay-denied", []string{"554 5.7.1 <bob@example.net>: Relay access denied"}},
		{"unknown-user", []string{"550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"}},
		{"partial-rcpt", []string{"550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"}},
		{"spam-content", []string{"554 5.7.1 Message blocked due to spam content in the message"}},
		{"spf-fail", []string{"550 5.7.23 <alice@example.com>: Sender address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id=alice@example.com;ip=127.0.0.1;r=mx.scenario.test"}},
		{"message-size", []string{"552 5.3.4 Message size exceeds fixed limit"}},
		{"malformed-message", []string{`554 Message is not RFC compliant; missing "Date" header`}},
		{"virus", []string{"554 5.7.1 Rejected due to virus: Eicar-Test-Signature"}},
		{"data-rejected", []string{"554 5.5.1 Error: no valid recipients"}},
		{"auth-required", []string{"530-5.7.0 Authentication Required. For more information, go to", "530 5.7.0  https://support.google.com/mail/?p=WantAuthError " + gmailID}},
		{"auth-failed", []string{"535-5.7.8 Username and Password not accepted. For more information, go to", "535 5.7.8  https://support.google.com/mail/?p=BadCredentials " + gmailID}},
		{"tls-required", []string{"530 5.7.0 Must issue a STARTTLS command first"}},
		{"greylisting", []string{"451 4.7.1 <bob@example.net>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/example.net.html"}},
		{"rate-limit", []string{"421 4.7.0 mx.scenario.test Error: too many connections from 127.0.0.1"}},
		{"starttls-injection", []string{"220 Ready", "250 injected"}},
		{"dmarc-policy", []string{
			"550-5.7.26 Unauthenticated email from example.com is not accepted due to",
			"550-5.7.26 domain's DMARC policy. Please contact the administrator of",
			"550-5.7.26 example.com domain if this was a legitimate mail. To learn about the",
			"550-5.7.26 DMARC initiative, go to",
			"550 5.7.26  https://support.google.com/mail/?p=DmarcRejection " + gmailID,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sc, ok := Lookup(tt.name)
			if !ok {
				t.Fatalf("no scenario %q", tt.name)
			}
			if !reflect.DeepEqual(sc.ExpectReply, tt.want) {
				t.Errorf("ExpectReply\n got %q\nwant %q", sc.ExpectReply, tt.want)
			}
		})
	}
}

// TestCatalogue checks the table's invariants.
func TestCatalogue(t *testing.T) {
	all := All()
	if len(all) < 30 {
		t.Fatalf("only %d scenarios", len(all))
	}
	seen := map[string]bool{}
	categories := map[string]bool{"relay-denied": true, "auth-required": true, "auth-failed": true, "tls-required": true,
		"recipient-unknown": true, "mailbox-disabled": true, "mailbox-full": true, "sender-rejected": true,
		"sender-domain-invalid": true, "ip-blocklisted": true, "ip-reputation": true, "rdns-ptr": true, "spf-fail": true,
		"dkim-fail": true, "dmarc-policy": true, "spam-content": true, "virus": true, "message-size": true,
		"malformed-message": true, "rate-limit": true, "greylisting": true, "policy-generic": true, "no-service": true,
		"protocol-error": true, "temporary-server": true, "unknown": true}
	for i, sc := range all {
		if seen[sc.Name] {
			t.Errorf("duplicate name %q", sc.Name)
		}
		seen[sc.Name] = true
		if sc.Name == "" || sc.Title == "" || sc.Description == "" || sc.Source == "" {
			t.Errorf("%d %q: empty name, title, description or source", i, sc.Name)
		}
		if strings.ContainsAny(sc.Name, " /\t") || strings.ToLower(sc.Name) != sc.Name {
			t.Errorf("%q: names are lower-case words joined by '-'", sc.Name)
		}
		if got := exitFor(sc.ExpectPhase); got != sc.ExpectExit {
			t.Errorf("%s: phase %q gives exit %d, declared %d", sc.Name, sc.ExpectPhase, got, sc.ExpectExit)
		}
		if sc.ExpectCategory != "" && !categories[sc.ExpectCategory] {
			t.Errorf("%s: category %q is not in DESIGN.md's vocabulary", sc.Name, sc.ExpectCategory)
		}
		if sc.ExpectExit != exitOK && sc.ExpectCode != 0 {
			if len(sc.ExpectReply) == 0 {
				t.Errorf("%s: no ExpectReply", sc.Name)
				continue
			}
			first, err := parseReplyLine(sc.ExpectReply[0])
			if err != nil || first.Code != sc.ExpectCode {
				t.Errorf("%s: ExpectReply %q does not carry code %d", sc.Name, sc.ExpectReply, sc.ExpectCode)
			}
		}
		hasTo := false
		for _, a := range sc.Args {
			if !strings.HasPrefix(a, "--") {
				t.Errorf("%s: Arg %q is not a long option", sc.Name, a)
			}
			hasTo = hasTo || strings.HasPrefix(a, "--to=")
		}
		if !hasTo {
			t.Errorf("%s: Args lack --to", sc.Name)
		}
		got, ok := Lookup(sc.Name)
		if !ok || !reflect.DeepEqual(got, sc) {
			t.Errorf("Lookup(%q) = %+v, %v", sc.Name, got, ok)
		}
	}
	if _, ok := Lookup("no-such-scenario"); ok {
		t.Error("Lookup of an unknown name succeeded")
	}
	// All returns copies: changing one must not change the table.
	all[0].Args[0] = "--changed"
	if again := All(); again[0].Args[0] == "--changed" {
		t.Error("All shares its Args slices")
	}
}

// TestSeed003Variants checks that every 554 variant listed in seed 003
// (/work/shared/seeds/003_*.txt) is sent by some scenario.
func TestSeed003Variants(t *testing.T) {
	variants := []string{
		"554 5.7.0 Message Size Violation",
		"554 5.7.1 Message blocked due to spam content in the message",
		"554 5.7.1 [P4] Message blocked due to spam content in the message.",
		"554 5.7.1 <bob@example.net>: Relay access denied",
		"554 5.7.9 Message not accepted for policy reasons.",
		"554 RLY:B1",
		"554 delivery error: dd This user doesn't have a",
		"554 Denied (Mode: normal)",
		"554 Invalid recipient",
		"554 Malformed mail denied!",
		`554 Message is not RFC compliant; missing "Date" header`,
		"554 Message not allowed - [PH01] Email not accepted for policy reasons.",
		"554 Message permanently rejected",
		"554 Message refused",
		"554 no valid recipients, bye",
		"554 rejected due to spam content",
		"554 rejected due to virus",
		"554 <bob@example.net>: Relay access denied",
		"554 Sorry, no mailbox here by that name.",
		"554 Spam detected",
		"554 Spam violation, the content of your e-mail contains illegal characters, re-sent after examination",
		"554 Transaction Failed Spam Message not queued.",
		"554 Virus found, message permanently rejected (#5.3.0)",
		// Seed 000.
		"554 Transaction failed : Cannot send message due to possible abuse;",
	}
	all := All()
	for _, v := range variants {
		found := ""
		for _, sc := range all {
			for _, l := range sc.ExpectReply {
				if strings.HasPrefix(l, v) {
					found = sc.Name
				}
			}
		}
		if found == "" {
			t.Errorf("no scenario sends %q", v)
		}
	}
}

// goroutinesSettle waits until the goroutine count is back to at most n.
func goroutinesSettle(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= n {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", got, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseStopsEverything opens connections that are mid-session (a go-smtp
// one waiting for a command, a raw one inside a silent server, one halfway
// through DATA) and checks Close ends them and leaks no goroutine.
func TestCloseStopsEverything(t *testing.T) {
	conf, err := SelfSignedTLS()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ok", "silent", "silent-banner", "silent-data", "blocklisted-ip", "starttls-injection"} {
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			srv, err := Start(context.Background(), name, Options{TLSConfig: conf})
			if err != nil {
				t.Fatal(err)
			}
			var conns []net.Conn
			for i := 0; i < 3; i++ {
				c, err := net.Dial("tcp", srv.Addr)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			// Put one connection in the middle of a transaction.
			if _, err := conns[0].Write([]byte("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n")); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			if err := srv.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			select {
			case <-srv.Done():
			default:
				t.Error("Done not closed after Close")
			}
			if err := srv.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			for _, c := range conns {
				_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
				if _, err := bufio.NewReader(c).ReadString(0); err == nil {
					t.Error("connection still open after Close")
				}
				c.Close()
			}
			if _, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
				t.Error("listener still accepting after Close")
			}
			goroutinesSettle(t, before)
		})
	}
}

// TestContextCancelStops checks that cancelling Start's context stops the
// server as Close does.
func TestContextCancelStops(t *testing.T) {
	for _, name := range []string{"relay-denied", "silent"} {
		t.Run(name, func(t *testing.T) {
			before := runtime.NumGoroutine()
			ctx, cancel := context.WithCancel(context.Background())
			srv, err := Start(ctx, name, Options{})
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cancel()
			select {
			case <-srv.Done():
			case <-time.After(3 * time.Second):
				t.Fatal("server still running 3s after cancel")
			}
			if err := srv.Close(); err != nil {
				t.Errorf("Close after cancel: %v", err)
			}
			c.Close()
			goroutinesSettle(t, before)
		})
	}
}

func TestStartErrors(t *testing.T) {
	if _, err := Start(context.Background(), "no-such-scenario", Options{}); err == nil || !strings.Contains(err.Error(), "no-such-scenario") {
		t.Errorf("unknown scenario: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Start(ctx, "ok", Options{}); err == nil {
		t.Error("Start with a cancelled context succeeded")
	}
	if _, err := Start(context.Background(), "ok", Options{TLSConfig: &tls.Config{}}); err == nil {
		t.Error("Start with a TLS config without certificate succeeded")
	}
}

// TestOptions checks the host name and a caller-provided certificate.
func TestOptions(t *testing.T) {
	conf, err := SelfSignedTLS("mx.example.org")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ok", "no-service"} {
		t.Run(name, func(t *testing.T) {
			srv, err := Start(context.Background(), name, Options{TLSConfig: conf, Hostname: "mx.example.org"})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			if srv.Certificate != conf.Certificates[0].Leaf {
				t.Error("Server.Certificate is not the provided certificate")
			}
			if !strings.HasPrefix(srv.Addr, "127.0.0.1:") {
				t.Errorf("Addr %q is not on 127.0.0.1", srv.Addr)
			}
			c, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(line, "mx.example.org") {
				t.Errorf("banner %q lacks the host name", line)
			}
		})
	}
}

// dialScenario starts a scenario and returns a connected test client past
// the banner.
func dialScenario(t *testing.T, name string) (*Server, *testClient) {
	t.Helper()
	srv, err := Start(context.Background(), name, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, &testClient{t: t, conn: c, r: bufio.NewReader(c), timeout: 3 * time.Second}
}

// step is one command and the reply code (and optionally a line prefix)
// expected for it.
type step struct {
	cmd    string // "" reads a reply without sending
	code   int
	prefix string
}

func runSteps(t *testing.T, c *testClient, steps []step) {
	t.Helper()
	for _, st := range steps {
		var code int
		var lines []string
		var err error
		if st.cmd == "" {
			code, lines, err = c.readReply()
		} else {
			code, lines, err = c.cmd(st.cmd)
		}
		if err != nil {
			t.Fatalf("%q: %v", st.cmd, err)
		}
		if code != st.code {
			t.Fatalf("%q: code %d %q, want %d", st.cmd, code, lines, st.code)
		}
		if st.prefix != "" && !strings.HasPrefix(lines[len(lines)-1], st.prefix) {
			t.Fatalf("%q: reply %q, want prefix %q", st.cmd, lines, st.prefix)
		}
	}
}

// TestProtocolDetails covers behaviour the end-to-end sessions do not reach.
func TestProtocolDetails(t *testing.T) {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + DemoUser + "\x00" + DemoPassword))
	tests := []struct {
		name     string
		scenario string
		steps    []step
	}{
		{"554 greeting answers 503 until QUIT (RFC 5321 3.1)", "blocklisted-ip", []step{
			{"", 554, ""}, {"EHLO c", 503, ""}, {"MAIL FROM:<a@b>", 503, ""}, {"QUIT", 221, ""}}},
		{"POP3 greeting", "wrong-protocol", nil},
		{"AUTH is not offered before TLS", "ok", []step{
			{"", 220, ""}, {"EHLO c", 250, ""}, {"AUTH PLAIN " + plain, 523, ""}}},
		{"raw server pipelining and bad sequences", "data-rejected", []step{
			{"", 220, "220 mx.scenario.test ESMTP"}, {"MAIL FROM:<a@b>", 503, ""}, {"HELO c", 250, ""},
			{"RCPT TO:<c@d>", 503, ""}, {"MAIL FROM:<a@b>", 250, ""}, {"MAIL FROM:<a@b>", 503, ""},
			{"RCPT TO:<c@d>", 250, ""}, {"DATA", 554, ""}, {"NOOP", 250, ""}, {"VRFY x", 502, ""},
			{"RSET", 250, ""}, {"DATA", 554, "554 5.5.1 Error: no valid recipients"}, {"QUIT", 221, ""}}},
		{"raw server refuses an over-long line and goes on", "silent-data", []step{
			{"", 220, ""}, {"EHLO " + strings.Repeat("x", 5000), 500, ""}, {"EHLO c", 250, ""}}},
		{"go-smtp server: partial rcpt reset by RSET", "partial-rcpt", []step{
			{"", 220, ""}, {"EHLO c", 250, ""}, {"MAIL FROM:<a@example.com>", 250, ""},
			{"RCPT TO:<nobody@example.net>", 550, "550 5.1.1 <nobody@example.net>"},
			{"RCPT TO:<bob@example.net>", 250, ""}, {"RSET", 250, ""}, {"QUIT", 221, ""}}},
		{"template values are cleaned of control characters", "relay-denied", []step{
			{"", 220, ""}, {"EHLO c", 250, ""}, {"MAIL FROM:<a@example.com>", 250, ""},
			{"RCPT TO:<\"x\x01y\"@example.net>", 554, "554 5.7.1 <xy@example.net>: Relay access denied"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, c := dialScenario(t, tt.scenario)
			if tt.steps == nil {
				line, err := c.r.ReadString('\n')
				if err != nil || line != "+OK Dovecot ready.\r\n" {
					t.Fatalf("greeting %q, %v", line, err)
				}
				if _, err := c.conn.Write([]byte("EHLO c\r\nQUIT\r\n")); err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"-ERR Unknown command.\r\n", "+OK Logging out.\r\n"} {
					if got, err := c.r.ReadString('\n'); err != nil || got != want {
						t.Fatalf("got %q, %v; want %q", got, err, want)
					}
				}
				return
			}
			runSteps(t, c, tt.steps)
		})
	}
}

// TestRawMessageReader checks the raw server's DATA reader: the lone dot
// ends the message, dot-stuffing is undone only at line starts, and the size
// counts the unstuffed bytes.
func TestRawMessageReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{"plain", "Subject: a\r\n\r\nbody\r\n.\r\n", "Subject: a\r\n\r\nbody\r\n", false},
		{"dot-stuffed", "..leading\r\n...\r\n.\r\n", ".leading\r\n..\r\n", false},
		{"bare LF terminator", "a\n.\n", "a\n", false},
		{"long line with a dot after the buffer boundary", strings.Repeat("y", 5000) + ".x\r\n.\r\n", strings.Repeat("y", 5000) + ".x\r\n", false},
		{"eof before the dot", "a\r\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server, client := net.Pipe()
			defer server.Close()
			defer client.Close()
			go func() {
				_, _ = client.Write([]byte(tt.in))
				// A pipe whose peer is closed refuses SetReadDeadline, which
				// TCP does not: hang up only to test the early-EOF case.
				if tt.wantErr {
					client.Close()
				}
			}()
			rc := &rawConn{conn: server, r: bufio.NewReaderSize(server, 16)}
			got, n, err := rc.readMessage()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if string(got) != tt.want || n != int64(len(tt.want)) {
				t.Errorf("got %q (n=%d), want %q", got, n, tt.want)
			}
		})
	}
}

// TestContentTriggers checks that the content scenarios accept an ordinary
// message and refuse only the one their Args produce.
func TestContentTriggers(t *testing.T) {
	for _, name := range []string{"malformed-message", "virus", "rejected-virus", "virus-found"} {
		t.Run(name, func(t *testing.T) {
			sc, _ := Lookup(name)
			srv, err := Start(context.Background(), name, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			plain := sc
			plain.Args = []string{argFrom, argTo}
			got := runSession(t, srv.Addr, plain, rootsFor(srv))
			if got.phase != "" || len(got.lines) != 1 || !strings.HasPrefix(got.lines[0], "250 2.0.0 Ok: queued as 4Xyz") {
				t.Errorf("ordinary message not accepted: %+v", got)
			}
		})
	}
}

// TestAuthMechanisms checks AUTH PLAIN and LOGIN inside TLS on the
// submission scenario.
func TestAuthMechanisms(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"PLAIN", []step{{"AUTH PLAIN " + b64("\x00"+DemoUser+"\x00"+DemoPassword), 235, ""}, {"MAIL FROM:<a@b>", 250, ""}}},
		{"PLAIN without initial response", []step{{"AUTH PLAIN", 334, ""}, {b64("\x00" + DemoUser + "\x00" + DemoPassword), 235, ""}}},
		{"PLAIN wrong password", []step{{"AUTH PLAIN " + b64("\x00"+DemoUser+"\x00nope"), 535, "535 5.7.8 Error: authentication failed"}, {"MAIL FROM:<a@b>", 530, ""}}},
		{"LOGIN", []step{{"AUTH LOGIN", 334, "334 " + b64("Username:")}, {b64(DemoUser), 334, "334 " + b64("Password:")}, {b64(DemoPassword), 235, ""}}},
		{"LOGIN with initial response", []step{{"AUTH LOGIN " + b64(DemoUser), 334, "334 " + b64("Password:")}, {b64(DemoPassword), 235, ""}}},
		{"LOGIN cancelled", []step{{"AUTH LOGIN", 334, ""}, {"*", 501, ""}}},
		{"unknown mechanism", []step{{"AUTH CRAM-MD5", 504, ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, c := dialScenario(t, "submission-ok")
			runSteps(t, c, []step{{"", 220, ""}, {"EHLO c", 250, ""}, {"STARTTLS", 220, ""}})
			pool := rootsFor(srv)
			tc := tls.Client(c.conn, &tls.Config{RootCAs: pool, ServerName: "localhost"})
			if err := tc.Handshake(); err != nil {
				t.Fatalf("handshake with the generated certificate: %v", err)
			}
			c.conn, c.r = tc, bufio.NewReader(tc)
			code, lines, err := c.cmd("EHLO c")
			if err != nil || code != 250 || !hasCap(lines, "AUTH") {
				t.Fatalf("EHLO in TLS: %d %q %v", code, lines, err)
			}
			runSteps(t, c, tt.steps)
		})
	}
}

// BenchmarkStartClose measures a server's life cycle, with a fresh
// certificate per Start and with one cached certificate.
func BenchmarkStartClose(b *testing.B) {
	conf, err := SelfSignedTLS()
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		opts Options
	}{{"fresh-cert", Options{}}, {"cached-cert", Options{TLSConfig: conf}}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				srv, err := Start(context.Background(), "ok", bc.opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := srv.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
