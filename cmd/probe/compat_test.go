package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/examples/scenario"
)

// runAsSwaks runs the CLI as if the binary had been invoked as "swaks".
func runAsSwaks(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	io := stdio{in: strings.NewReader(""), out: &out, err: &errb, isTerminal: func() bool { return false }, getenv: func(string) string { return "" }, swaks: true}
	code := run(context.Background(), args, io)
	return code, out.String(), errb.String()
}

// compatJSON is the part of the session JSON these tests read.
type compatJSON struct {
	Target struct {
		TLSMode string `json:"tls_mode"`
	} `json:"target"`
	Steps []struct {
		Phase   string `json:"phase"`
		Command string `json:"command"`
	} `json:"steps"`
	Result struct {
		ExitCode int    `json:"exit_code"`
		Phase    string `json:"phase"`
		Error    string `json:"error"`
	} `json:"result"`
	TLSFallback *struct {
		ResultType string `json:"result_type"`
		Action     string `json:"action"`
	} `json:"tls_fallback"`
	Diagnosis *struct {
		Party string `json:"party"`
	} `json:"diagnosis"`
}

func (c compatJSON) sent(verb string) bool {
	for _, s := range c.Steps {
		if strings.HasPrefix(s.Command, verb) {
			return true
		}
	}
	return false
}

func TestSwaksCompatibilityMode(t *testing.T) {
	okH, okP := startScenario(t, "ok")
	subH, subP := startScenario(t, "submission-ok")
	brH, brP := startScenario(t, "broken-starttls")
	to := []string{"-t", "bob@example.test", "-f", "alice@example.com", "--json"}
	tests := []struct {
		name      string
		asSwaks   bool
		args      []string
		wantExit  int
		wantPhase string // "" = not checked
		wantMode  string
		starttls  bool   // STARTTLS was sent
		auth      bool   // an AUTH command was sent
		fallback  string // tls_fallback.action, "" = none
	}{
		// The probe's own default: STARTTLS when offered on a port that
		// is not 465/587.
		{"probe default uses STARTTLS", false, []string{"-s", okH, "-p", okP}, 0, "", "optional", true, false, ""},
		// swaks: no TLS unless asked.
		{"--compat swaks: no TLS unless asked", false, []string{"--compat", "swaks", "-s", okH, "-p", okP}, 0, "", "none", false, false, ""},
		{"invoked as swaks: no TLS unless asked", true, []string{"-s", okH, "-p", okP}, 0, "", "none", false, false, ""},
		// AUTH only inside TLS, no TLS option: swaks's "Host did not
		// advertise authentication", exit 28, nothing sent.
		{"swaks: AUTH not advertised", true, []string{"-s", subH, "-p", subP, "-au", "demo", "-ap", "demo-password"}, 28, "auth", "none", false, false, ""},
		{"probe: STARTTLS unlocks AUTH", false, []string{"-s", subH, "-p", subP, "-au", "demo", "-ap", "demo-password"}, 0, "", "optional", true, true, ""},
		// Broken TLS: the probe reconnects and delivers in clear ...
		{"probe: broken TLS falls back", false, []string{"-s", brH, "-p", brP}, 0, "", "optional", true, false, "reconnected"},
		// ... strict stops ...
		{"probe: strict stops", false, []string{"-s", brH, "-p", brP, "--tls-optional-strict"}, 29, "starttls", "optional-strict", true, false, ""},
		// ... and swaks's -tlso goes on on the same connection, which
		// this server (like OpenSMTPD) has closed.
		{"swaks -tlso: same connection", true, []string{"-s", brH, "-p", brP, "-tlso"}, 6, "mail", "optional", true, false, "same-connection"},
		// The TLS default by port changes too (nothing listens on port 1).
		{"probe: 587 requires STARTTLS", false, []string{"-s", "127.0.0.1:1", "-p", "587", "--timeout", "2s"}, 2, "connect", "required", false, false, ""},
		{"swaks: 587 without TLS option", true, []string{"-s", "127.0.0.1:1", "-p", "587", "--timeout", "2s"}, 2, "connect", "none", false, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var out, errOut string
			args := append(append([]string{}, tc.args...), to...)
			if tc.asSwaks {
				code, out, errOut = runAsSwaks(t, args...)
			} else {
				code, out, errOut = runCLI(t, "", args...)
			}
			var s compatJSON
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("exit %d, bad JSON: %v\n%s\n%s", code, err, out, errOut)
			}
			if code != tc.wantExit || s.Result.ExitCode != tc.wantExit {
				t.Fatalf("exit %d (JSON %d, %s), want %d\n%s", code, s.Result.ExitCode, s.Result.Error, tc.wantExit, out)
			}
			if tc.wantPhase != "" && s.Result.Phase != tc.wantPhase {
				t.Errorf("phase %q, want %q", s.Result.Phase, tc.wantPhase)
			}
			if s.Target.TLSMode != tc.wantMode {
				t.Errorf("tls_mode %q, want %q", s.Target.TLSMode, tc.wantMode)
			}
			if s.sent("STARTTLS") != tc.starttls || s.sent("AUTH") != tc.auth {
				t.Errorf("STARTTLS sent %v (want %v), AUTH sent %v (want %v)", s.sent("STARTTLS"), tc.starttls, s.sent("AUTH"), tc.auth)
			}
			got := ""
			if s.TLSFallback != nil {
				got = s.TLSFallback.Action
				if s.TLSFallback.ResultType != "validation-failure" {
					t.Errorf("fallback result type %q", s.TLSFallback.ResultType)
				}
			}
			if got != tc.fallback {
				t.Errorf("tls_fallback action %q, want %q", got, tc.fallback)
			}
			if tc.wantExit == 28 && (!strings.Contains(s.Result.Error, "does not advertise AUTH") || s.Diagnosis == nil || s.Diagnosis.Party != "sender") {
				t.Errorf("AUTH not advertised: error %q, diagnosis %+v", s.Result.Error, s.Diagnosis)
			}
			if strings.Contains(out, scenario.DemoPassword) {
				t.Error("password in the output")
			}
		})
	}
}

func TestSwaksCompatibilityUsage(t *testing.T) {
	if code, _, errOut := runCLI(t, "", "--compat", "sendmail", "-t", "a@b.test"); code != 1 || !strings.Contains(errOut, "--compat") {
		t.Errorf("--compat sendmail: exit %d %q", code, errOut)
	}
	// swaks has no subcommands: under its name "demo" is an argument.
	if code, _, errOut := runAsSwaks(t, "demo"); code != 1 || !strings.Contains(errOut, "unexpected argument") {
		t.Errorf("swaks demo: exit %d %q", code, errOut)
	}
	for _, name := range []string{"swaks", "/usr/local/bin/swaks", "SWAKS.EXE", `C:\tools\swaks.exe`} {
		if !invokedAsSwaks(name) && !strings.Contains(name, `\`) {
			t.Errorf("invokedAsSwaks(%q) = false", name)
		}
	}
	for _, name := range []string{"probe", "/usr/bin/swaks-old", "smtpprobe"} {
		if invokedAsSwaks(name) {
			t.Errorf("invokedAsSwaks(%q) = true", name)
		}
	}
}

// The TLS options of swaks: the peer chain written to a file, a bad
// protocol or cipher refused before connecting, a missing folder too.
func TestTLSOptionsCLI(t *testing.T) {
	h, p := startScenario(t, "ok")
	dir := t.TempDir()
	file := filepath.Join(dir, "peer.pem")
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("not a certificate\n"), 0o644)
	code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.test", "--tls", "--tls-get-peer-cert", file, "--tls-protocol", "tlsv1_2,tlsv1_3")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	pemBytes, err := os.ReadFile(file)
	if err != nil || !strings.Contains(string(pemBytes), "BEGIN CERTIFICATE") {
		t.Fatalf("peer chain file: %v %q", err, pemBytes)
	}
	for _, tc := range []struct {
		args   []string
		errHas string
	}{
		{[]string{"--tls-protocol", "tlsv9"}, "--tls-protocol"},
		{[]string{"--tls-cipher", "NO-SUCH-CIPHER"}, "--tls-cipher"},
		{[]string{"--tls-get-peer-cert", filepath.Join(dir, "missing", "x.pem")}, "missing"},
		{[]string{"--tls-ca-path", notPEM}, notPEM},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"-s", h, "-p", p, "-t", "bob@example.test", "--tls"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.errHas) {
			t.Errorf("%q: exit %d %q", tc.args, code, errOut)
		}
	}
}

// --report writes the ticket report to a file whatever the outcome, and
// --json-schema prints the schema.
func TestReportAndSchemaFlags(t *testing.T) {
	h, p := startScenario(t, "relay-denied")
	file := filepath.Join(t.TempDir(), "ticket.md")
	code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--report", file, "-S", "3")
	if code != 24 || out != "" {
		t.Fatalf("exit %d, output %q %q", code, out, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil || !strings.HasPrefix(string(b), "# Rejected at RCPT TO with 554 5.7.1") || !strings.Contains(string(b), "## Transcript") {
		t.Fatalf("report %v:\n%s", err, b)
	}
	if code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "--report", filepath.Join(t.TempDir(), "no", "r.md")); code != 1 || !strings.Contains(errOut, "--report") {
		t.Errorf("missing folder: exit %d %q", code, errOut)
	}
	code, out, _ = runCLI(t, "", "--json-schema")
	if code != 0 || !strings.Contains(out, `"$schema": "https://json-schema.org/draft/2020-12/schema"`) {
		t.Errorf("--json-schema: exit %d %.200s", code, out)
	}
}

// The report's path rules: "-" only with the text output, one file per
// option, and /dev/stdout appended to in place, so a shell redirect keeps
// the transcript.
func TestReportPathRules(t *testing.T) {
	h, p := startScenario(t, "relay-denied")
	dir := t.TempDir()
	same := filepath.Join(dir, "same.txt")
	for _, tc := range []struct {
		args   []string
		errHas string
	}{
		{[]string{"--json", "--report", "-"}, "--report -"},
		{[]string{"--markdown", "--report", "-"}, "--report -"},
		{[]string{"--report="}, "--report"},
		{[]string{"--output", same, "--report", same}, "different files"},
		{[]string{"--tls", "--report", same, "--tls-get-peer-cert", same}, "different files"},
		{[]string{"--tls", "--tls-get-peer-cert", "/dev/stdout"}, "give a file"},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"-s", h, "-p", p, "-t", "bob@example.net"}, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.errHas) {
			t.Errorf("%q: exit %d %q", tc.args, code, errOut)
		}
	}
	bin := probeBinary(t)
	outFile := filepath.Join(dir, "redirect.txt")
	f, err := os.Create(outFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--report", "/dev/stdout")
	cmd.Stdout = f
	_ = cmd.Run()
	f.Close()
	b, _ := os.ReadFile(outFile)
	if !strings.Contains(string(b), "*** Session failed at RCPT") || !strings.Contains(string(b), "# Rejected at RCPT TO") {
		t.Errorf("--report /dev/stdout > file lost a part:\n%s", b)
	}
}

func TestRelayCheckSchemaFlag(t *testing.T) {
	code, out, _ := runCLI(t, "", "relay-check", "--json-schema")
	if code != 0 || !strings.Contains(out, "draft/2020-12") || !strings.Contains(out, "checks") {
		t.Errorf("relay-check --json-schema: exit %d %.200s", code, out)
	}
}
