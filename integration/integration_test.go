//go:build integration

package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// harness is set once by TestMain before any test runs and only read after
// that: the servers and the probe binary are shared by every test because
// starting Postfix, Dovecot and Exim and building the probe take seconds.
var harness *suite

type suite struct {
	skip  string            // non-empty: why the tests cannot run here (outside CI only)
	probe string            // path of the probe binary built for this run
	env   map[string]string // servers.sh env
}

// probeTimeout bounds one probe run. Dovecot delays a failed AUTH by 2 s;
// every other exchange on loopback takes milliseconds.
const probeTimeout = 30 * time.Second

func TestMain(m *testing.M) {
	s, cleanup, err := setUp()
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		cleanup()
		os.Exit(1)
	}
	harness = s
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// setUp makes the servers and the probe binary ready. It returns an error
// (a failure) when something is broken, and a suite with skip set when this
// machine simply lacks the servers and is not CI.
func setUp() (*suite, func(), error) {
	noop := func() {}
	ci := os.Getenv("CI") == "true"
	dir, err := os.Getwd()
	if err != nil {
		return nil, noop, fmt.Errorf("working directory: %w", err)
	}
	script := filepath.Join(dir, "servers.sh")
	root := filepath.Dir(dir)

	if missing := missingBinaries(); len(missing) > 0 {
		if !ci {
			return &suite{skip: fmt.Sprintf("integration servers not installed (%s): run `sudo integration/install.sh --yes`, or set CI=true",
				strings.Join(missing, ", "))}, noop, nil
		}
		// In CI the suite installs what it needs; a failure here is a
		// failure of the run, never a skip.
		if out, err := run(5*time.Minute, filepath.Join(dir, "install.sh")); err != nil {
			return nil, noop, fmt.Errorf("install.sh: %w\n%s", err, out)
		}
		if missing := missingBinaries(); len(missing) > 0 {
			return nil, noop, fmt.Errorf("still missing after install.sh: %s", strings.Join(missing, ", "))
		}
	}
	if os.Geteuid() != 0 {
		if ci {
			return nil, noop, errors.New("the integration servers need root (Postfix and Dovecot drop privileges themselves)")
		}
		return &suite{skip: "integration servers need root"}, noop, nil
	}

	cleanup := noop
	if _, err := run(10*time.Second, script, "status"); err != nil {
		// Not running yet: start them for this run and stop them after,
		// unless asked to leave them up for poking at by hand.
		if out, err := run(2*time.Minute, script, "start"); err != nil {
			return nil, noop, fmt.Errorf("servers.sh start: %w\n%s", err, out)
		}
		if os.Getenv("SMTPPROBE_IT_KEEP") != "1" {
			cleanup = func() {
				if out, err := run(time.Minute, script, "stop"); err != nil {
					fmt.Fprintf(os.Stderr, "integration: servers.sh stop: %v\n%s", err, out)
				}
			}
		}
	}

	out, err := run(10*time.Second, script, "env")
	if err != nil {
		return nil, cleanup, fmt.Errorf("servers.sh env: %w\n%s", err, out)
	}
	env, err := ParseEnv(bytes.NewReader(out))
	if err != nil {
		return nil, cleanup, fmt.Errorf("servers.sh env: %w", err)
	}

	if prebuilt := os.Getenv("SMTPPROBE_IT_PROBE"); prebuilt != "" {
		// A binary built elsewhere (a release, or a tree with local edits).
		return &suite{probe: prebuilt, env: env}, cleanup, nil
	}
	tmp, err := os.MkdirTemp("", "smtpprobe-it-bin-")
	if err != nil {
		return nil, cleanup, fmt.Errorf("temp dir for the probe binary: %w", err)
	}
	stop := cleanup
	cleanup = func() {
		stop()
		os.RemoveAll(tmp)
	}
	probe := filepath.Join(tmp, "probe")
	build := exec.Command("go", "build", "-o", probe, "./cmd/probe")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, cleanup, fmt.Errorf("go build ./cmd/probe: %w\n%s", err, out)
	}
	return &suite{probe: probe, env: env}, cleanup, nil
}

func missingBinaries() []string {
	var missing []string
	if _, err := exec.LookPath("postfix"); err != nil {
		missing = append(missing, "postfix")
	}
	if _, err := os.Stat("/usr/sbin/dovecot"); err != nil {
		missing = append(missing, "dovecot")
	}
	exim := os.Getenv("EXIM_BIN")
	if exim == "" {
		root := os.Getenv("EXIM_ROOT")
		if root == "" {
			root = "/opt/smtpprobe-exim"
		}
		exim = filepath.Join(root, "usr/sbin/exim4")
	}
	if _, err := os.Stat(exim); err != nil {
		missing = append(missing, "exim4 ("+exim+")")
	}
	// The servers install.sh unpacks beside them (chasquid, OpenSMTPD,
	// Sendmail): without them servers.sh start fails, which is a skip
	// outside CI and a failure under CI=true.
	for _, bin := range []string{
		"/opt/smtpprobe-chasquid/usr/bin/chasquid",
		"/opt/smtpprobe-opensmtpd/usr/sbin/smtpd",
		"/opt/smtpprobe-sendmail/usr/libexec/sendmail/sendmail",
	} {
		if _, err := os.Stat(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	return missing
}

// run runs a setup command with a deadline and returns its
// combined output.
func run(timeout time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	// Stdin stays closed (nil). Daemons started by the script should not
	// inherit our pipes (it redirects their stdio); WaitDelay keeps one that
	// does from hanging the suite.
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	return out, nil
}

func need(t *testing.T) *suite {
	t.Helper()
	if harness == nil {
		t.Fatal("TestMain did not set up the suite")
	}
	if harness.skip != "" {
		t.Skip(harness.skip)
	}
	return harness
}

func (s *suite) get(t *testing.T, key string) string {
	t.Helper()
	v, ok := s.env[key]
	if !ok || v == "" {
		t.Fatalf("servers.sh env has no %s", key)
	}
	return v
}

// probeRun is one finished probe process.
type probeRun struct {
	exit    int
	stdout  []byte
	stderr  []byte
	session Session
}

// runProbe runs the probe with --json against the test host and decodes its
// output.
func (s *suite) runProbe(t *testing.T, portKey string, args ...string) probeRun {
	t.Helper()
	full := append([]string{
		"--server", s.get(t, "SMTPPROBE_IT_HOST"),
		"--port", s.get(t, portKey),
		"--timeout", "10s",
		"--json",
	}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.probe, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	r := probeRun{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr) && exitErr.ExitCode() >= 0:
		r.exit = exitErr.ExitCode()
	default:
		t.Fatalf("probe %s: %v after %v\nstderr:\n%s", strings.Join(full, " "), err, elapsed, stderr.Bytes())
	}
	t.Logf("probe %s -> exit %d in %v", strings.Join(full, " "), r.exit, elapsed.Round(time.Millisecond))
	sess, err := ParseSession(r.stdout)
	if err != nil {
		t.Fatalf("probe output is not session JSON: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	r.session = sess
	return r
}

// want is the expected outcome of one probe session.
type want struct {
	exit       int
	phase      string   // result.phase; checked when exit != 0 and set
	code       int      // reply code of the failing step; 0: not checked
	enhanced   string   // enhanced code; "-": must be absent (Exim)
	categories []string // acceptable diagnosis.category values; set: a diagnosis is required
	replyMatch string   // regexp the deciding reply must match
	tls        bool     // session must report a TLS connection
}

func (w want) check(t *testing.T, r probeRun) {
	t.Helper()
	s := r.session
	dump := func() string {
		return fmt.Sprintf("\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if r.exit != w.exit {
		t.Fatalf("exit code %d, want %d%s", r.exit, w.exit, dump())
	}
	if s.Result.ExitCode != w.exit {
		t.Errorf("result.exit_code %d, want %d", s.Result.ExitCode, w.exit)
	}
	if s.Result.OK != (w.exit == 0) {
		t.Errorf("result.ok %v with exit %d", s.Result.OK, w.exit)
	}
	reply := s.Result.Reply
	if w.exit == 0 {
		// The deciding reply of a successful send is the one after the dot.
		if eod, ok := s.StepReply("end-of-data"); ok {
			reply = eod
		}
		if s.Diagnosis != nil && s.Diagnosis.Category != "" {
			t.Errorf("diagnosis %q on a successful session", s.Diagnosis.Category)
		}
	} else {
		if w.phase != "" && s.Result.Phase != w.phase {
			t.Errorf("result.phase %q, want %q%s", s.Result.Phase, w.phase, dump())
		}
		if len(w.categories) > 0 {
			if s.Diagnosis == nil {
				t.Fatalf("no diagnosis for a failed session%s", dump())
			}
			if !slices.Contains(w.categories, s.Diagnosis.Category) {
				t.Errorf("diagnosis.category %q, want one of %v (reply %q)", s.Diagnosis.Category, w.categories, s.Diagnosis.Reply)
			}
			if w.code != 0 && s.Diagnosis.Code != w.code {
				t.Errorf("diagnosis.code %d, want %d", s.Diagnosis.Code, w.code)
			}
		}
	}
	if w.code != 0 && reply.Code != w.code {
		t.Errorf("reply code %d (%q), want %d%s", reply.Code, reply.Text(), w.code, dump())
	}
	switch w.enhanced {
	case "":
	case "-":
		if reply.EnhancedCode != "" {
			t.Errorf("enhanced code %q, want none", reply.EnhancedCode)
		}
	default:
		if reply.EnhancedCode != w.enhanced {
			t.Errorf("enhanced code %q, want %q", reply.EnhancedCode, w.enhanced)
		}
	}
	if w.replyMatch != "" && !regexp.MustCompile(w.replyMatch).MatchString(reply.Text()) {
		t.Errorf("reply %q does not match %q", reply.Text(), w.replyMatch)
	}
	if w.tls {
		if s.TLS == nil || s.TLS.Version == "" {
			t.Errorf("session reports no TLS connection: %+v", s.TLS)
		}
		if !slices.ContainsFunc(s.Transcript, func(e Event) bool { return e.TLS }) {
			t.Errorf("no transcript event is marked as inside TLS")
		}
	}
}

// noSecret fails when the password shows up anywhere the probe wrote.
func noSecret(t *testing.T, r probeRun, secret string) {
	t.Helper()
	if bytes.Contains(r.stdout, []byte(secret)) || bytes.Contains(r.stderr, []byte(secret)) {
		t.Errorf("the password appears in the probe's output")
	}
}

// logMark is a position in the Postfix log, to read what one session added.
type logMark struct {
	path string
	off  int64
}

// postfixSettled reports whether every smtpd connection logged in text has
// also logged its disconnect: Postfix logs both for every session, and
// postlogd writes asynchronously, so a session that just ended may not be
// in the log yet.
func postfixSettled(text string) bool {
	return strings.Count(text, "]: connect from ") == strings.Count(text, "]: disconnect from ")
}

// waitSettled polls the log, bounded, until postfixSettled holds for the text
// from off on, and returns that text.
func waitSettled(t *testing.T, path string, off int64, also func(string) bool) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("server log: %v", err)
		}
		var text string
		if int64(len(data)) >= off {
			text = string(data[off:])
		}
		if postfixSettled(text) && (also == nil || also(text)) {
			return text
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: sessions did not settle within 5s; text since offset %d:\n%s", path, off, text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// markLog waits until no session is half-logged, then returns the log's end.
func markLog(t *testing.T, path string) logMark {
	t.Helper()
	text := waitSettled(t, path, 0, nil)
	return logMark{path: path, off: int64(len(text))}
}

// session returns what the next session logged under syslogName once its
// disconnect line is in.
func (m logMark) session(t *testing.T, syslogName string) string {
	t.Helper()
	return waitSettled(t, m.path, m.off, func(text string) bool {
		return strings.Contains(text, syslogName+"/smtpd[") && strings.Contains(text, "]: disconnect from ")
	})
}

// postfixCommandStats returns the command counters ("ehlo=1 auth=0/1 ...")
// of the one smtpd disconnect line for syslogName in text.
func postfixCommandStats(t *testing.T, text, syslogName string) string {
	t.Helper()
	re := regexp.MustCompile(regexp.QuoteMeta(syslogName) + `/smtpd\[\d+\]: disconnect from \S+ (.*)`)
	ms := re.FindAllStringSubmatch(text, -1)
	if len(ms) != 1 {
		t.Fatalf("want exactly one %s disconnect line, got %d in:\n%s", syslogName, len(ms), text)
	}
	return ms[0][1]
}

const sender = "probe@remote.test"

func TestPostfixSessions(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	auth := func(mech string) []string {
		return []string{"--auth=" + mech, "--auth-user", user, "--auth-password", pass}
	}
	tests := []struct {
		name string
		port string
		args []string
		want want
	}{
		{
			name: "mx accepts local recipient",
			port: "SMTPPROBE_PORT_MX",
			args: []string{"--to", user, "--from", sender},
			want: want{exit: 0, code: 250, enhanced: "2.0.0", replyMatch: `queued as [0-9A-F]{6,}`},
		},
		{
			name: "mx accepts local recipient over STARTTLS",
			port: "SMTPPROBE_PORT_MX",
			args: []string{"--to", user, "--from", sender, "--tls"},
			want: want{exit: 0, code: 250, replyMatch: `queued as [0-9A-F]{6,}`, tls: true},
		},
		{
			name: "mx refuses relay",
			port: "SMTPPROBE_PORT_MX",
			args: []string{"--to", "someone@remote.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 554, enhanced: "5.7.1",
				categories: []string{"relay-denied"}, replyMatch: `Relay access denied`},
		},
		{
			name: "mx unknown local user",
			port: "SMTPPROBE_PORT_MX",
			args: []string{"--to", "nobody@example.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "5.1.1",
				categories: []string{"recipient-unknown"}, replyMatch: `User unknown`},
		},
		{
			name: "mx quit after rcpt",
			port: "SMTPPROBE_PORT_MX",
			args: []string{"--to", user, "--from", sender, "--quit-after", "rcpt"},
			want: want{exit: 0},
		},
		{
			name: "submission STARTTLS AUTH PLAIN relays",
			port: "SMTPPROBE_PORT_SUBMISSION",
			args: append([]string{"--to", "friend@remote.test", "--from", user, "--tls"}, auth("PLAIN")...),
			want: want{exit: 0, code: 250, replyMatch: `queued as`, tls: true},
		},
		{
			name: "submission STARTTLS AUTH LOGIN relays",
			port: "SMTPPROBE_PORT_SUBMISSION",
			args: append([]string{"--to", "friend@remote.test", "--from", user, "--tls"}, auth("LOGIN")...),
			want: want{exit: 0, code: 250, replyMatch: `queued as`, tls: true},
		},
		{
			name: "submission wrong password",
			port: "SMTPPROBE_PORT_SUBMISSION",
			args: []string{"--to", "friend@remote.test", "--from", user, "--tls",
				"--auth=PLAIN", "--auth-user", user, "--auth-password", "not-" + pass},
			want: want{exit: 28, phase: "auth", code: 535, enhanced: "5.7.8",
				categories: []string{"auth-failed"}, tls: true},
		},
		{
			name: "submission refuses mail before STARTTLS",
			port: "SMTPPROBE_PORT_SUBMISSION",
			args: []string{"--to", "friend@remote.test", "--from", user, "--no-tls"},
			want: want{exit: 23, phase: "mail", code: 530, enhanced: "5.7.0",
				categories: []string{"tls-required"}, replyMatch: `STARTTLS`},
		},
		{
			name: "submission without AUTH cannot relay",
			port: "SMTPPROBE_PORT_SUBMISSION",
			args: []string{"--to", "friend@remote.test", "--from", user, "--tls"},
			want: want{exit: 24, phase: "rcpt", code: 554,
				categories: []string{"relay-denied", "auth-required"}, tls: true},
		},
		{
			name: "implicit TLS with AUTH relays",
			port: "SMTPPROBE_PORT_IMPLICIT",
			args: append([]string{"--to", "friend@remote.test", "--from", user, "--tls-on-connect"}, auth("PLAIN")...),
			want: want{exit: 0, code: 250, replyMatch: `queued as`, tls: true},
		},
		{
			name: "implicit TLS verifies against the test CA",
			port: "SMTPPROBE_PORT_IMPLICIT",
			args: []string{"--to", user, "--from", sender, "--tls-on-connect", "--tls-verify",
				"--tls-sni", "mx.example.test", "--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT")},
			want: want{exit: 0, code: 250, tls: true},
		},
		{
			name: "tls-verify fails on an unknown CA",
			port: "SMTPPROBE_PORT_IMPLICIT",
			args: []string{"--to", user, "--from", sender, "--tls-on-connect", "--tls-verify"},
			// No phase asserted: DESIGN.md does not say which phase an
			// implicit-TLS handshake belongs to.
			want: want{exit: 29},
		},
		{
			name: "open relay accepts anything",
			port: "SMTPPROBE_PORT_OPENRELAY",
			args: []string{"--to", "victim@remote.test", "--from", "spammer@remote.test"},
			want: want{exit: 0, code: 250, replyMatch: `queued as`},
		},
		{
			name: "auth before TLS with --auth-plaintext",
			port: "SMTPPROBE_PORT_AUTHNOTLS",
			args: append([]string{"--to", "friend@remote.test", "--from", user, "--no-tls", "--auth-plaintext"}, auth("PLAIN")...),
			want: want{exit: 0, code: 250, replyMatch: `queued as`},
		},
		{
			// Postfix refusing the client at connect time says why
			// ("Client host rejected"), so a policy reading is as right as
			// DESIGN.md's "554 at banner" example of no-service.
			name: "554 instead of a banner",
			port: "SMTPPROBE_PORT_BANNER554",
			args: []string{"--to", user, "--from", sender},
			want: want{exit: 21, phase: "banner", code: 554, enhanced: "5.7.1",
				categories: []string{"policy-generic", "no-service"}, replyMatch: `Client host rejected: Access denied`},
		},
		{
			name: "header_checks reject after the dot",
			port: "SMTPPROBE_PORT_CONTENT",
			args: []string{"--to", user, "--from", sender},
			want: want{exit: 26, phase: "end-of-data", code: 550, enhanced: "5.7.1",
				categories: []string{"spam-content", "policy-generic"}, replyMatch: `(?i)message content rejected`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.runProbe(t, tt.port, tt.args...)
			tt.want.check(t, r)
			noSecret(t, r, pass)
		})
	}
}

// TestNoCredentialsInClear checks the probe's refusal to send a password
// over a connection without TLS, on the server side: Postfix counts every
// AUTH command it receives in its disconnect line ("auth=1", "auth=0/1").
func TestNoCredentialsInClear(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	logPath := s.get(t, "SMTPPROBE_IT_POSTFIX_LOG")
	tests := []struct {
		name       string
		port       string
		syslogName string
	}{
		// Submission offers AUTH only after STARTTLS.
		{"submission without TLS", "SMTPPROBE_PORT_SUBMISSION", "postfix/submission"},
		// This one offers AUTH in clear: the probe must still refuse
		// unless --auth-plaintext is given.
		{"server offering AUTH in clear", "SMTPPROBE_PORT_AUTHNOTLS", "postfix/authnotls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mark := markLog(t, logPath)
			r := s.runProbe(t, tt.port, "--to", "friend@remote.test", "--from", user, "--no-tls",
				"--auth=PLAIN", "--auth-user", user, "--auth-password", pass)
			want{exit: 28, phase: "auth",
				categories: []string{"tls-required", "auth-failed", "auth-required"}}.check(t, r)
			noSecret(t, r, pass)
			for _, e := range r.session.Transcript {
				if e.Dir == "send" && strings.HasPrefix(strings.ToUpper(e.Text), "AUTH") {
					t.Errorf("the probe sent %q without TLS", e.Text)
				}
			}
			added := mark.session(t, tt.syslogName)
			stats := postfixCommandStats(t, added, tt.syslogName)
			if strings.Contains(stats, "auth=") {
				t.Errorf("Postfix saw an AUTH command: %q", stats)
			}
			if strings.Contains(added, "sasl_") || strings.Contains(added, "authentication failed") {
				t.Errorf("Postfix logged an authentication attempt:\n%s", added)
			}
		})
	}
}

// TestServerSawAuth is the positive control for TestNoCredentialsInClear:
// the same log check does see an AUTH the probe really sent.
func TestServerSawAuth(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	mark := markLog(t, s.get(t, "SMTPPROBE_IT_POSTFIX_LOG"))
	r := s.runProbe(t, "SMTPPROBE_PORT_SUBMISSION", "--to", "friend@remote.test", "--from", user, "--tls",
		"--auth=LOGIN", "--auth-user", user, "--auth-password", pass)
	want{exit: 0, tls: true}.check(t, r)
	added := mark.session(t, "postfix/submission")
	if stats := postfixCommandStats(t, added, "postfix/submission"); !strings.Contains(stats, "auth=1") {
		t.Errorf("Postfix command stats %q lack auth=1", stats)
	}
	if !strings.Contains(added, "sasl_method=LOGIN, sasl_username="+user) {
		t.Errorf("Postfix did not log the LOGIN authentication:\n%s", added)
	}
}

func TestEximSessions(t *testing.T) {
	s := need(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	tests := []struct {
		name string
		port string // default SMTPPROBE_PORT_EXIM
		args []string
		want want
	}{
		{
			name: "local recipient accepted",
			args: []string{"--to", user, "--from", sender},
			want: want{exit: 0, code: 250, replyMatch: `OK id=\S+`},
		},
		{
			name: "relay denied",
			args: []string{"--to", "someone@remote.test", "--from", sender},
			// Exim sends no enhanced status codes.
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "-",
				categories: []string{"relay-denied"}, replyMatch: `relay not permitted`},
		},
		{
			name: "unknown local user",
			args: []string{"--to", "nobody@example.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "-",
				categories: []string{"recipient-unknown"}, replyMatch: `Unrouteable address`},
		},
		{
			name: "STARTTLS and AUTH PLAIN relay",
			args: []string{"--to", "friend@remote.test", "--from", user, "--tls",
				"--auth=PLAIN", "--auth-user", user, "--auth-password", pass},
			want: want{exit: 0, code: 250, tls: true},
		},
		{
			name: "554 No SMTP service here instead of a banner",
			port: "SMTPPROBE_PORT_EXIM_NOSERVICE",
			args: []string{"--to", user, "--from", sender},
			want: want{exit: 21, phase: "banner", code: 554, enhanced: "-",
				categories: []string{"no-service"}, replyMatch: `^554 No SMTP service here$`},
		},
		{
			name: "wrong password",
			args: []string{"--to", "friend@remote.test", "--from", user, "--tls",
				"--auth=LOGIN", "--auth-user", user, "--auth-password", "not-" + pass},
			want: want{exit: 28, phase: "auth", code: 535, enhanced: "-",
				categories: []string{"auth-failed"}, tls: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := tt.port
			if port == "" {
				port = "SMTPPROBE_PORT_EXIM"
			}
			r := s.runProbe(t, port, tt.args...)
			tt.want.check(t, r)
			noSecret(t, r, pass)
		})
	}
}

// relayReport is the part of `probe relay-check --json` the tests read
// (package relaycheck's Report).
type relayReport struct {
	Verdict  string `json:"verdict"`
	ExitCode int    `json:"exit_code"`
	Checks   []struct {
		Name    string `json:"name"`
		Verdict string `json:"verdict"`
		Reply   string `json:"reply"`
		Detail  string `json:"detail"`
	} `json:"checks"`
}

func TestRelayCheck(t *testing.T) {
	s := need(t)
	help, _ := exec.Command(s.probe, "relay-check", "--help").CombinedOutput()
	if !bytes.Contains(help, []byte("--role")) {
		t.Fatalf("probe relay-check --help lists no --role:\n%s", help)
	}
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	creds := []string{"--auth-user", user, "--auth-password", pass}
	// The servers' certificate verifies only with the test CA and name.
	common := []string{"--domain", "example.test", "--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT"), "--tls-sni", "mx.example.test"}
	every := func(v string) map[string]string {
		m := make(map[string]string)
		for _, n := range []string{"open-relay", "open-relay/percent-hack", "open-relay/quoted-local-part",
			"open-relay/source-route", "open-relay/bang-path", "open-relay/own-domain-sender", "open-relay/null-sender",
			"local-delivery", "auth-before-tls", "starttls", "auth-mechanisms", "auth-valid",
			"relay-after-auth", "auth-invalid", "sender-mismatch"} {
			m[n] = v
		}
		return m
	}
	tests := []struct {
		name        string
		port        string
		args        []string
		wantExit    int               // 0: nothing failed; 3: a check failed
		wantVerdict string            // the report's overall verdict
		checks      map[string]string // check name -> verdict
	}{
		{"correct MX", "SMTPPROBE_PORT_MX", []string{"--role", "mx"}, 0, "pass",
			map[string]string{"open-relay": "pass", "open-relay/percent-hack": "pass", "open-relay/source-route": "pass",
				"local-delivery": "pass", "auth-before-tls": "pass", "starttls": "pass"}},
		{"open relay", "SMTPPROBE_PORT_OPENRELAY", []string{"--role", "mx"}, 3, "fail",
			map[string]string{"open-relay": "fail", "open-relay/null-sender": "fail", "local-delivery": "pass"}},
		{"AUTH offered in clear", "SMTPPROBE_PORT_AUTHNOTLS", append([]string{"--role", "mx"}, creds...), 3, "fail",
			map[string]string{"open-relay": "pass", "auth-before-tls": "fail", "auth-valid": "pass", "auth-invalid": "pass"}},
		// Submission is configured as it should be: every check passes.
		{"correct submission", "SMTPPROBE_PORT_SUBMISSION", append([]string{"--role", "submission", "--tls"}, creds...), 0, "pass",
			every("pass")},
		// Implicit TLS takes local mail without AUTH and lets a user send
		// as anyone: findings, not failures.
		{"implicit TLS submission", "SMTPPROBE_PORT_IMPLICIT", append([]string{"--role", "submission", "--tls-on-connect"}, creds...), 0, "warn",
			map[string]string{"open-relay": "pass", "starttls": "pass", "auth-valid": "pass", "relay-after-auth": "pass",
				"auth-invalid": "pass", "local-delivery": "warn", "sender-mismatch": "warn"}},
		{"Exim MX", "SMTPPROBE_PORT_EXIM", []string{"--role", "mx"}, 0, "pass",
			map[string]string{"open-relay": "pass", "open-relay/null-sender": "pass", "local-delivery": "pass", "auth-before-tls": "pass", "starttls": "pass"}},
		// A 554 greeting refuses this client: nothing can be checked.
		{"554 banner", "SMTPPROBE_PORT_BANNER554", []string{"--role", "mx"}, 2, "skip",
			map[string]string{"open-relay": "skip", "local-delivery": "skip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exit, rep, out := s.relayCheck(t, tt.port, append(append([]string{}, common...), tt.args...)...)
			if exit != tt.wantExit || rep.ExitCode != exit || rep.Verdict != tt.wantVerdict {
				t.Errorf("exit %d (report says %d), want %d; verdict %q, want %q", exit, rep.ExitCode, tt.wantExit, rep.Verdict, tt.wantVerdict)
			}
			got := make(map[string]string, len(rep.Checks))
			for _, c := range rep.Checks {
				got[c.Name] = c.Verdict
			}
			for name, want := range tt.checks {
				if got[name] != want {
					t.Errorf("check %s: verdict %q, want %q (all: %v)", name, got[name], want, got)
				}
			}
			if bytes.Contains(out, []byte(pass)) {
				t.Errorf("the password appears in relay-check's output")
			}
		})
	}
}
