//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// chasquid 1.11 on three ports (servers.sh): SMTP (MX role), submission
// (AUTH PLAIN only inside STARTTLS) and submission over TLS. It runs in a
// network namespace of its own, so a relayed message stays queued: its DNS
// lookup fails with "network is unreachable".

// messageID is a Message-ID unique to this test and run, to find the
// message in a mailbox.
func messageID(t *testing.T) string {
	t.Helper()
	name := regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("<it-%s-%d@smtpprobe.test>", strings.Trim(name, "-"), time.Now().UnixNano())
}

// waitMailbox polls root (the server's folder of per-user maildirs) until a
// message holding needle has been delivered, and returns its path. The
// servers deliver after they answered the final dot, so it may take a
// moment.
func waitMailbox(t *testing.T, root, needle string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		path, err := FindMessage(root, needle)
		if err != nil {
			t.Fatalf("mailbox: %v", err)
		}
		if path != "" {
			return path
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with %s was delivered under %s within 10s", needle, root)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitLog polls a server log until re matches what was added since off.
func waitLog(t *testing.T, path string, off int64, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("server log: %v", err)
		}
		var text string
		if int64(len(data)) >= off {
			text = string(data[off:])
		}
		if m := re.FindString(text); m != "" {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nothing matched %q within 10s; added since offset %d:\n%s", path, re, off, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func logSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("server log: %v", err)
	}
	return fi.Size()
}

// mtaCase is one probe session against one of the unpacked MTAs.
type mtaCase struct {
	name string
	port string // env key of the port
	args []string
	want want
	// mailbox: the env key of the server's mail folder; the message,
	// marked with a Message-ID of its own, must be delivered there.
	mailbox string
	// extra checks on the finished run.
	check func(t *testing.T, r probeRun)
}

func (c mtaCase) run(t *testing.T, s *suite, secret string) {
	t.Helper()
	args := c.args
	var id string
	if c.mailbox != "" {
		id = messageID(t)
		args = append(append([]string{}, args...), "--header", "Message-ID: "+id)
	}
	r := s.runProbe(t, c.port, args...)
	c.want.check(t, r)
	noSecret(t, r, secret)
	if c.check != nil {
		c.check(t, r)
	}
	if c.mailbox != "" {
		path := waitMailbox(t, s.get(t, c.mailbox), id)
		t.Logf("delivered: %s", path)
	}
}

// sentInClear reports whether the probe sent a command starting with
// prefix outside TLS.
func sentInClear(r probeRun, prefix string) bool {
	for _, e := range r.session.Transcript {
		if e.Dir == "send" && !e.TLS && strings.HasPrefix(strings.ToUpper(e.Text), prefix) {
			return true
		}
	}
	return false
}

func TestChasquidSessions(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	auth := func(mech, pw string) []string {
		return []string{"--auth=" + mech, "--auth-user", user, "--auth-password", pw}
	}
	const (
		mx    = "SMTPPROBE_PORT_CHASQUID"
		sub   = "SMTPPROBE_PORT_CHASQUID_SUBMISSION"
		smtps = "SMTPPROBE_PORT_CHASQUID_TLS"
		mail  = "SMTPPROBE_IT_CHASQUID_MAIL"
	)
	logPath := s.get(t, "SMTPPROBE_IT_CHASQUID_LOG")
	// A recipient of its own for the relayed message, to find its failed
	// delivery in the log.
	remote := fmt.Sprintf("friend-%d@remote.test", time.Now().UnixNano())
	logOff := logSize(t, logPath)
	tests := []mtaCase{
		{
			// Port 2700 is neither 465 nor 587: STARTTLS when offered.
			name:    "mx delivers to the mailbox over STARTTLS by default",
			port:    mx,
			args:    []string{"--to", user, "--from", sender},
			want:    want{exit: 0, code: 250, enhanced: "2.0.0", tls: true},
			mailbox: mail,
		},
		{
			name:    "mx delivers to the mailbox in clear",
			port:    mx,
			args:    []string{"--to", user, "--from", sender, "--no-tls"},
			want:    want{exit: 0, code: 250, enhanced: "2.0.0"},
			mailbox: mail,
		},
		{
			name:    "mx postmaster alias reaches alice's mailbox",
			port:    mx,
			args:    []string{"--to", "postmaster@example.test", "--from", sender},
			want:    want{exit: 0, code: 250},
			mailbox: mail,
		},
		{
			name: "mx refuses relay",
			port: mx,
			args: []string{"--to", "someone@remote.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 503, enhanced: "5.7.1",
				categories: []string{"relay-denied"}, replyMatch: `^503 5\.7\.1 Relay not allowed$`},
		},
		{
			name: "mx unknown local user",
			port: mx,
			args: []string{"--to", "nobody@example.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "5.1.1",
				categories: []string{"recipient-unknown"}, replyMatch: `Destination address is unknown \(user does not exist\)`},
		},
		{
			// chasquid hangs up after three errors in one session.
			name: "mx third error in a session is 421 Too many errors",
			port: mx,
			args: []string{"--to", "n1@example.test,n2@example.test,n3@example.test," + user, "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 421, enhanced: "4.5.0",
				categories: []string{"protocol-error", "rate-limit", "recipient-unknown"}, replyMatch: `^421 4\.5\.0 Too many errors, bye$`},
		},
		{
			name:    "submission STARTTLS and AUTH PLAIN deliver to the mailbox",
			port:    sub,
			args:    append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", pass)...),
			want:    want{exit: 0, code: 250, tls: true},
			mailbox: mail,
		},
		{
			// The default on a port other than 465/587 is STARTTLS when
			// offered, which is what unlocks AUTH here.
			name: "submission AUTH with no TLS option uses the offered STARTTLS",
			port: sub,
			args: append([]string{"--to", user, "--from", user}, auth("PLAIN", pass)...),
			want: want{exit: 0, code: 250, tls: true},
		},
		{
			name: "submission AUTH relays and the message stays on this machine",
			port: sub,
			args: append([]string{"--to", remote, "--from", user, "--tls"}, auth("PLAIN", pass)...),
			want: want{exit: 0, code: 250, tls: true},
			check: func(t *testing.T, r probeRun) {
				// chasquid queued it and its courier failed at the MX
				// lookup inside the empty network namespace.
				re := regexp.MustCompile(`to=` + regexp.QuoteMeta(remote) + ` failed \(temporary\): [^\n]*network is unreachable`)
				t.Logf("chasquid: %s", waitLog(t, logPath, logOff, re))
			},
		},
		{
			name: "submission wrong password",
			port: sub,
			args: append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", "not-"+pass)...),
			want: want{exit: 28, phase: "auth", code: 535, enhanced: "5.7.8",
				categories: []string{"auth-failed"}, replyMatch: `^535 5\.7\.8 Incorrect user or password$`, tls: true},
		},
		{
			name: "submission offers no AUTH LOGIN",
			port: sub,
			args: append([]string{"--to", user, "--from", user, "--tls"}, auth("LOGIN", pass)...),
			want: want{exit: 28, phase: "auth", categories: []string{"auth-failed"}, tls: true},
		},
		{
			name: "submission refuses mail without AUTH",
			port: sub,
			args: []string{"--to", user, "--from", user, "--tls"},
			want: want{exit: 23, phase: "mail", code: 550, enhanced: "5.7.9",
				categories: []string{"auth-required"}, replyMatch: `Mail to submission port must be authenticated`, tls: true},
		},
		{
			// chasquid advertises AUTH only inside TLS; the probe must not
			// send credentials in clear either way.
			name: "submission without TLS: no AUTH is sent",
			port: sub,
			args: append([]string{"--to", user, "--from", user, "--no-tls"}, auth("PLAIN", pass)...),
			want: want{exit: 28, phase: "auth"},
			check: func(t *testing.T, r probeRun) {
				if sentInClear(r, "AUTH") {
					t.Errorf("the probe sent AUTH without TLS")
				}
			},
		},
		{
			name:    "submission over TLS with AUTH delivers to the mailbox",
			port:    smtps,
			args:    append([]string{"--to", user, "--from", user, "--tls-on-connect"}, auth("PLAIN", pass)...),
			want:    want{exit: 0, code: 250, tls: true},
			mailbox: mail,
		},
		{
			name: "submission over TLS verifies against the test CA",
			port: smtps,
			args: append([]string{"--to", user, "--from", user, "--tls-on-connect", "--tls-verify",
				"--tls-sni", "mx.example.test", "--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT")}, auth("PLAIN", pass)...),
			want: want{exit: 0, code: 250, tls: true},
		},
		{
			name: "submission over TLS: --tls-verify fails on an unknown CA",
			port: smtps,
			args: []string{"--to", user, "--from", user, "--tls-on-connect", "--tls-verify"},
			want: want{exit: 29},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, s, pass)
		})
	}
}

// runRelayCheck runs `probe relay-check --json` against one port of a
// server whose mail domain is example.test.
func (s *suite) runRelayCheck(t *testing.T, portKey string, args ...string) (int, relayReport, []byte) {
	t.Helper()
	return s.relayCheck(t, portKey, append([]string{"--domain", "example.test", "--timeout", "10s"}, args...)...)
}

// relayCheck runs `probe relay-check --json` against one port with args,
// and returns its exit code, its report and everything it printed.
func (s *suite) relayCheck(t *testing.T, portKey string, args ...string) (int, relayReport, []byte) {
	t.Helper()
	full := append([]string{"relay-check",
		"--server", s.get(t, "SMTPPROBE_IT_HOST"), "--port", s.get(t, portKey), "--json"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.probe, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	exit := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		exit = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("probe relay-check: %v\n%s", err, stderr.Bytes())
	}
	t.Logf("probe %s -> exit %d in %v", strings.Join(full, " "), exit, time.Since(start).Round(time.Millisecond))
	var rep relayReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("relay-check output is not JSON: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.Bytes(), stderr.Bytes())
	}
	if rep.ExitCode != exit {
		t.Errorf("report says exit %d, process exited %d", rep.ExitCode, exit)
	}
	return exit, rep, append(stdout.Bytes(), stderr.Bytes()...)
}

// relayCheckCase is one relay-check run and the verdicts it must give.
type relayCheckCase struct {
	name     string
	port     string
	args     []string
	wantExit int
	checks   map[string]string // check name -> verdict
}

func (c relayCheckCase) run(t *testing.T, s *suite, secret string) {
	t.Helper()
	exit, rep, out := s.runRelayCheck(t, c.port, c.args...)
	got := make(map[string]string, len(rep.Checks))
	for _, ch := range rep.Checks {
		got[ch.Name] = ch.Verdict
		// A server that hangs up with 421 has not refused anything:
		// nothing was proven.
		if ch.Verdict == "pass" && strings.HasPrefix(ch.Reply, "421") {
			t.Errorf("check %s: PASS on a 421 reply %q (%s)", ch.Name, ch.Reply, ch.Detail)
		}
	}
	if exit != c.wantExit {
		t.Errorf("exit %d, want %d (verdict %q; checks %v)", exit, c.wantExit, rep.Verdict, got)
	}
	for name, want := range c.checks {
		if got[name] != want {
			var detail string
			for _, ch := range rep.Checks {
				if ch.Name == name {
					detail = fmt.Sprintf("reply %q: %s", ch.Reply, ch.Detail)
				}
			}
			t.Errorf("check %s: verdict %q, want %q; %s", name, got[name], want, detail)
		}
	}
	if bytes.Contains(out, []byte(secret)) {
		t.Errorf("the password appears in relay-check's output")
	}
}

func TestChasquidRelayCheck(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	creds := []string{"--auth-user", user, "--auth-password", pass}
	ca := []string{"--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT"), "--tls-sni", "mx.example.test"}
	tests := []relayCheckCase{
		{
			// chasquid answers the third refused RCPT of a session with
			// "421 4.5.0 Too many errors, bye".
			name: "MX", port: "SMTPPROBE_PORT_CHASQUID",
			args: append([]string{"--role", "mx", "--to", user}, ca...), wantExit: 0,
			checks: map[string]string{"open-relay": "pass", "open-relay/null-sender": "pass",
				"open-relay/own-domain-sender": "pass", "local-delivery": "pass",
				"auth-before-tls": "pass", "starttls": "pass"},
		},
		{
			name: "submission", port: "SMTPPROBE_PORT_CHASQUID_SUBMISSION",
			args: append(append([]string{"--role", "submission", "--tls", "--to", user}, ca...), creds...), wantExit: 0,
			checks: map[string]string{"open-relay": "pass", "local-delivery": "pass", "auth-before-tls": "pass",
				"starttls": "pass", "auth-mechanisms": "pass", "auth-valid": "pass", "relay-after-auth": "pass",
				"auth-invalid": "pass",
				// chasquid 1.11 lets an authenticated user send as anyone.
				"sender-mismatch": "warn"},
		},
		{
			name: "submission over TLS", port: "SMTPPROBE_PORT_CHASQUID_TLS",
			args: append(append([]string{"--role", "submission", "--tls-on-connect", "--to", user}, ca...), creds...), wantExit: 0,
			checks: map[string]string{"open-relay": "pass", "auth-valid": "pass", "relay-after-auth": "pass",
				"auth-invalid": "pass", "sender-mismatch": "warn"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, s, pass)
		})
	}
}

// swaksLine is one command line given unchanged to real swaks and to the
// probe in swaks mode.
type swaksLine struct {
	name string
	args []string
	exit int // what swaks exits with (checked too, so a changed swaks shows)
}

// swaksPath is the real swaks, or why there is none.
func swaksPath(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("swaks: %v (install.sh installs it)", err)
		}
		t.Skipf("swaks: %v", err)
	}
	return path
}

func runExit(t *testing.T, name string, args ...string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = os.TempDir()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0, out
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		return exitErr.ExitCode(), out
	}
	t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	return 0, nil
}

func (l swaksLine) run(t *testing.T, s *suite, secret string) {
	t.Helper()
	swaks := swaksPath(t)
	// The probe run through a symlink named swaks behaves as swaks.
	symlink := filepath.Join(t.TempDir(), "swaks")
	if err := os.Symlink(s.probe, symlink); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-s", s.get(t, "SMTPPROBE_IT_HOST"), "--helo", "client.example", "--timeout", "10"}, l.args...)
	swaksExit, swaksOut := runExit(t, swaks, args...)
	if swaksExit != l.exit {
		t.Errorf("swaks exited %d, want %d (has swaks changed?)\n%s", swaksExit, l.exit, swaksOut)
	}
	for _, p := range []struct {
		how  string
		name string
		args []string
	}{
		{"probe --compat swaks", s.probe, append([]string{"--compat", "swaks"}, args...)},
		{"probe run as swaks", symlink, args},
	} {
		exit, out := runExit(t, p.name, p.args...)
		t.Logf("%s %s -> exit %d (swaks: %d)", p.how, strings.Join(args, " "), exit, swaksExit)
		if exit != swaksExit {
			t.Errorf("%s exited %d, swaks %d\n--- probe:\n%s\n--- swaks:\n%s", p.how, exit, swaksExit, out, swaksOut)
		}
		if bytes.Contains(out, []byte(secret)) {
			t.Errorf("%s: the password appears in the output", p.how)
		}
	}
}

func TestChasquidSwaksCompat(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	mx, sub, smtps := s.get(t, "SMTPPROBE_PORT_CHASQUID"), s.get(t, "SMTPPROBE_PORT_CHASQUID_SUBMISSION"), s.get(t, "SMTPPROBE_PORT_CHASQUID_TLS")
	creds := []string{"-au", user, "-ap", pass}
	lines := []swaksLine{
		{"mx local delivery, no TLS unless asked", []string{"-p", mx, "-t", user, "-f", sender}, 0},
		{"mx local delivery with STARTTLS", []string{"-p", mx, "-tls", "-t", user, "-f", sender}, 0},
		{"mx relay refused", []string{"-p", mx, "-t", "someone@remote.test", "-f", sender}, 24},
		{"mx unknown user", []string{"-p", mx, "-t", "nobody@example.test", "-f", sender}, 24},
		{"mx quit after rcpt", []string{"-p", mx, "-t", user, "-f", sender, "--quit-after", "rcpt"}, 0},
		// No TLS option: AUTH is not advertised in clear, swaks says "Host
		// did not advertise authentication" (28).
		{"submission AUTH without TLS", append([]string{"-p", sub, "-a", "PLAIN", "-t", user, "-f", user}, creds...), 28},
		{"submission STARTTLS AUTH", append([]string{"-p", sub, "-tls", "-a", "PLAIN", "-t", user, "-f", user}, creds...), 0},
		{"submission STARTTLS wrong password", []string{"-p", sub, "-tls", "-a", "PLAIN", "-t", user, "-f", user, "-au", user, "-ap", "not-" + pass}, 28},
		{"submission AUTH LOGIN not offered", append([]string{"-p", sub, "-tls", "-a", "LOGIN", "-t", user, "-f", user}, creds...), 28},
		{"submission MAIL without AUTH", []string{"-p", sub, "-tls", "-t", user, "-f", user}, 23},
		{"submission over TLS AUTH", append([]string{"-p", smtps, "-tlsc", "-t", user, "-f", user}, creds...), 0},
	}
	for _, l := range lines {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			l.run(t, s, pass)
		})
	}
}
