package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const (
	rcUser     = "bob@example.test"
	rcPassword = "Very-Secret-pw-314"
)

// rcServer is an in-process MX for example.test without TLS; openRelay
// makes it accept every recipient, authInClear offers AUTH PLAIN without
// TLS (so the CLI's password handling can be tested without certificates).
func rcServer(t *testing.T, openRelay, authInClear bool) string {
	t.Helper()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &rcSession{openRelay: openRelay}, nil
	}))
	s.Domain = "mx.example.test"
	s.AllowInsecureAuth = authInClear
	s.ReadTimeout, s.WriteTimeout = 5*time.Second, 5*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

type rcSession struct {
	openRelay bool
	authed    bool
}

func (s *rcSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *rcSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, u, p string) error {
		if u == rcUser && p == rcPassword {
			s.authed = true
			return nil
		}
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "Authentication credentials invalid"}
	}), nil
}
func (s *rcSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *rcSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.openRelay || s.authed || to == "alice@example.test" || to == "postmaster@example.test" {
		return nil
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "<" + to + ">: Relay access denied"}
}
func (s *rcSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
func (s *rcSession) Reset()                 {}
func (s *rcSession) Logout() error          { return nil }

func testStdio(env map[string]string) (stdio, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return stdio{
		in: strings.NewReader(""), out: &out, err: &errb,
		isTerminal: func() bool { return false },
		getenv:     func(k string) string { return env[k] },
	}, &out, &errb
}

func TestRelayCheckCLI(t *testing.T) {
	mx := rcServer(t, false, false)
	relay := rcServer(t, true, false)
	clearAuth := rcServer(t, false, true)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		a := ln.Addr().String()
		ln.Close()
		return a
	}()
	common := []string{"--to", "alice@example.test", "--helo", "client.example.test", "--check-timeout", "3s"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		exit    int
		outHas  []string
		errHas  string
		jsonOut bool
	}{
		{name: "MX without TLS: relay refused, STARTTLS missing", args: append([]string{"-s", mx}, common...), exit: 0,
			outHas: []string{"open-relay                     PASS", "554 5.7.1 <relaycheck@example.net>: Relay access denied",
				"starttls                       WARN", "auth-valid                     SKIP", "verdict WARN (exit 0"}},
		{name: "open relay fails", args: append([]string{"-s", relay}, common...), exit: 3,
			outHas: []string{"open-relay                     FAIL", "verdict FAIL (exit 3"}},
		{name: "closed port", args: append([]string{"-s", closed}, common...), exit: 2,
			outHas: []string{"could not be reached", "SKIP"}},
		{name: "JSON with credentials from the environment", jsonOut: true,
			args: append([]string{"-s", clearAuth, "-au", rcUser, "--auth-password-env", "RC_PW", "--auth-plaintext", "--json"}, common...),
			env:  map[string]string{"RC_PW": rcPassword}, exit: 3},
		{name: "verbose transcripts", args: append([]string{"-s", clearAuth, "-v", "--no-bad-password", "-au", rcUser, "--auth-password", rcPassword, "--auth-plaintext"}, common...),
			exit: 3, outHas: []string{"=== session 1/", " -> RCPT TO:<relaycheck@example.net>", "auth-valid                     PASS", "auth-before-tls                FAIL", "--no-bad-password"}},
		{name: "quit-after is refused", args: []string{"-s", mx, "--quit-after", "rcpt"}, exit: 1, errHas: "--quit-after does not apply"},
		{name: "compat is refused", args: []string{"-s", mx, "--compat", "swaks"}, exit: 1, errHas: "--compat does not apply"},
		{name: "drop-after is refused", args: []string{"-s", mx, "--drop-after", "rcpt"}, exit: 1, errHas: "--drop-after does not apply"},
		{name: "negative reconnect delay", args: []string{"-s", mx, "--reconnect-delay", "-1s"}, exit: 1, errHas: "--reconnect-delay"},
		{name: "bad role", args: []string{"-s", mx, "--role", "relay"}, exit: 1, errHas: "--role"},
		{name: "no server, no domain", args: []string{}, exit: 1, errHas: "--server"},
		{name: "stray argument", args: []string{"-s", mx, "extra"}, exit: 1, errHas: "unexpected argument"},
		{name: "password prompt impossible without a terminal", args: []string{"-s", mx, "-au", rcUser}, exit: 1, errHas: "terminal"},
		{name: "help", args: []string{"--help"}, exit: 0, outHas: []string{"Usage: probe relay-check", "--no-bad-password", "--foreign"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sio, out, errb := testStdio(tc.env)
			code := run(context.Background(), append([]string{"relay-check"}, tc.args...), sio)
			if code != tc.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.exit, out, errb)
			}
			for _, s := range tc.outHas {
				if !strings.Contains(out.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if tc.errHas != "" && !strings.Contains(errb.String(), tc.errHas) {
				t.Errorf("stderr %q, want %q", errb, tc.errHas)
			}
			all := out.String() + errb.String()
			if strings.Contains(all, rcPassword) {
				t.Errorf("the password appears in the output")
			}
			if tc.jsonOut {
				var doc struct {
					Target  map[string]any   `json:"target"`
					Checks  []map[string]any `json:"checks"`
					Verdict string           `json:"verdict"`
					Command []string         `json:"command"`
				}
				if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
					t.Fatalf("not JSON: %v\n%s", err, out)
				}
				if doc.Verdict != "fail" || len(doc.Checks) != 15 || doc.Target["auth_user"] != rcUser {
					t.Errorf("verdict %q, %d checks, target %v", doc.Verdict, len(doc.Checks), doc.Target)
				}
				for _, c := range doc.Checks {
					for _, k := range []string{"name", "verdict", "reply", "detail"} {
						if _, ok := c[k]; !ok {
							t.Errorf("check %v lacks %q", c["name"], k)
						}
					}
				}
			}
		})
	}
}
