package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// canaryServer is a cleartext SMTP server that offers AUTH PLAIN, LOGIN
// and CRAM-MD5 and either accepts any credentials or refuses them while
// echoing what it received (decoded password and base64 payloads), as a
// careless server might: the probe must scrub the echo too.
func canaryServer(t *testing.T, refuse bool) (string, string) {
	return canaryServerEcho(t, refuse, false)
}

// canaryServerEcho is canaryServer; echoCRAM also echoes the decoded
// CRAM-MD5 response (user and digest) in its refusal.
func canaryServerEcho(t *testing.T, refuse, echoCRAM bool) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveCanary(c, refuse, echoCRAM)
		}
	}()
	h, p, _ := strings.Cut(ln.Addr().String(), ":")
	return h, p
}

const canaryChallenge = "<1896.697170952@canary.test>"

func serveCanary(c net.Conn, refuse, echoCRAM bool) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { fmt.Fprintf(c, "%s\r\n", s) }
	read := func() (string, bool) {
		l, err := r.ReadString('\n')
		return strings.TrimRight(l, "\r\n"), err == nil
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	unb64 := func(s string) string { b, _ := base64.StdEncoding.DecodeString(s); return string(b) }
	verdict := func(echo ...string) {
		if refuse {
			say("535 5.7.8 authentication failed for " + strings.Join(echo, " / "))
		} else {
			say("235 2.7.0 ok")
		}
	}
	say("220 canary.test ESMTP")
	inData := false
	for {
		l, ok := read()
		if !ok {
			return
		}
		if inData {
			if l == "." {
				inData = false
				say("250 2.0.0 queued as CANARY1")
			}
			continue
		}
		f := strings.Fields(l)
		if len(f) == 0 {
			say("500 empty")
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "EHLO":
			say("250-canary.test")
			say("250-AUTH PLAIN LOGIN CRAM-MD5")
			say("250 8BITMIME")
		case "HELO":
			say("250 canary.test")
		case "AUTH":
			switch strings.ToUpper(f[1]) {
			case "PLAIN":
				ir := ""
				if len(f) > 2 {
					ir = f[2]
				} else {
					say("334 ")
					ir, _ = read()
				}
				verdict(ir, strings.ReplaceAll(unb64(ir), "\x00", " "))
			case "LOGIN":
				if len(f) < 3 {
					say("334 " + b64("Username:"))
					read()
				}
				say("334 " + b64("Password:"))
				pw, _ := read()
				verdict(pw, unb64(pw))
			case "CRAM-MD5":
				say("334 " + b64(canaryChallenge))
				resp, _ := read()
				if echoCRAM {
					verdict(resp, unb64(resp))
				} else {
					verdict(resp)
				}
			default:
				say("504 5.5.4 unknown mechanism")
			}
		case "DATA":
			inData = true
			say("354 go ahead")
		case "QUIT":
			say("221 2.0.0 bye")
			return
		default:
			say("250 2.0.0 ok")
		}
	}
}

// canaryForms are every form of a secret that must never be shown: the
// password, its base64 (AUTH LOGIN), the PLAIN payload, the CRAM-MD5
// response and its digest.
func canaryForms(user, password string) map[string]string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	mac := hmac.New(md5.New, []byte(password))
	mac.Write([]byte(canaryChallenge))
	digest := hex.EncodeToString(mac.Sum(nil))
	return map[string]string{
		"password":              password,
		"base64 password":       b64(password),
		"PLAIN payload":         b64("\x00" + user + "\x00" + password),
		"CRAM-MD5 response":     b64(user + " " + digest),
		"CRAM-MD5 digest":       digest,
		"password without tail": password[:len(password)-1],
	}
}

// canaryOutputMode is one way the CLI shows a session: extra arguments,
// and the files it writes (read after the run).
type canaryOutputMode struct {
	name  string
	args  func(dir string) []string
	files func(dir string) []string
}

func fixedArgs(a ...string) func(string) []string { return func(string) []string { return a } }

// canaryOutputModes are the session output modes of the CLI; every file
// option (--output, --report ...) belongs here with its files.
var canaryOutputModes = []canaryOutputMode{
	{name: "text", args: fixedArgs()},
	{name: "-S 0", args: fixedArgs("-S", "0")},
	{name: "-S 1", args: fixedArgs("-S", "1")},
	{name: "-S 2", args: fixedArgs("-S", "2")},
	{name: "-stl", args: fixedArgs("-stl")},
	{name: "json", args: fixedArgs("--json")},
	{name: "markdown", args: fixedArgs("--markdown")},
	{name: "--output text", args: func(d string) []string { return []string{"--output", filepath.Join(d, "out.txt")} },
		files: func(d string) []string { return []string{filepath.Join(d, "out.txt")} }},
	{name: "--output json", args: func(d string) []string { return []string{"--json", "--output", filepath.Join(d, "out.json")} },
		files: func(d string) []string { return []string{filepath.Join(d, "out.json")} }},
	{name: "--report", args: func(d string) []string { return []string{"--report", filepath.Join(d, "report.md")} },
		files: func(d string) []string { return []string{filepath.Join(d, "report.md")} }},
	{name: "--report -", args: fixedArgs("--report", "-")},
}

// canaryRelayModes are relay-check's output modes.
var canaryRelayModes = []canaryOutputMode{
	{name: "relay-check text", args: fixedArgs()},
	{name: "relay-check verbose", args: fixedArgs("-v")},
	{name: "relay-check json", args: fixedArgs("--json")},
	{name: "relay-check --output", args: func(d string) []string { return []string{"--json", "--output", filepath.Join(d, "rc.json")} },
		files: func(d string) []string { return []string{filepath.Join(d, "rc.json")} }},
}

func randomHex(t *testing.T) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestSecretsCanary runs every output mode with a unique canary password
// and a bearer-token-like one, against a server that accepts any
// credentials and one that refuses them and echoes what it got, over
// PLAIN, LOGIN and CRAM-MD5, plus the error paths (a bad option after
// -ap, a connection failure): no form of either secret appears in
// stdout, stderr or any file written.
func TestSecretsCanary(t *testing.T) {
	okH, okP := canaryServer(t, false)
	badH, badP := canaryServer(t, true)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := strings.Cut(closed.Addr().String(), ":")
	closed.Close()

	user := "canary-user"
	secrets := []string{"Canary-" + randomHex(t) + "-pw", "ya29.canary-" + randomHex(t) + "_tok"}
	check := func(t *testing.T, what, text, secret string) {
		t.Helper()
		for name, form := range canaryForms(user, secret) {
			if strings.Contains(text, form) {
				t.Errorf("%s shows the %s (%q):\n%s", what, name, form, text)
			}
		}
	}
	run := func(t *testing.T, secret string, args []string, files []string, wantCode int) {
		t.Helper()
		code, out, errOut := runCLI(t, "", args...)
		if wantCode >= 0 && code != wantCode {
			t.Errorf("%q: exit %d, want %d\n%s\n%s", args, code, wantCode, out, errOut)
		}
		check(t, "stdout", out, secret)
		check(t, "stderr", errOut, secret)
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Errorf("%s not written: %v", f, err)
				continue
			}
			check(t, f, string(b), secret)
		}
	}
	for _, secret := range secrets {
		for _, mech := range []string{"PLAIN", "LOGIN", "CRAM-MD5"} {
			for _, srv := range []struct {
				name, h, p string
				code       int
			}{{"accepted", okH, okP, 0}, {"refused", badH, badP, 28}} {
				for _, m := range canaryOutputModes {
					t.Run(fmt.Sprintf("%s/%s/%s/%s", secret[:4], mech, srv.name, m.name), func(t *testing.T) {
						dir := t.TempDir()
						args := []string{"-s", srv.h, "-p", srv.p, "-t", "bob@canary.test", "--auth-plaintext", "-a", mech, "-au", user, "-ap", secret}
						args = append(args, m.args(dir)...)
						var files []string
						if m.files != nil {
							files = m.files(dir)
						}
						run(t, secret, args, files, srv.code)
					})
				}
			}
		}
		t.Run(secret[:4]+"/errors", func(t *testing.T) {
			for _, args := range [][]string{
				{"-s", okH, "-p", okP, "-t", "a@b.test", "-au", user, "-ap", secret, "--frobnicate"},
				{"-s", okH, "-p", "abc", "-t", "a@b.test", "-au", user, "-ap", secret},
				{"-s", okH, "-p", okP, "-t", "a@b.test", "-au", user, "--auth-password=" + secret, "--timeout", "soon"},
				{"-s", okH, "-p", okP, "-t", "a@b.test", "-au", user, "-ap", secret, "--output", "/nonexistent/dir/x"},
				{"relay-check", "-s", okH, "-p", okP, "-au", user, "-ap", secret, "--markdown"},
			} {
				run(t, secret, args, nil, 1)
			}
			// A connection failure, in every mode.
			for _, m := range canaryOutputModes {
				dir := t.TempDir()
				args := append([]string{"-s", "127.0.0.1", "-p", closedPort, "-t", "a@b.test", "-au", user, "-ap", secret}, m.args(dir)...)
				var files []string
				if m.files != nil {
					files = m.files(dir)
				}
				run(t, secret, args, files, 2)
			}
			// No TLS and no --auth-plaintext: refused before sending.
			run(t, secret, []string{"-s", okH, "-p", okP, "-t", "a@b.test", "-au", user, "-ap", secret, "--json"}, nil, 28)
		})
		for _, srv := range []struct{ name, h, p string }{{"accepted", okH, okP}, {"refused", badH, badP}} {
			for _, m := range canaryRelayModes {
				t.Run(fmt.Sprintf("%s/%s/%s", secret[:4], srv.name, m.name), func(t *testing.T) {
					dir := t.TempDir()
					args := []string{"relay-check", "-s", srv.h, "-p", srv.p, "--auth-plaintext", "-au", user, "-ap", secret, "--check-timeout", "5s"}
					args = append(args, m.args(dir)...)
					var files []string
					if m.files != nil {
						files = m.files(dir)
					}
					run(t, secret, args, files, -1)
				})
			}
		}
	}
}

// TestSecretsCanaryCRAMEcho: a server that echoes the decoded CRAM-MD5
// response ("user digest") in its refusal. The digest with the challenge
// allows an offline guess of the password, so smtpclient registers the
// digest as a secret too.
func TestSecretsCanaryCRAMEcho(t *testing.T) {
	h, p := canaryServerEcho(t, true, true)
	secret := "Canary-" + randomHex(t)
	code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--auth-plaintext", "-a", "CRAM-MD5", "-au", "u", "-ap", secret, "--json")
	if code != 28 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	forms := canaryForms("u", secret)
	for _, name := range []string{"password", "CRAM-MD5 response"} {
		if strings.Contains(out+errOut, forms[name]) {
			t.Fatalf("the %s shows:\n%s", name, out)
		}
	}
	if strings.Contains(out+errOut, forms["CRAM-MD5 digest"]) {
		t.Fatalf("the CRAM-MD5 digest echoed by the server shows:\n%s", out)
	}
}

// TestSecretsCanaryControl proves that the canary test can see a leak:
// with --show-secrets the payload is shown.
func TestSecretsCanaryControl(t *testing.T) {
	h, p := canaryServer(t, false)
	secret := "Canary-" + randomHex(t)
	_, out, _ := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--auth-plaintext", "-a", "PLAIN", "-au", "u", "-ap", secret, "--show-secrets")
	if !strings.Contains(out, canaryForms("u", secret)["PLAIN payload"]) {
		t.Fatalf("--show-secrets does not show the payload: the canary test would miss a leak\n%s", out)
	}
}

// A password glued to its option ("-apSECRET") is an unknown option, and
// the error must not print it.
func TestGluedPasswordNotEchoed(t *testing.T) {
	secret := "Canary-" + randomHex(t)
	for _, arg := range []string{"-ap" + secret, "--ap" + secret, "--auth-passw0rd" + secret} {
		code, out, errOut := runCLI(t, "", "-s", "127.0.0.1:1", "-t", "a@b.test", arg)
		if code != 1 || strings.Contains(out+errOut, secret) {
			t.Errorf("%s: exit %d, output %q %q", arg[:4], code, out, errOut)
		}
	}
}
