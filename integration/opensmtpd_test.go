//go:build integration

package integration

import (
	"regexp"
	"slices"
	"testing"
)

// OpenSMTPD 6.8 (servers.sh): one port offering STARTTLS and one smtps
// port, both with TLS that fails against Debian 12's OpenSSL 3: the server
// logs `io-error: error:0A080006:SSL routines::EVP lib` and the client gets
// a TLS alert 80 ("internal error") after the server's certificate. It is
// kept that way as the realistic broken-TLS server.

// opensmtpdEVP is what OpenSMTPD logs for its failed handshakes.
var opensmtpdEVP = regexp.MustCompile(`smtp disconnected reason="io-error: error:0A080006:SSL routines::EVP lib"`)

func TestOpenSMTPDSessions(t *testing.T) {
	s := need(t)
	user := s.get(t, "SMTPPROBE_IT_USER")
	const (
		port  = "SMTPPROBE_PORT_OPENSMTPD"
		smtps = "SMTPPROBE_PORT_OPENSMTPD_SMTPS"
		mail  = "SMTPPROBE_IT_OPENSMTPD_MAIL"
	)
	logPath := s.get(t, "SMTPPROBE_IT_OPENSMTPD_LOG")
	fellBack := func(t *testing.T, r probeRun) {
		t.Helper()
		fb := r.session.TLSFallback
		if fb == nil {
			t.Fatalf("no tls_fallback in the session JSON\nstdout:\n%s", r.stdout)
		}
		if fb.Reason == "" {
			t.Errorf("tls_fallback.reason is empty")
		}
		if !slices.Contains(RFC8460ResultTypes, fb.ResultType) {
			t.Errorf("tls_fallback.result_type %q is not an RFC 8460 result type", fb.ResultType)
		}
		if !sentInClear(r, "MAIL") {
			t.Errorf("the session did not finish in clear")
		}
	}
	noFallback := func(t *testing.T, r probeRun) {
		t.Helper()
		if r.session.TLSFallback != nil {
			t.Errorf("tls_fallback %+v, want none", *r.session.TLSFallback)
		}
	}
	tests := []mtaCase{
		{
			// The default: STARTTLS when offered; the handshake fails, the
			// probe records it and finishes on a new connection in clear,
			// as an MTA would.
			name:    "STARTTLS fails, the message is delivered in clear",
			port:    port,
			args:    []string{"--to", user, "--from", sender},
			want:    want{exit: 0, code: 250, enhanced: "2.0.0", replyMatch: `^250 2\.0\.0 [0-9a-f]{8} Message accepted for delivery$`},
			mailbox: mail,
			check: func(t *testing.T, r probeRun) {
				fellBack(t, r)
				t.Logf("server: %s", waitLog(t, logPath, 0, opensmtpdEVP))
			},
		},
		{
			name:    "delivery in clear with --no-tls",
			port:    port,
			args:    []string{"--to", user, "--from", sender, "--no-tls"},
			want:    want{exit: 0, code: 250, enhanced: "2.0.0"},
			mailbox: mail,
			check:   noFallback,
		},
		{
			name: "--tls: the handshake failure is exit 29",
			port: port,
			args: []string{"--to", user, "--from", sender, "--tls"},
			want: want{exit: 29, phase: "starttls"},
		},
		{
			name: "--tls-optional-strict keeps exit 29",
			port: port,
			args: []string{"--to", user, "--from", sender, "--tls-optional-strict"},
			want: want{exit: 29, phase: "starttls"},
		},
		{
			// No rule matches another domain: "550 Invalid recipient". The
			// text alone cannot tell relay from an unknown address.
			name: "relay refused",
			port: port,
			args: []string{"--to", "someone@remote.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "-",
				categories: []string{"relay-denied", "recipient-unknown"}, replyMatch: `^550 Invalid recipient: <someone@remote\.test>$`},
		},
		{
			// A local domain whose virtual table has no such user.
			name: "unknown user",
			port: port,
			args: []string{"--to", "nobody@example.test", "--from", sender, "--no-tls"},
			want: want{exit: 24, phase: "rcpt", code: 524, enhanced: "5.2.4",
				categories: []string{"recipient-unknown"}, replyMatch: `^524 5\.2\.4 Mailing list expansion problem: <nobody@example\.test>$`},
		},
		{
			name: "implicit TLS handshake failure is exit 29 at connect",
			port: smtps,
			args: []string{"--to", user, "--from", sender, "--tls-on-connect"},
			want: want{exit: 29, phase: "connect"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, s, s.get(t, "SMTPPROBE_IT_PASS"))
		})
	}
}

func TestOpenSMTPDRelayCheck(t *testing.T) {
	s := need(t)
	user := s.get(t, "SMTPPROBE_IT_USER")
	tests := []relayCheckCase{
		{
			// A broken STARTTLS on an MX is a finding, and the relay tests
			// still run, in clear.
			name: "MX with broken STARTTLS", port: "SMTPPROBE_PORT_OPENSMTPD",
			args: []string{"--role", "mx", "--to", user}, wantExit: 0,
			checks: map[string]string{"starttls": "warn", "open-relay": "pass", "open-relay/null-sender": "pass",
				"open-relay/own-domain-sender": "pass", "local-delivery": "pass"},
		},
		{
			// Nothing can be checked when TLS never starts on an
			// implicit-TLS port: that is a failed check, not an
			// unreachable server.
			name: "broken implicit TLS", port: "SMTPPROBE_PORT_OPENSMTPD_SMTPS",
			args: []string{"--role", "mx", "--to", user, "--tls-on-connect"}, wantExit: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, s, s.get(t, "SMTPPROBE_IT_PASS"))
		})
	}
}

func TestOpenSMTPDSwaksCompat(t *testing.T) {
	s := need(t)
	user := s.get(t, "SMTPPROBE_IT_USER")
	port, smtps := s.get(t, "SMTPPROBE_PORT_OPENSMTPD"), s.get(t, "SMTPPROBE_PORT_OPENSMTPD_SMTPS")
	lines := []swaksLine{
		{"delivery, no TLS unless asked", []string{"-p", port, "-t", user, "-f", sender}, 0},
		{"STARTTLS fails", []string{"-p", port, "-tls", "-t", user, "-f", sender}, 29},
		// swaks goes on on the same connection after the failed handshake;
		// OpenSMTPD has closed it: "Remote host closed connection
		// unexpectedly" (6).
		{"tls-optional goes on after the failed handshake", []string{"-p", port, "--tls-optional", "-t", user, "-f", sender}, 6},
		{"tls-optional-strict", []string{"-p", port, "--tls-optional-strict", "-t", user, "-f", sender}, 29},
		{"implicit TLS fails", []string{"-p", smtps, "-tlsc", "-t", user, "-f", sender}, 29},
		{"relay refused", []string{"-p", port, "-t", "someone@remote.test", "-f", sender}, 24},
		{"unknown user", []string{"-p", port, "-t", "nobody@example.test", "-f", sender}, 24},
	}
	for _, l := range lines {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			l.run(t, s, s.get(t, "SMTPPROBE_IT_PASS"))
		})
	}
}
