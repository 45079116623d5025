package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
	"github.com/smtpprobe/smtpprobe/smtpclient"
)

func TestSplitServer(t *testing.T) {
	tests := []struct {
		in       string
		port     int
		wantHost string
		wantPort int
		bad      bool
	}{
		{"mx.example.org", 0, "mx.example.org", 0, false},
		{"mx.example.org:587", 0, "mx.example.org", 587, false},
		{"mx.example.org:587", 25, "mx.example.org", 25, false}, // --port wins
		{"[2001:db8::1]:465", 0, "2001:db8::1", 465, false},
		{"[2001:db8::1]", 0, "2001:db8::1", 0, false},
		{"127.0.0.1", 0, "127.0.0.1", 0, false},
		{"bücher.example", 0, "xn--bcher-kva.example", 0, false},
		{"mx.example.org:99999", 0, "", 0, true},
		{"mx.example.org:abc", 0, "", 0, true},
		{"mx\r\nRSET", 0, "", 0, true},
		{":25", 0, "", 0, true},
	}
	for _, tt := range tests {
		h, p, err := SplitServer(tt.in, tt.port)
		if tt.bad {
			if err == nil || !IsUsage(err) {
				t.Errorf("SplitServer(%q) = %q %d %v, want a usage error", tt.in, h, p, err)
			}
			continue
		}
		if err != nil || h != tt.wantHost || p != tt.wantPort {
			t.Errorf("SplitServer(%q, %d) = %q %d %v, want %q %d", tt.in, tt.port, h, p, err, tt.wantHost, tt.wantPort)
		}
	}
}

func TestCheckAddress(t *testing.T) {
	good := []string{"a@b.example", `"john doe"@example.org`, "user@[192.0.2.1]", "x+tag@sub.example.org"}
	bad := []string{"", "no-at-sign", "a@", "@b", "a@b\r\nRSET", "a b@c.example", "<a@b.example>", "a@b c", strings.Repeat("a", 400) + "@b.example", "a@b\x00c"}
	for _, a := range good {
		if err := checkAddress(a, false); err != nil {
			t.Errorf("checkAddress(%q) = %v", a, err)
		}
	}
	for _, a := range bad {
		if err := checkAddress(a, false); err == nil {
			t.Errorf("checkAddress(%q) accepted", a)
		}
	}
	if err := checkAddress("", true); err != nil {
		t.Errorf("null sender refused: %v", err)
	}
}

func TestDefaultTLSMode(t *testing.T) {
	for port, want := range map[int]smtpclient.TLSMode{25: smtpclient.TLSOptional, 587: smtpclient.TLSRequired, 465: smtpclient.TLSImplicit, 2525: smtpclient.TLSOptional} {
		if got := DefaultTLSMode(port); got != want {
			t.Errorf("port %d: %v, want %v", port, got, want)
		}
	}
}

func TestRunUsageErrors(t *testing.T) {
	tests := []Options{
		{},
		{To: []string{"a@b.example"}, EHLO: "x y"},
		{To: []string{"a@b.example"}, Auth: true},
		{To: []string{"a@b.example"}, QuitAfter: "never"},
		{To: []string{"a@b.example"}, Protocol: "uucp"},
		{To: []string{"a@b.example"}, Server: "h", TLSCAFile: "/nonexistent.pem"},
	}
	for i, o := range tests {
		if _, err := Run(context.Background(), o); err == nil || !IsUsage(err) {
			t.Errorf("case %d: err %v, want a usage error", i, err)
		}
	}
}

func TestLocalDiagnosis(t *testing.T) {
	tests := []struct {
		res      smtpclient.Result
		category string
		port     int
		party    string // "" = not checked
	}{
		// Implicit TLS: the handshake at connect is not a TCP failure.
		{smtpclient.Result{ExitCode: 29, Phase: "connect", Err: errors.New("TLS handshake at connect (implicit TLS) with mx failed: remote error: tls: internal error")}, CategoryTLSFailed, 465, diagnose.PartyReceivingServer},
		// ... and a plain-SMTP port asked for TLS at connect is the
		// client's wrong mode.
		{smtpclient.Result{ExitCode: 29, Phase: "connect", Err: errors.New("TLS handshake at connect (implicit TLS) with mx failed: tls: first record does not look like a TLS handshake")}, CategoryTLSFailed, 587, diagnose.PartySender},
		// Client-side AUTH causes are the sender's.
		{smtpclient.Result{ExitCode: 28, Phase: "auth", Err: errors.New("the server does not offer LOGIN (it offers: PLAIN)")}, "auth-failed", 587, diagnose.PartySender},
		{smtpclient.Result{ExitCode: 28, Phase: "auth", Err: errors.New("the server does not advertise AUTH"), StartTLS: true}, "auth-failed", 587, diagnose.PartySender},
		{smtpclient.Result{ExitCode: 28, Phase: "auth", Err: errors.New("the server does not advertise AUTH")}, "auth-failed", 25, diagnose.PartySender},
		{smtpclient.Result{ExitCode: 28, Phase: "auth", Err: errors.New("the server does not advertise AUTH"), TLSActive: true}, "auth-failed", 587, diagnose.PartyReceivingServer},
		{smtpclient.Result{ExitCode: 28, Phase: "auth", Err: errors.New("refusing to send credentials over a connection without TLS")}, "tls-required", 587, diagnose.PartySender},
		{smtpclient.Result{ExitCode: 2, Phase: "connect", Err: fmt.Errorf("x: %w", mxlookup.ErrNullMX)}, "no-service", 0, ""},
		{smtpclient.Result{ExitCode: 2, Phase: "connect", Err: fmt.Errorf("x: %w", mxlookup.ErrNoMailHost)}, "recipient-unknown", 0, ""},
		{smtpclient.Result{ExitCode: 2, Phase: "connect", Err: fmt.Errorf("x: %w", mxlookup.ErrTemporary)}, "temporary-server", 0, ""},
		{smtpclient.Result{ExitCode: 2, Phase: "connect", Err: errors.New("cannot connect to 192.0.2.1:25: i/o timeout")}, CategoryConnectionFailed, 0, ""},
		{smtpclient.Result{ExitCode: 29, Phase: "starttls", Err: errors.New("STARTTLS response injection: ...")}, "protocol-error", 0, ""},
		{smtpclient.Result{ExitCode: 29, Phase: "starttls", Err: errors.New("TLS is required (--tls) but the server does not advertise STARTTLS")}, CategoryTLSFailed, 0, ""},
		{smtpclient.Result{ExitCode: 28, Phase: "auth", Err: errors.New("refusing to send credentials over a connection without TLS")}, "tls-required", 0, ""},
		{smtpclient.Result{ExitCode: 21, Phase: "banner", Err: errors.New("no reply within 30s (--timeout) during banner")}, CategoryConnectionFailed, 0, ""},
		{smtpclient.Result{ExitCode: 23, Phase: "mail", Err: errors.New("no reply within 30s (--timeout) during mail")}, "temporary-server", 0, ""},
		{smtpclient.Result{ExitCode: 6, Phase: "rcpt", Err: errors.New("connection closed by the server")}, CategoryConnectionFailed, 0, ""},
		{smtpclient.Result{ExitCode: 21, Phase: "banner", Err: &smtpclient.ProtocolError{What: "an HTTP server answered"}}, "protocol-error", 0, ""},
	}
	for _, tt := range tests {
		d := localDiagnosis(&tt.res, diagnose.Context{RecipientDomain: "example.org", Port: tt.port})
		if d.Category != tt.category || d.Meaning == "" || len(d.NextSteps) == 0 && tt.category != "unknown" {
			t.Errorf("%v: %+v, want category %s with meaning and steps", tt.res.Err, d, tt.category)
		}
		if tt.party != "" && d.Party != tt.party {
			t.Errorf("%v: party %s, want %s", tt.res.Err, d.Party, tt.party)
		}
	}
}

func TestTLSConfigClientCertificate(t *testing.T) {
	dir := t.TempDir()
	writeKeyPair := func(name string) (cert, key string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalPKCS8PrivateKey(k)
		cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
		return cert, key
	}
	cert, key := writeKeyPair("client")
	chain, _ := writeKeyPair("intermediate")
	cfg, err := tlsConfig(Options{TLSCertFile: cert, TLSKeyFile: key, TLSChainFile: chain})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Certificates) != 1 || len(cfg.Certificates[0].Certificate) != 2 {
		t.Fatalf("want the client certificate followed by one chain certificate, got %+v", cfg.Certificates)
	}
	if _, err := tlsConfig(Options{TLSCertFile: cert, TLSKeyFile: chain}); err == nil || !IsUsage(err) {
		t.Fatalf("mismatched key accepted: %v", err)
	}
}

func TestInterruptDuringMXLookup(t *testing.T) {
	dns := dnstest.Start(t, dnstest.Zone{"slow.test.": {Drop: true}})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	report, err := Run(ctx, Options{To: []string{"a@slow.test"}, DNSServer: dns, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if report.Result.ExitCode != smtpclient.ExitInterrupted || report.Diagnosis != nil {
		t.Fatalf("exit %d, diagnosis %+v: want 130 and none", report.Result.ExitCode, report.Diagnosis)
	}
}

func TestValidAddressForms(t *testing.T) {
	for _, a := range []string{"a@b.example", "@relay.example:user@dest.example", "@r1.example,@r2.example:u@d.example"} {
		if err := ValidAddress(a); err != nil {
			t.Errorf("%q refused: %v", a, err)
		}
	}
	for _, a := range []string{"a@b@c.example", "@relay.example", "@bad host:u@d.example", "@r.example:a@b@c.example"} {
		if err := ValidAddress(a); err == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

func TestPlaintextAuthRefusalIsTheSenders(t *testing.T) {
	tests := []struct {
		lines     []string
		plaintext bool
		tls       bool
		wantParty string
	}{
		{[]string{"538 5.7.11 Encryption required for requested authentication mechanism"}, true, false, diagnose.PartySender},
		{[]string{"530 5.7.0 Must issue a STARTTLS command first"}, true, false, diagnose.PartySender},
		// A wrong password in clear is still a wrong password.
		{[]string{"535 5.7.8 Error: authentication failed: authentication failure"}, true, false, ""},
		// Without --auth-plaintext the engine's party stands.
		{[]string{"538 5.7.11 Encryption required for requested authentication mechanism"}, false, false, ""},
	}
	for _, tt := range tests {
		reply := &smtpclient.Reply{Lines: tt.lines}
		fmt.Sscanf(tt.lines[0], "%d", &reply.Code)
		d := diagnose.Diagnosis{Category: "auth-failed", Party: diagnose.PartyReceivingServer}
		plaintextAuthRefused(&d, Options{AuthPlaintext: tt.plaintext}, &smtpclient.Result{Phase: smtpclient.PhaseAuth, TLSActive: tt.tls}, reply)
		want := tt.wantParty
		if want == "" {
			want = diagnose.PartyReceivingServer
		}
		if d.Party != want {
			t.Errorf("%q plaintext=%v: party %s, want %s", tt.lines[0], tt.plaintext, d.Party, want)
		}
		if tt.wantParty == diagnose.PartySender && (d.Category != "tls-required" || !strings.Contains(d.NextSteps[0], "--auth-plaintext")) {
			t.Errorf("%q: %+v", tt.lines[0], d)
		}
	}
}
