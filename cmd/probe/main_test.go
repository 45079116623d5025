package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/examples/scenario"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// runCLI runs the CLI's own entry point with captured output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	io := stdio{
		in: strings.NewReader(stdin), out: &out, err: &errb,
		isTerminal: func() bool { return false },
		getenv:     func(k string) string { return map[string]string{"PROBE_TEST_PW": "demo-password"}[k] },
	}
	code := run(context.Background(), args, io)
	return code, out.String(), errb.String()
}

type sessionJSON struct {
	Version int      `json:"version"`
	Command []string `json:"command"`
	Target  struct {
		Host    string `json:"host"`
		Port    int    `json:"port"`
		Address string `json:"address"`
		TLSMode string `json:"tls_mode"`
	} `json:"target"`
	Transcript []struct {
		TMS  float64 `json:"t_ms"`
		Dir  string  `json:"dir"`
		TLS  bool    `json:"tls"`
		Text string  `json:"text"`
	} `json:"transcript"`
	Steps []struct {
		Phase   string `json:"phase"`
		Command string `json:"command"`
	} `json:"steps"`
	TLS *struct {
		Version  string `json:"version"`
		Verified bool   `json:"verified"`
	} `json:"tls"`
	Result struct {
		OK       bool   `json:"ok"`
		ExitCode int    `json:"exit_code"`
		Phase    string `json:"phase"`
		Reply    *struct {
			Code  int      `json:"code"`
			Lines []string `json:"lines"`
		} `json:"reply"`
	} `json:"result"`
	Diagnosis *struct {
		Category  string   `json:"category"`
		Party     string   `json:"party"`
		Meaning   string   `json:"meaning"`
		NextSteps []string `json:"next_steps"`
	} `json:"diagnosis"`
	RoundTrips int `json:"round_trips"`
}

func decode(t *testing.T, out string) sessionJSON {
	t.Helper()
	var s sessionJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	return s
}

// TestDemoEveryScenario runs each scenario end to end through the CLI.
func TestDemoEveryScenario(t *testing.T) {
	for _, sc := range scenario.All() {
		t.Run(sc.Name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(t, "", "demo", sc.Name, "--json")
			if code != 0 {
				t.Fatalf("demo exit %d\n%s\n%s", code, out, errOut)
			}
			s := decode(t, out)
			if s.Result.ExitCode != sc.ExpectExit {
				t.Fatalf("exit %d, want %d", s.Result.ExitCode, sc.ExpectExit)
			}
			if sc.ExpectExit != 0 && s.Result.Phase != sc.ExpectPhase {
				t.Fatalf("phase %q, want %q", s.Result.Phase, sc.ExpectPhase)
			}
			if sc.ExpectExit != 0 && sc.ExpectCode != 0 && sc.ExpectReply != nil {
				want := sc.ExpectReply
				if sc.ExpectExit == 29 {
					// STARTTLS injection: what follows the 220 is not part
					// of the reply, it is the attack.
					want = want[:1]
				}
				if s.Result.Reply == nil || strings.Join(s.Result.Reply.Lines, "\n") != strings.Join(want, "\n") {
					t.Fatalf("reply %+v, want %q", s.Result.Reply, sc.ExpectReply)
				}
			}
			if sc.ExpectExit != 0 {
				if s.Diagnosis == nil || s.Diagnosis.Meaning == "" || len(s.Diagnosis.NextSteps) == 0 {
					t.Fatalf("failed session without a usable diagnosis: %+v", s.Diagnosis)
				}
			}
			if sc.ExpectCategory != "" && (s.Diagnosis == nil || s.Diagnosis.Category != sc.ExpectCategory) {
				t.Fatalf("diagnosis %+v, want category %s", s.Diagnosis, sc.ExpectCategory)
			}
			if strings.Contains(out, scenario.DemoPassword) || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("\x00"+scenario.DemoUser+"\x00"+scenario.DemoPassword))) {
				t.Fatal("password or AUTH payload in the output")
			}
		})
	}
}

func TestDemoTextAnnotation(t *testing.T) {
	code, out, _ := runCLI(t, "", "demo")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"<** 554 5.7.1", "*** Session failed at RCPT (exit 24", "command:   RCPT TO:<", "behaved as declared"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDemoUsage(t *testing.T) {
	if code, _, errOut := runCLI(t, "", "demo", "no-such-scenario"); code != 1 || !strings.Contains(errOut, "no-such-scenario") {
		t.Fatalf("exit %d %q", code, errOut)
	}
	code, out, _ := runCLI(t, "", "demo", "--list")
	if code != 0 || !strings.Contains(out, "relay-denied") {
		t.Fatalf("list: exit %d %q", code, out)
	}
}

// startScenario serves a scenario for a test and returns host and port.
func startScenario(t *testing.T, name string) (string, string) {
	t.Helper()
	srv, err := scenario.Start(context.Background(), name, scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	h, p, _ := strings.Cut(srv.Addr, ":")
	return h, p
}

func TestSwaksSpellings(t *testing.T) {
	h, p := startScenario(t, "submission-ok")
	pwFile := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pwFile, []byte("demo-password\n"), 0o600)
	tests := []struct {
		name string
		args []string
	}{
		{"single dash", []string{"-s", h, "-p", p, "-tls", "-au", "demo", "-ap", "demo-password", "-t", "bob@example.test", "-f", "a@client.example"}},
		{"prefix and equals", []string{"--serv=" + h, "--port=" + p, "--tls", "--auth-us", "demo", "--auth-pass=demo-password", "--to", "bob@example.test"}},
		{"protocol ESMTPSA", []string{"-s", h + ":" + p, "--protocol", "ESMTPSA", "-au", "demo", "-ap", "demo-password", "-t", "bob@example.test"}},
		{"header shortcut", []string{"-s", h, "-p", p, "-tls", "-a", "PLAIN", "-au", "demo", "-ap", "demo-password", "-t", "bob@example.test", "--h-Subject", "hello there", "--header-X-Test", "1"}},
		{"password file", []string{"-s", h, "-p", p, "--tls", "-au", "demo", "--auth-password-file", pwFile, "-t", "bob@example.test"}},
		{"password env", []string{"-s", h, "-p", p, "--tls", "-au", "demo", "--auth-password-env", "PROBE_TEST_PW", "-t", "bob@example.test"}},
		{"double dash digit", []string{"-s", h, "-p", p, "--4", "-tls", "-au", "demo", "-ap", "demo-password", "-t", "bob@example.test", "-q", "AUTH"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", append(tt.args, "--json")...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			s := decode(t, out)
			if s.TLS == nil || s.Result.ExitCode != 0 {
				t.Fatalf("result %+v tls %+v", s.Result, s.TLS)
			}
			if strings.Contains(out, "demo-password") {
				t.Fatal("password in output")
			}
		})
	}
}

func TestShowSecrets(t *testing.T) {
	h, p := startScenario(t, "submission-ok")
	code, out, _ := runCLI(t, "", "-s", h, "-p", p, "--tls", "-au", "demo", "-ap", "demo-password", "-t", "bob@example.test", "--quit-after", "auth", "--show-secrets")
	if code != 0 || !strings.Contains(out, "AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00demo\x00demo-password"))) {
		t.Fatalf("exit %d, payload not shown with --show-secrets:\n%s", code, out)
	}
	code, out, _ = runCLI(t, "", "-s", h, "-p", p, "--tls", "-au", "demo", "-ap", "demo-password", "-t", "bob@example.test", "--quit-after", "auth", "--markdown")
	if code != 0 || strings.Contains(out, "demo-password") || !strings.Contains(out, "AUTH PLAIN [redacted]") {
		t.Fatalf("exit %d, markdown not redacted:\n%s", code, out)
	}
}

func TestBadInput(t *testing.T) {
	h, p := startScenario(t, "ok")
	tests := []struct {
		name    string
		args    []string
		want    int
		errPart string
	}{
		{"unknown flag", []string{"--frobnicate", "-t", "a@b.test"}, 1, "frobnicate"},
		{"not supported swaks option", []string{"--pipeline", "-t", "a@b.test", "-s", h}, 1, "not supported"},
		{"crlf in recipient", []string{"-s", h, "-p", p, "-t", "a@b.test\r\nRSET"}, 1, "--to"},
		{"crlf in ehlo", []string{"-s", h, "-p", p, "-t", "a@b.test", "--ehlo", "x\r\nMAIL FROM:<x>"}, 1, "--ehlo"},
		{"crlf in header", []string{"-s", h, "-p", p, "-t", "a@b.test", "--header", "Subject: x\r\nBcc: evil@x.test"}, 1, "header"},
		{"bad port", []string{"-s", h, "-p", "abc", "-t", "a@b.test"}, 1, "--port"},
		{"bad timeout", []string{"-s", h, "-p", p, "-t", "a@b.test", "--timeout", "soon"}, 1, "--timeout"},
		{"bad quit-after", []string{"-s", h, "-p", p, "-t", "a@b.test", "--quit-after", "lunch"}, 1, "quit-after"},
		{"missing data file", []string{"-s", h, "-p", p, "-t", "a@b.test", "--data", "@/nonexistent/message.eml"}, 1, "/nonexistent/message.eml"},
		{"no recipient", []string{"-s", h, "-p", p}, 1, "recipient"},
		{"missing value not on a terminal", []string{"-s", h, "-p", p, "-t"}, 1, "to"},
		{"password prompt not on a terminal", []string{"-s", h, "-p", p, "-t", "a@b.test", "-au", "demo"}, 1, "terminal"},
		{"closed port", []string{"-s", "127.0.0.1", "-p", "1", "-t", "a@b.test"}, 2, ""},
		{"bad cc", []string{"-s", h, "-p", p, "-t", "a@b.test", "--cc", "bad"}, 1, "--cc"},
		{"two @ in bcc", []string{"-s", h, "-p", p, "-t", "a@b.test", "--bcc", "a@b@c.test"}, 1, "--bcc"},
		{"bad copy-routing", []string{"-t", "a@b.test", "--copy-routing", "bad..domain"}, 1, "--copy-routing"},
		{"unsupported mechanism", []string{"-s", h, "-p", p, "-t", "a@b.test", "-a", "NTLM", "-au", "u", "-ap", "ppp"}, 1, "NTLM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tt.args...)
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tt.want, out, errOut)
			}
			if !strings.Contains(out+errOut, tt.errPart) {
				t.Fatalf("output does not name %q:\n%s\n%s", tt.errPart, out, errOut)
			}
		})
	}
}

func TestOutputFileIsAtomic(t *testing.T) {
	h, p := startScenario(t, "ok")
	dir := t.TempDir()
	path := filepath.Join(dir, "session.json")
	code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--json", "--output", path)
	if code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	decode(t, string(b))
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("leftover files: %v", entries)
	}
	if code, _, _ := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--output", filepath.Join(dir, "missing-dir", "x")); code != 1 {
		t.Fatalf("unwritable output: exit %d", code)
	}
}

func TestMXTargeting(t *testing.T) {
	h, p := startScenario(t, "ok")
	_ = h
	dns := dnstest.Start(t, dnstest.Zone{
		"example.test.":     {MX: []dnstest.MX{{Preference: 20, Host: "mx2.example.test."}, {Preference: 10, Host: "mx1.example.test."}}},
		"mx1.example.test.": {A: []string{"127.0.0.2"}}, // nothing listens there on this port
		"mx2.example.test.": {A: []string{"127.0.0.1"}},
		"nullmx.test.":      {MX: dnstest.NullMX()},
		"implicit.test.":    {A: []string{"127.0.0.1"}},
	})
	code, out, errOut := runCLI(t, "", "-t", "bob@example.test", "--dns-server", dns, "-p", p, "--json", "--timeout", "2s")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	s := decode(t, out)
	if s.Target.Host != "mx2.example.test" {
		t.Fatalf("used %q, want mx2 after mx1 failed", s.Target.Host)
	}
	var order []string
	for _, e := range s.Transcript {
		if strings.HasPrefix(e.Text, "Trying ") {
			order = append(order, e.Text)
		}
	}
	if len(order) != 2 || !strings.Contains(order[0], "127.0.0.2") || !strings.Contains(order[1], "127.0.0.1") {
		t.Fatalf("tried %q, want mx1 (127.0.0.2) then mx2", order)
	}

	code, out, _ = runCLI(t, "", "-t", "bob@nullmx.test", "--dns-server", dns, "-p", p, "--json")
	s = decode(t, out)
	if code != 2 || s.Diagnosis == nil || s.Diagnosis.Category != "no-service" || !strings.Contains(out, "null MX") {
		t.Fatalf("null MX: exit %d %+v", code, s.Diagnosis)
	}
	code, out, _ = runCLI(t, "", "-t", "bob@implicit.test", "--dns-server", dns, "-p", p, "--json")
	if s = decode(t, out); code != 0 || s.Target.Host != "implicit.test" {
		t.Fatalf("implicit MX: exit %d host %q", code, s.Target.Host)
	}
}

func TestAttachTypeAppliesToNextAttach(t *testing.T) {
	f, _, err := parseSession("probe", []string{"-t", "a@b.test", "--attach", "@a.txt", "--attach-type", "text/html", "--attach-name", "page.html", "--attach", "@b.html", "--attach", "@c.bin"}, stdio{in: strings.NewReader(""), out: &bytes.Buffer{}, err: &bytes.Buffer{}})
	if err != nil {
		t.Fatal(err)
	}
	got := f.attachments.items
	if len(got) != 3 || got[0].ContentType != "" || got[1].ContentType != "text/html" || got[1].Name != "page.html" || got[2].ContentType != "" || got[2].Name != "" {
		t.Fatalf("attachments %+v", got)
	}
}

func TestMessageFromStdin(t *testing.T) {
	h, p := startScenario(t, "malformed-message")
	msg := "From: a@client.example\r\nTo: bob@example.test\r\nSubject: no date\r\n\r\nbody\r\n"
	code, out, errOut := runCLI(t, msg, "-s", h, "-p", p, "-t", "bob@example.test", "--data", "-", "--json")
	if code != 26 {
		t.Fatalf("exit %d, want 26 (the server saw the message without Date)\n%s\n%s", code, out, errOut)
	}
	withDate := "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n" + msg
	if code, out, errOut := runCLI(t, withDate, "-s", h, "-p", p, "-t", "bob@example.test", "--data", "-"); code != 0 {
		t.Fatalf("exit %d with a Date header\n%s\n%s", code, out, errOut)
	}
}

func TestPasswordNeverEchoed(t *testing.T) {
	h, p := startScenario(t, "submission-ok")
	for _, args := range [][]string{
		{"-s", h, "-p", p, "-t", "a@b.test", "-au", "demo", "-ap", "-Secr3tPw"},
		{"-s", h, "-p", p, "-t", "a@b.test", "-au", "demo", "--auth-password", "--Secr3tPw"},
		{"relay-check", "-s", h, "-p", p, "-au", "demo", "--auth-pass", "-Secr3tPw"},
	} {
		code, out, errOut := runCLI(t, "", args...)
		if code != 1 || strings.Contains(out+errOut, "Secr3tPw") || !strings.Contains(errOut, "--auth-password=VALUE") {
			t.Fatalf("%q: exit %d\n%s\n%s", args, code, out, errOut)
		}
	}
	// Every occurrence is hidden in the JSON command, not only the last.
	code, out, _ := runCLI(t, "", "-s", h, "-p", p, "--tls", "-t", "a@b.test", "-au", "demo", "-ap", "old-Secr3t", "--auth-password=demo-password", "--quit-after", "auth", "--json")
	if code != 0 || strings.Contains(out, "Secr3t") || strings.Contains(out, "demo-password") {
		t.Fatalf("exit %d, password in JSON:\n%s", code, out)
	}
}

func TestLocalInterfaceAndIPFamily(t *testing.T) {
	h, p := startScenario(t, "ok")
	code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "-li", "127.0.0.2", "-4", "--quit-after", "helo", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "from 127.0.0.2:") {
		t.Fatalf("source address not used:\n%s", out)
	}
	// -6 against an IPv4 literal: a clear connect error, exit 2.
	code, out, _ = runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "-6")
	if code != 2 || !strings.Contains(out, "not an IPv6 address") {
		t.Fatalf("-6 with an IPv4 server: exit %d\n%s", code, out)
	}
	if code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "-li", "not-an-ip"); code != 1 || !strings.Contains(errOut+out, "local-interface") {
		t.Fatalf("bad --local-interface: exit %d %s", code, errOut)
	}
}

func TestMoreSwaksOptions(t *testing.T) {
	ok, okPort := startScenario(t, "ok")
	sub, subPort := startScenario(t, "submission-ok")
	tests := []struct {
		name     string
		args     []string
		want     int
		contains []string
		lacks    []string
	}{
		{"auth-optional without AUTH offered", []string{"-s", ok, "-p", okPort, "--no-tls", "-t", "a@b.test", "--auth-optional", "-au", "demo", "-ap", "x-pass"}, 0,
			[]string{"Not authenticating"}, []string{"AUTH PLAIN"}},
		{"auth-optional after a refusal", []string{"-s", sub, "-p", subPort, "--tls", "-t", "a@b.test", "-ao", "-au", "demo", "-ap", "wrong-pass"}, 23,
			[]string{"AUTH was refused; going on"}, nil},
		{"auth-optional-strict after a refusal", []string{"-s", sub, "-p", subPort, "--tls", "-t", "a@b.test", "--auth-optional-strict", "-au", "demo", "-ap", "wrong-pass"}, 28, nil, nil},
		{"drop-after rcpt", []string{"-s", ok, "-p", okPort, "-t", "a@b.test", "--drop-after", "rcpt"}, 0,
			[]string{"Dropping the connection without QUIT"}, []string{" -> QUIT", " ~> QUIT"}},
		{"drop and quit together", []string{"-s", ok, "-p", okPort, "-t", "a@b.test", "--drop-after", "rcpt", "-q", "mail"}, 1, []string{"exclude each other"}, nil},
		{"local port", []string{"-s", ok, "-p", okPort, "-t", "a@b.test", "-li", "127.0.0.1", "-lport", "0", "-q", "helo"}, 1, []string{"--local-port"}, nil},
		{"no hints", []string{"-s", ok, "-p", okPort, "-t", "a@b.test", "--no-hints", "-q", "helo"}, 0, []string{"\nEHLO "}, []string{" -> EHLO", "=== Trying"}},
		{"tls-key without cert", []string{"-s", ok, "-p", okPort, "-t", "a@b.test", "--tls-key", "/nonexistent"}, 1, []string{"need --tls-cert"}, nil},
		{"tls-cert missing", []string{"-s", ok, "-p", okPort, "-t", "a@b.test", "--tls-cert", "/nonexistent.pem"}, 1, []string{"/nonexistent.pem"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", tt.args...)
			all := out + errOut
			if code != tt.want {
				t.Fatalf("exit %d, want %d\n%s", code, tt.want, all)
			}
			for _, c := range tt.contains {
				if !strings.Contains(all, c) {
					t.Errorf("output lacks %q:\n%s", c, all)
				}
			}
			for _, c := range tt.lacks {
				if strings.Contains(all, c) {
					t.Errorf("output has %q:\n%s", c, all)
				}
			}
			if strings.Contains(all, "wrong-pass") || strings.Contains(all, "x-pass") {
				t.Error("password in output")
			}
		})
	}
}

func TestCopyRouting(t *testing.T) {
	_, p := startScenario(t, "ok")
	dns := dnstest.Start(t, dnstest.Zone{
		"relay.test.":    {MX: []dnstest.MX{{Preference: 10, Host: "mx.relay.test."}}},
		"mx.relay.test.": {A: []string{"127.0.0.1"}},
	})
	code, out, errOut := runCLI(t, "", "-t", "bob@elsewhere.test", "--copy-routing", "relay.test", "--dns-server", dns, "-p", p, "--json")
	if code != 0 || decode(t, out).Target.Host != "mx.relay.test" {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestLocalPortAndClientCert(t *testing.T) {
	h, p := startScenario(t, "ok")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, free, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "-li", "127.0.0.1", "--local-port", free, "-q", "helo")
	if code != 0 || !strings.Contains(out, "from 127.0.0.1:"+free) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// A client certificate and key in one PEM file, as swaks allows.
	conf, err := scenario.SelfSignedTLS("client.example")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(conf.Certificates[0].PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "client.pem")
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: conf.Certificates[0].Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	if err := os.WriteFile(path, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--tls", "--tls-cert", path, "-q", "tls"); code != 0 {
		t.Fatalf("with a client certificate: exit %d\n%s\n%s", code, out, errOut)
	}
}

func TestDropAfterDotAndData(t *testing.T) {
	h, p := startScenario(t, "ok")
	code, out, _ := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--drop-after", "dot")
	if code != 0 || !strings.Contains(out, "accepted for delivery") || !strings.Contains(out, "dropped without QUIT (--drop-after dot)") {
		t.Fatalf("drop-after dot: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--drop-after", "data", "--json")
	s := decode(t, out)
	if code != 0 || strings.Contains(out, "Message-ID") {
		t.Fatalf("drop-after data sent the message or failed: exit %d\n%s", code, out)
	}
	for _, e := range s.Transcript {
		if strings.HasSuffix(e.Text, "QUIT") {
			t.Fatalf("QUIT sent although dropped: %q", e.Text)
		}
	}
}
