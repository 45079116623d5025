package smtpclient

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// testCA is a certificate authority made for one test.
type testCA struct {
	cert *x509.Certificate
	key  crypto.Signer
	pool *x509.CertPool
}

var serial int64 = 100

func nextSerial() *big.Int {
	serial++
	return big.NewInt(serial)
}

func newTestCA(t testing.TB, cn string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn, Organization: []string{"probe test CA"}},
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(48 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return &testCA{cert: c, key: key, pool: pool}
}

// leafOpts describe a server certificate.
type leafOpts struct {
	names               []string
	notBefore, notAfter time.Time
	key                 crypto.Signer // nil: ECDSA P-256
	selfSigned          bool
}

// leaf issues a server certificate; the tls.Certificate sends the chain
// leaf, CA (or the leaf alone when self-signed).
func (ca *testCA) leaf(t testing.TB, o leafOpts) (tls.Certificate, *x509.Certificate) {
	t.Helper()
	key := o.key
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: o.names[0]},
		NotBefore: o.notBefore, NotAfter: o.notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range o.names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := ca.cert, ca.key
	if o.selfSigned {
		parent, signer = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	chain := [][]byte{der}
	if !o.selfSigned {
		chain = append(chain, ca.cert.Raw)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: key}, c
}

// tlsTestServer is a small SMTP server whose STARTTLS, EHLO replies and
// TLS configuration a test chooses per connection.
type tlsTestServer struct {
	addr string
	// ehlo returns the EHLO reply for connection n (1-based), in clear
	// or inside TLS.
	ehlo func(n int, inTLS bool) string
	// starttls is the reply to STARTTLS ("" = 220).
	starttls string
	// tlsCfg is the server's TLS; nil breaks the handshake (no
	// certificate), and the server goes on reading in clear.
	tlsCfg *tls.Config

	mu    sync.Mutex
	conns int
}

func startTLSTestServer(t *testing.T, srv *tlsTestServer) *tlsTestServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = ln.Addr().String()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv.mu.Lock()
			srv.conns++
			n := srv.conns
			srv.mu.Unlock()
			go srv.serve(c, n)
		}
	}()
	return srv
}

func (srv *tlsTestServer) serve(c net.Conn, n int) {
	defer func() { c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "220 mx.example.org ESMTP\r\n")
	var rw io.ReadWriter = c
	br := bufio.NewReader(c)
	inTLS := false
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		switch verb := strings.ToUpper(strings.Fields(line + " x")[0]); verb {
		case "EHLO":
			io.WriteString(rw, srv.ehlo(n, inTLS))
		case "STARTTLS":
			if srv.starttls != "" {
				io.WriteString(rw, srv.starttls)
				continue
			}
			io.WriteString(rw, "220 2.0.0 Ready to start TLS\r\n")
			if srv.tlsCfg == nil {
				_ = tls.Server(&prefixConn{Conn: c, r: br}, &tls.Config{}).Handshake()
				continue
			}
			tc := tls.Server(&prefixConn{Conn: c, r: br}, srv.tlsCfg)
			if err := tc.Handshake(); err != nil {
				return
			}
			rw, br, inTLS = tc, bufio.NewReader(tc), true
		case "DATA":
			io.WriteString(rw, "354 go ahead\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			io.WriteString(rw, "250 2.0.0 Ok: queued as TLSTEST1\r\n")
		case "QUIT":
			io.WriteString(rw, "221 bye\r\n")
			return
		default:
			io.WriteString(rw, "250 ok\r\n")
		}
	}
}

const ehloWithTLS = "250-mx.example.org\r\n250-STARTTLS\r\n250 8BITMIME\r\n"

// mxConfig is a session against srv as mx.example.org (the name resolves
// to 127.0.0.1), stopping after TLS.
func mxConfig(t *testing.T, addr string) Config {
	cfg := baseConfig(t, addr)
	cfg.Hosts = []Host{{Name: "mx.example.org"}}
	cfg.Resolver = fakeResolver{"mx.example.org": {net.ParseIP("127.0.0.1")}}
	cfg.TLSMode = TLSRequired
	cfg.QuitAfter = "tls"
	return cfg
}

func TestCertificateDetailsAndVerdicts(t *testing.T) {
	ca := newTestCA(t, "Probe Test Root")
	day := func(tm time.Time) string { return tm.UTC().Format("2006-01-02") }
	past, future := time.Now().Add(-30*24*time.Hour), time.Now().Add(30*24*time.Hour)
	tests := []struct {
		name        string
		leaf        leafOpts
		roots       *x509.CertPool
		verified    bool
		resultType  string
		nameMatches bool
		summary     string
	}{
		{"valid against the CA given", leafOpts{names: []string{"mx.example.org", "192.0.2.25"}}, ca.pool, true, "", true,
			"the certificate is valid for mx.example.org, issued by CN=Probe Test Root"},
		{"expired", leafOpts{names: []string{"mx.example.org"}, notBefore: past.Add(-time.Hour), notAfter: past}, ca.pool, false, ResultCertificateExpired, true,
			"the certificate expired on " + day(past)},
		{"not yet valid", leafOpts{names: []string{"mx.example.org"}, notBefore: future, notAfter: future.Add(time.Hour)}, ca.pool, false, ResultCertificateExpired, true,
			"the certificate is not valid yet: not before " + day(future)},
		{"wrong host", leafOpts{names: []string{"mx.other.example"}}, ca.pool, false, ResultCertificateHostMismatch, false,
			"the certificate is for mx.other.example, not mx.example.org"},
		{"unknown CA", leafOpts{names: []string{"mx.example.org"}}, x509.NewCertPool(), false, ResultCertificateNotTrusted, true,
			"issued by an unknown authority: the chain ends at CN=Probe Test Root"},
		{"self-signed", leafOpts{names: []string{"mx.example.org"}, selfSigned: true}, ca.pool, false, ResultCertificateNotTrusted, true,
			"issued by an unknown authority (self-signed CN=mx.example.org)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert, leaf := ca.leaf(t, tc.leaf)
			srv := startTLSTestServer(t, &tlsTestServer{
				ehlo:   func(int, bool) string { return ehloWithTLS },
				tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}},
			})
			cfg := mxConfig(t, srv.addr)
			cfg.TLSConfig = &tls.Config{RootCAs: tc.roots}
			res := Run(context.Background(), cfg)
			if res.ExitCode != ExitOK {
				t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
			}
			info := res.TLS
			if info == nil {
				t.Fatal("no TLS info")
			}
			if info.Verified != tc.verified || string(info.ResultType) != tc.resultType {
				t.Errorf("verified %v result type %q (%s), want %v %q", info.Verified, info.ResultType, info.VerifyError, tc.verified, tc.resultType)
			}
			if info.NameMatches == nil || *info.NameMatches != tc.nameMatches || info.NameChecked != "mx.example.org" {
				t.Errorf("name_matches %v for %q, want %v", info.NameMatches, info.NameChecked, tc.nameMatches)
			}
			if !strings.HasPrefix(info.VerifySummary, tc.summary) {
				t.Errorf("summary %q, want it to start with %q", info.VerifySummary, tc.summary)
			}
			if info.SNI != "mx.example.org" {
				t.Errorf("SNI %q", info.SNI)
			}
			wantChain := 2
			if tc.leaf.selfSigned {
				wantChain = 1
			}
			if len(info.PeerCertificates) != wantChain {
				t.Fatalf("%d certificates, want %d", len(info.PeerCertificates), wantChain)
			}
			pc := info.PeerCertificates[0]
			sum := sha256.Sum256(leaf.Raw)
			if pc.SHA256 != hex.EncodeToString(sum[:]) || pc.Key != "ECDSA P-256" || pc.KeyType != "ECDSA" || pc.KeyBits != 256 {
				t.Errorf("leaf details %+v", pc)
			}
			if !pc.NotBefore.Equal(leaf.NotBefore) || !pc.NotAfter.Equal(leaf.NotAfter) || pc.Subject != leaf.Subject.String() {
				t.Errorf("leaf dates/subject %+v", pc)
			}
			if tc.name == "valid against the CA given" && (len(pc.IPAddresses) != 1 || pc.IPAddresses[0] != "192.0.2.25" || len(pc.DNSNames) != 1) {
				t.Errorf("SANs %v %v", pc.DNSNames, pc.IPAddresses)
			}
			if pc.SelfSigned != tc.leaf.selfSigned {
				t.Errorf("self_signed %v", pc.SelfSigned)
			}
			if wantChain == 2 && (!info.PeerCertificates[1].IsCA || !info.PeerCertificates[1].SelfSigned) {
				t.Errorf("CA entry %+v", info.PeerCertificates[1])
			}
		})
	}
}

// --tls-verify refuses, and the refusal keeps the certificate's verdict.
func TestVerifyRefusalKeepsSummary(t *testing.T) {
	ca := newTestCA(t, "Probe Test Root")
	cert, _ := ca.leaf(t, leafOpts{names: []string{"mx.other.example"}})
	srv := startTLSTestServer(t, &tlsTestServer{ehlo: func(int, bool) string { return ehloWithTLS }, tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}}})
	cfg := mxConfig(t, srv.addr)
	cfg.TLSConfig = &tls.Config{RootCAs: ca.pool}
	cfg.TLSVerify = true
	res := Run(context.Background(), cfg)
	if res.ExitCode != ExitTLS || res.TLS == nil {
		t.Fatalf("exit %d tls %+v", res.ExitCode, res.TLS)
	}
	if !strings.Contains(res.TLS.VerifySummary, "not mx.example.org") || res.TLS.ResultType != ResultCertificateHostMismatch {
		t.Errorf("summary %q type %q", res.TLS.VerifySummary, res.TLS.ResultType)
	}
}

func TestCertKeyDescriptions(t *testing.T) {
	ca := newTestCA(t, "Probe Test Root")
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		key   crypto.Signer
		words string
		typ   string
		bits  int
	}{
		{rsaKey, "RSA 2048", "RSA", 2048},
		{p384, "ECDSA P-384", "ECDSA", 384},
		{edKey, "Ed25519", "Ed25519", 256},
	}
	for _, tc := range tests {
		_, c := ca.leaf(t, leafOpts{names: []string{"mx.example.org"}, key: tc.key})
		ci := certInfo(c)
		if ci.Key != tc.words || ci.KeyType != tc.typ || ci.KeyBits != tc.bits {
			t.Errorf("%s: got %q %q %d", tc.words, ci.Key, ci.KeyType, ci.KeyBits)
		}
		if ci.SignatureAlgorithm != "ECDSA-SHA256" || ci.Serial == "" || len(ci.SPKISHA256) != 64 {
			t.Errorf("%s: %+v", tc.words, ci)
		}
	}
}

func TestStartTLSNotSupported(t *testing.T) {
	tests := []struct {
		name     string
		starttls string
		ehlo     string
		mode     TLSMode
		summary  string
	}{
		{"not offered, required", "", "250-mx.example.org\r\n250 8BITMIME\r\n", TLSRequired, "does not offer STARTTLS"},
		{"refused, required", "454 4.7.0 TLS not available due to local problem\r\n", ehloWithTLS, TLSRequired, "refused it: 454 4.7.0 TLS not available"},
		{"refused, strict", "454 4.7.0 TLS not available due to local problem\r\n", ehloWithTLS, TLSOptionalStrict, "refused it: 454"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startTLSTestServer(t, &tlsTestServer{starttls: tc.starttls, ehlo: func(int, bool) string { return tc.ehlo }})
			cfg := mxConfig(t, srv.addr)
			cfg.TLSMode = tc.mode
			res := Run(context.Background(), cfg)
			if res.ExitCode != ExitTLS || res.Phase != PhaseStartTLS {
				t.Fatalf("exit %d phase %s", res.ExitCode, res.Phase)
			}
			if res.TLS == nil || res.TLS.ResultType != ResultStartTLSNotSupported || !strings.Contains(res.TLS.VerifySummary, tc.summary) {
				t.Fatalf("TLS info %+v", res.TLS)
			}
			if res.TLS.Verified || res.TLS.NameMatches != nil || res.TLS.HandshakeError != "" {
				t.Errorf("TLS info claims a handshake: %+v", res.TLS)
			}
		})
	}
}

func TestPeerCertFile(t *testing.T) {
	ca := newTestCA(t, "Probe Test Root")
	cert, leaf := ca.leaf(t, leafOpts{names: []string{"mx.example.org"}})
	srv := startTLSTestServer(t, &tlsTestServer{ehlo: func(int, bool) string { return ehloWithTLS }, tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}}})
	readChain := func(t *testing.T, path string) []*x509.Certificate {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var out []*x509.Certificate
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c)
		}
		return out
	}
	t.Run("written, leaf first", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "peer.pem")
		if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := CheckWritableFile(path); err != nil {
			t.Fatal(err)
		}
		cfg := mxConfig(t, srv.addr)
		cfg.TLSConfig = &tls.Config{RootCAs: ca.pool}
		cfg.TLSPeerCertFile = path
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitOK || len(res.Warnings) != 0 {
			t.Fatalf("exit %d warnings %+v", res.ExitCode, res.Warnings)
		}
		chain := readChain(t, path)
		if len(chain) != 2 || !chain[0].Equal(leaf) || !chain[1].Equal(ca.cert) {
			t.Fatalf("chain in file: %d certificates", len(chain))
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".peer.pem.*")); len(left) != 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})
	t.Run("written when --tls-verify refuses", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "peer.pem")
		cfg := mxConfig(t, srv.addr)
		cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
		cfg.TLSVerify = true
		cfg.TLSPeerCertFile = path
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitTLS {
			t.Fatalf("exit %d", res.ExitCode)
		}
		if chain := readChain(t, path); len(chain) != 2 {
			t.Fatalf("chain in file: %d certificates", len(chain))
		}
	})
	t.Run("a write failure is a warning", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "gone")
		cfg := mxConfig(t, srv.addr)
		cfg.TLSConfig = &tls.Config{RootCAs: ca.pool}
		cfg.TLSPeerCertFile = filepath.Join(dir, "peer.pem")
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitOK {
			t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
		}
		if len(res.Warnings) != 1 || res.Warnings[0].Kind != WarnPeerCertFile || !strings.Contains(res.Warnings[0].Message, dir) {
			t.Fatalf("warnings %+v", res.Warnings)
		}
	})
	t.Run("shown in the transcript", func(t *testing.T) {
		rec := transcript.NewRecorder(transcript.RecorderOptions{})
		cfg := mxConfig(t, srv.addr)
		cfg.TLSConfig = &tls.Config{RootCAs: ca.pool}
		cfg.TLSShowPeerCert = true
		cfg.Recorder = rec
		Run(context.Background(), cfg)
		n := 0
		for _, e := range rec.Events() {
			if e.Text == "-----BEGIN CERTIFICATE-----" {
				n++
			}
		}
		if n != 2 {
			t.Errorf("%d certificates in the transcript", n)
		}
	})
}

func TestCheckWritableFile(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritableFile(filepath.Join(dir, "x.pem")); err != nil {
		t.Errorf("writable: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left: %v", left)
	}
	if err := CheckWritableFile(filepath.Join(dir, "missing", "x.pem")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	if err := CheckWritableFile(dir); err == nil || !strings.Contains(err.Error(), "is a folder") {
		t.Errorf("folder: %v", err)
	}
	if err := CheckWritableFile(""); err == nil {
		t.Error("empty path accepted")
	}
	if os.Geteuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o500)
		if err := CheckWritableFile(filepath.Join(ro, "x.pem")); err == nil {
			t.Error("read-only folder accepted")
		}
	}
}

func TestTLSProtocolAndCipherRestrictions(t *testing.T) {
	ca := newTestCA(t, "Probe Test Root")
	cert, _ := ca.leaf(t, leafOpts{names: []string{"mx.example.org"}})
	server := func(min, max uint16, suites ...uint16) *tlsTestServer {
		return startTLSTestServer(t, &tlsTestServer{ehlo: func(int, bool) string { return ehloWithTLS },
			tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: min, MaxVersion: max, CipherSuites: suites}})
	}
	tls12 := server(tls.VersionTLS12, tls.VersionTLS12)
	tls11 := server(tls.VersionTLS11, tls.VersionTLS11)
	gcm128 := server(tls.VersionTLS12, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)
	tests := []struct {
		name            string
		srv             *tlsTestServer
		protocol, ciphr string
		wantExit        int
		wantVersion     string
		wantCipher      string
		wantErr         []string
	}{
		{"1.3 required, server stops at 1.2", tls12, "tlsv1_3", "", ExitTLS, "", "", []string{"protocol version", "restricted to versions TLS 1.3 (--tls-protocol tlsv1_3)"}},
		{"1.2 allowed", tls12, "tlsv1_2", "", ExitOK, "TLS 1.2", "", nil},
		{"no_tlsv1_3 against a 1.2 server", tls12, "no_tlsv1_3", "", ExitOK, "TLS 1.2", "", nil},
		{"gap: 1.1 excluded though inside the range", tls11, "tlsv1,tlsv1_2", "", ExitTLS, "", "", []string{"the server chose TLS 1.1, which --tls-protocol \"tlsv1,tlsv1_2\" excludes"}},
		{"cipher the server has", gcm128, "", "ECDHE-ECDSA-AES128-GCM-SHA256", ExitOK, "TLS 1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", nil},
		{"cipher the server lacks", gcm128, "", "ECDHE-ECDSA-AES256-GCM-SHA384", ExitTLS, "", "", []string{"handshake failure", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 (--tls-cipher ECDHE-ECDSA-AES256-GCM-SHA384"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mxConfig(t, tc.srv.addr)
			cfg.TLSConfig = &tls.Config{RootCAs: ca.pool}
			cfg.TLSProtocol, cfg.TLSCipher = tc.protocol, tc.ciphr
			res := Run(context.Background(), cfg)
			if res.ExitCode != tc.wantExit {
				t.Fatalf("exit %d, want %d: %v", res.ExitCode, tc.wantExit, res.Err)
			}
			if tc.wantVersion != "" && res.TLS.Version != tc.wantVersion {
				t.Errorf("version %q", res.TLS.Version)
			}
			if tc.wantCipher != "" && res.TLS.Cipher != tc.wantCipher {
				t.Errorf("cipher %q", res.TLS.Cipher)
			}
			for _, w := range tc.wantErr {
				if res.Err == nil || !strings.Contains(res.Err.Error(), w) {
					t.Errorf("error %v, want %q in it", res.Err, w)
				}
			}
		})
	}
	t.Run("bad value is a usage error before connecting", func(t *testing.T) {
		cfg := mxConfig(t, tls12.addr)
		cfg.TLSProtocol = "tlsv9"
		before := tls12.conns
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitUsage || !strings.Contains(res.Err.Error(), `"tlsv9"`) || tls12.conns != before {
			t.Fatalf("exit %d err %v, %d connections", res.ExitCode, res.Err, tls12.conns-before)
		}
	})
}

func TestDowngradeWarnings(t *testing.T) {
	t.Run("STARTTLS gone on the reconnection", func(t *testing.T) {
		srv := startTLSTestServer(t, &tlsTestServer{ehlo: func(n int, _ bool) string {
			if n == 1 {
				return ehloWithTLS
			}
			return "250-mx.example.org\r\n250 8BITMIME\r\n"
		}})
		cfg := mxConfig(t, srv.addr)
		cfg.TLSMode, cfg.QuitAfter = TLSOptional, ""
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitOK || res.TLSFallback == nil {
			t.Fatalf("exit %d fallback %+v: %v", res.ExitCode, res.TLSFallback, res.Err)
		}
		w := findWarning(res, WarnStartTLSDroppedOnReconnect)
		if w == nil || len(w.Evidence) != 2 || !strings.Contains(w.Evidence[1], "250 8BITMIME") {
			t.Fatalf("warnings %+v", res.Warnings)
		}
	})
	t.Run("STARTTLS still offered on the reconnection: no warning", func(t *testing.T) {
		srv := startTLSTestServer(t, &tlsTestServer{ehlo: func(int, bool) string { return ehloWithTLS }})
		cfg := mxConfig(t, srv.addr)
		cfg.TLSMode, cfg.QuitAfter = TLSOptional, ""
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitOK || len(res.Warnings) != 0 {
			t.Fatalf("exit %d warnings %+v", res.ExitCode, res.Warnings)
		}
	})
	t.Run("STARTTLS refused, on in clear", func(t *testing.T) {
		srv := startTLSTestServer(t, &tlsTestServer{starttls: "454 4.7.0 TLS not available\r\n", ehlo: func(int, bool) string { return ehloWithTLS }})
		cfg := mxConfig(t, srv.addr)
		cfg.TLSMode, cfg.QuitAfter = TLSOptional, ""
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitOK || res.TLS != nil {
			t.Fatalf("exit %d tls %+v", res.ExitCode, res.TLS)
		}
		w := findWarning(res, WarnStartTLSRefusedInClear)
		if w == nil || !strings.Contains(strings.Join(w.Evidence, "\n"), "454 4.7.0 TLS not available") {
			t.Fatalf("warnings %+v", res.Warnings)
		}
	})
	t.Run("AUTH only in clear", func(t *testing.T) {
		ca := newTestCA(t, "Probe Test Root")
		cert, _ := ca.leaf(t, leafOpts{names: []string{"mx.example.org"}})
		srv := startTLSTestServer(t, &tlsTestServer{tlsCfg: &tls.Config{Certificates: []tls.Certificate{cert}}, ehlo: func(_ int, inTLS bool) string {
			if inTLS {
				return "250-mx.example.org\r\n250 8BITMIME\r\n"
			}
			return "250-mx.example.org\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n"
		}})
		rec := transcript.NewRecorder(transcript.RecorderOptions{})
		cfg := mxConfig(t, srv.addr)
		cfg.TLSConfig = &tls.Config{RootCAs: ca.pool}
		cfg.Recorder = rec
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitOK {
			t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
		}
		w := findWarning(res, WarnAuthOnlyInClear)
		if w == nil || w.Evidence[0] != "before STARTTLS: AUTH PLAIN LOGIN" {
			t.Fatalf("warnings %+v", res.Warnings)
		}
		found := false
		for _, e := range rec.Events() {
			found = found || e.Dir == transcript.Info && strings.HasPrefix(e.Text, "Warning: the server advertises AUTH before STARTTLS")
		}
		if !found {
			t.Error("no transcript line for the warning")
		}
	})
}

func findWarning(res *Result, kind string) *transcript.Warning {
	for i := range res.Warnings {
		if res.Warnings[i].Kind == kind {
			return &res.Warnings[i]
		}
	}
	return nil
}

func TestTLSResultTypeNotYetValid(t *testing.T) {
	c := &x509.Certificate{NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(2 * time.Hour)}
	_, err := c.Verify(x509.VerifyOptions{Roots: x509.NewCertPool()})
	var invalid x509.CertificateInvalidError
	if !errors.As(err, &invalid) || invalid.Reason != x509.Expired {
		t.Skipf("crypto/x509 no longer reports not-yet-valid as Expired: %v", err)
	}
	if got := TLSResultType(fmt.Errorf("x: %w", err)); got != ResultCertificateExpired {
		t.Errorf("got %q", got)
	}
}
