package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// brokenTLSServer offers STARTTLS, answers 220 to it and then breaks the
// handshake (a TLS server without a certificate, as OpenSMTPD 6.8 breaks
// against OpenSSL 3 with "EVP lib"); after the failure it keeps reading
// commands in clear, so a client that goes on on the same connection is
// answered. It counts connections and STARTTLS commands.
type brokenTLSServer struct {
	addr string
	// silentMail leaves MAIL unanswered; closed gets one value each time
	// a connection's client goes away (EOF).
	silentMail bool
	closed     chan struct{}

	mu        sync.Mutex
	conns     int
	starttls  int
	delivered int
}

func startBrokenTLSServer(t *testing.T) *brokenTLSServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &brokenTLSServer{addr: ln.Addr().String(), closed: make(chan struct{}, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

func (s *brokenTLSServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "220 broken.test ESMTP\r\n")
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			s.closed <- struct{}{}
			return
		}
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		switch verb {
		case "MAIL":
			if !s.silentMail {
				io.WriteString(c, "250 ok\r\n")
			}
		case "EHLO":
			io.WriteString(c, "250-broken.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
		case "STARTTLS":
			s.mu.Lock()
			s.starttls++
			s.mu.Unlock()
			io.WriteString(c, "220 2.0.0 Ready to start TLS\r\n")
			// No certificate: the handshake fails on the server's side
			// with an alert, as a broken TLS library does.
			_ = tls.Server(&prefixConn{Conn: c, r: br}, &tls.Config{}).Handshake()
		case "DATA":
			io.WriteString(c, "354 go ahead\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			s.mu.Lock()
			s.delivered++
			s.mu.Unlock()
			io.WriteString(c, "250 2.0.0 Ok: queued as FALLBACK1\r\n")
		case "QUIT":
			io.WriteString(c, "221 bye\r\n")
			return
		default:
			io.WriteString(c, "250 ok\r\n")
		}
	}
}

// prefixConn reads through the server's bufio.Reader, so bytes it already
// buffered reach the TLS server.
type prefixConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *prefixConn) Read(b []byte) (int, error) { return p.r.Read(b) }

func TestOpportunisticTLSFallback(t *testing.T) {
	tests := []struct {
		name         string
		mode         TLSMode
		sameConn     bool
		wantExit     int
		wantPhase    string
		wantConns    int
		wantStartTLS int
		wantAction   string
	}{
		// The MTA rule: record the failure, reconnect, finish in clear.
		{"optional reconnects in clear", TLSOptional, false, ExitOK, PhaseEndOfData, 2, 1, FallbackReconnected},
		// swaks --tls-optional: on the same connection.
		{"swaks optional continues on the same connection", TLSOptional, true, ExitOK, PhaseEndOfData, 1, 1, FallbackSameConnection},
		{"strict fails", TLSOptionalStrict, false, ExitTLS, PhaseStartTLS, 1, 1, ""},
		{"required fails", TLSRequired, false, ExitTLS, PhaseStartTLS, 1, 1, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := startBrokenTLSServer(t)
			cfg := baseConfig(t, srv.addr)
			cfg.TLSMode = tc.mode
			cfg.TLSFailSameConnection = tc.sameConn
			res := Run(context.Background(), cfg)
			if res.ExitCode != tc.wantExit || res.Phase != tc.wantPhase {
				t.Fatalf("exit %d phase %q (%v), want %d %q", res.ExitCode, res.Phase, res.Err, tc.wantExit, tc.wantPhase)
			}
			srv.mu.Lock()
			conns, starttls, delivered := srv.conns, srv.starttls, srv.delivered
			srv.mu.Unlock()
			if conns != tc.wantConns || starttls != tc.wantStartTLS {
				t.Errorf("server saw %d connections and %d STARTTLS, want %d and %d", conns, starttls, tc.wantConns, tc.wantStartTLS)
			}
			if tc.wantExit != ExitOK {
				if res.TLSFallback != nil || delivered != 0 {
					t.Errorf("a failed %v session fell back (%+v) or delivered (%d)", tc.mode, res.TLSFallback, delivered)
				}
				return
			}
			if delivered != 1 || res.QueueID != "FALLBACK1" {
				t.Errorf("delivered %d, queue ID %q", delivered, res.QueueID)
			}
			fb := res.TLSFallback
			if fb == nil || fb.Action != tc.wantAction || fb.ResultType != ResultValidationFailure || !strings.Contains(fb.Reason, "TLS handshake") {
				t.Fatalf("fallback %+v", fb)
			}
			if res.TLSActive {
				t.Error("TLS reported active after the fallback")
			}
			if res.TLS == nil || res.TLS.HandshakeError == "" || res.TLS.ResultType != ResultValidationFailure {
				t.Errorf("TLS info %+v", res.TLS)
			}
			// The failed handshake stays in the steps; nothing after it
			// is attributed to TLS.
			var sawHandshake, sawStartTLSAgain bool
			for i, st := range res.Steps {
				if st.Command == "(TLS handshake)" && st.Error != "" {
					sawHandshake = true
					for _, later := range res.Steps[i+1:] {
						if later.Command == "STARTTLS" {
							sawStartTLSAgain = true
						}
					}
				}
			}
			if !sawHandshake || sawStartTLSAgain {
				t.Errorf("steps: failed handshake recorded %v, STARTTLS sent again %v", sawHandshake, sawStartTLSAgain)
			}
		})
	}
}

// A --tls-verify refusal is what the user asked for: no fallback.
func TestNoFallbackWhenVerifyRefuses(t *testing.T) {
	srvTLS, _ := testCert(t)
	g := startGoSMTP(t, srvTLS, false, false)
	cfg := baseConfig(t, g.addr)
	cfg.TLSMode = TLSOptional
	cfg.TLSVerify = true
	cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()} // trusts nothing
	res := Run(context.Background(), cfg)
	if res.ExitCode != ExitTLS || res.TLSFallback != nil {
		t.Fatalf("exit %d, fallback %+v", res.ExitCode, res.TLSFallback)
	}
	if res.TLS == nil || res.TLS.ResultType != ResultCertificateNotTrusted {
		t.Errorf("TLS info %+v", res.TLS)
	}
}

// A handshake at connect that fails is a connect-phase failure: no
// STARTTLS was sent.
func TestImplicitTLSHandshakeFailureIsConnectPhase(t *testing.T) {
	addr := scripted(t, "220 plain.test ESMTP\r\n", nil)
	cfg := baseConfig(t, addr)
	cfg.TLSMode = TLSImplicit
	res := Run(context.Background(), cfg)
	if res.ExitCode != ExitTLS || res.Phase != PhaseConnect {
		t.Fatalf("exit %d phase %q, want %d connect", res.ExitCode, res.Phase, ExitTLS)
	}
	if res.Err == nil || !strings.Contains(res.Err.Error(), "TLS handshake at connect (implicit TLS)") {
		t.Errorf("error %v", res.Err)
	}
	if len(res.Steps) == 0 || res.Steps[0].Phase != PhaseConnect || res.Steps[0].Command != "(TLS handshake at connect (implicit TLS))" {
		t.Errorf("steps %+v", res.Steps)
	}
	for _, st := range res.Steps {
		if st.Phase == PhaseStartTLS {
			t.Errorf("a starttls step in an implicit-TLS session: %+v", st)
		}
	}
	if res.TLSFallback != nil {
		t.Errorf("implicit TLS fell back to clear: %+v", res.TLSFallback)
	}
}

func TestTLSResultType(t *testing.T) {
	cert := &x509.Certificate{}
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{x509.HostnameError{Certificate: cert, Host: "mx.example"}, ResultCertificateHostMismatch},
		{fmt.Errorf("wrapped: %w", x509.CertificateInvalidError{Cert: cert, Reason: x509.Expired}), ResultCertificateExpired},
		{x509.UnknownAuthorityError{Cert: cert}, ResultCertificateNotTrusted},
		{x509.CertificateInvalidError{Cert: cert, Reason: x509.NotAuthorizedToSign}, ResultCertificateNotTrusted},
		{errors.New("remote error: tls: internal error"), ResultValidationFailure},
		{io.EOF, ResultValidationFailure},
	}
	for _, tc := range tests {
		if got := TLSResultType(tc.err); got != tc.want {
			t.Errorf("TLSResultType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// swaks answers any EHLO refusal with HELO; the probe's own rule only the
// refusals that mean "EHLO not understood".
func TestHELOAfterEHLORefusal(t *testing.T) {
	tests := []struct {
		ehlo     string
		swaks    bool
		wantExit int
	}{
		{"502 5.5.2 EHLO not implemented\r\n", false, ExitOK},
		{"503 5.5.1 not now\r\n", false, ExitHelo},
		{"503 5.5.1 not now\r\n", true, ExitOK},
		{"421 4.7.0 go away\r\n", true, ExitOK},
	}
	for _, tc := range tests {
		addr := scripted(t, "220 x ESMTP\r\n", map[string]string{"EHLO": tc.ehlo, "HELO": "250 x\r\n"})
		cfg := baseConfig(t, addr)
		cfg.HELOAfterAnyEHLORefusal = tc.swaks
		res := Run(context.Background(), cfg)
		if res.ExitCode != tc.wantExit {
			t.Errorf("EHLO %q swaks=%v: exit %d (%v), want %d", strings.TrimSpace(tc.ehlo), tc.swaks, res.ExitCode, res.Err, tc.wantExit)
		}
	}
}

// The fallback's limits: a fixed source port cannot reconnect, and
// --quit-after tls is a TLS check; swaks goes on even after a --tls-verify
// refusal.
func TestFallbackLimits(t *testing.T) {
	freePort := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	t.Run("fixed source port", func(t *testing.T) {
		srv := startBrokenTLSServer(t)
		cfg := baseConfig(t, srv.addr)
		cfg.TLSMode = TLSOptional
		cfg.LocalAddr = freePort()
		res := Run(context.Background(), cfg)
		if res.ExitCode != ExitTLS || res.Phase != PhaseStartTLS || res.TLSFallback != nil {
			t.Fatalf("exit %d phase %q fallback %+v (%v), want exit 29 at starttls", res.ExitCode, res.Phase, res.TLSFallback, res.Err)
		}
	})
	t.Run("quit after tls", func(t *testing.T) {
		srv := startBrokenTLSServer(t)
		cfg := baseConfig(t, srv.addr)
		cfg.TLSMode = TLSOptional
		cfg.QuitAfter = "tls"
		if res := Run(context.Background(), cfg); res.ExitCode != ExitTLS || res.TLSFallback != nil {
			t.Fatalf("exit %d fallback %+v, want 29", res.ExitCode, res.TLSFallback)
		}
	})
	t.Run("swaks goes on after a verify refusal", func(t *testing.T) {
		srvTLS, _ := testCert(t)
		g := startGoSMTP(t, srvTLS, false, false)
		cfg := baseConfig(t, g.addr)
		cfg.TLSMode = TLSOptional
		cfg.TLSVerify = true
		cfg.TLSFailSameConnection = true
		cfg.TLSConfig = &tls.Config{RootCAs: x509.NewCertPool()}
		res := Run(context.Background(), cfg)
		if res.ExitCode == ExitTLS || res.TLSFallback == nil || res.TLSFallback.Action != FallbackSameConnection || res.TLSFallback.ResultType != ResultCertificateNotTrusted {
			t.Fatalf("exit %d fallback %+v, want swaks's same-connection carry-on", res.ExitCode, res.TLSFallback)
		}
	})
}

// The connection made by the fallback is closed when the session ends,
// even when it ends in a timeout.
func TestFallbackConnectionIsClosed(t *testing.T) {
	srv := startBrokenTLSServer(t)
	srv.silentMail = true
	cfg := baseConfig(t, srv.addr)
	cfg.TLSMode = TLSOptional
	cfg.Timeout = 300 * time.Millisecond
	res := Run(context.Background(), cfg)
	if res.ExitCode != ExitMail || res.TLSFallback == nil {
		t.Fatalf("exit %d fallback %+v, want 23 after the fallback", res.ExitCode, res.TLSFallback)
	}
	// Two connections: the broken-TLS one and the one in clear.
	for i := 0; i < 2; i++ {
		select {
		case <-srv.closed:
		case <-time.After(3 * time.Second):
			t.Fatalf("connection %d of 2 still open after the session ended", i+1)
		}
	}
}

// swaks stays with the first address that accepts a connection: a refusing
// greeting there is exit 21, where an MTA moves on to the next address.
func TestFirstConnectionFinal(t *testing.T) {
	// Linux answers on all of 127.0.0.0/8; elsewhere (macOS) only
	// 127.0.0.1 may exist, which is a skip outside CI.
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	refusing, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		skip("no 127.0.0.2 on this machine: %v", err)
		return
	}
	_, port := hostPort(t, refusing.Addr().String())
	good, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		refusing.Close()
		skip("port %d not free on 127.0.0.1: %v", port, err)
		return
	}
	serve := func(ln net.Listener, banner string) {
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					io.WriteString(c, banner)
					br := bufio.NewReader(c)
					for {
						l, err := br.ReadString('\n')
						if err != nil {
							return
						}
						switch {
						case strings.HasPrefix(l, "QUIT"):
							io.WriteString(c, "221 bye\r\n")
							return
						case strings.HasPrefix(l, "DATA"):
							io.WriteString(c, "354 go\r\n")
							for l != ".\r\n" && err == nil {
								l, err = br.ReadString('\n')
							}
							io.WriteString(c, "250 queued\r\n")
						default:
							io.WriteString(c, "250 ok\r\n")
						}
					}
				}()
			}
		}()
	}
	serve(refusing, "554 5.7.1 not you\r\n")
	serve(good, "220 good ESMTP\r\n")
	for _, final := range []bool{false, true} {
		cfg := baseConfig(t, good.Addr().String())
		cfg.TLSMode = TLSNone
		cfg.Hosts = []Host{{Name: "two.test"}}
		cfg.Resolver = fakeResolver{"two.test": {net.ParseIP("127.0.0.2"), net.ParseIP("127.0.0.1")}}
		cfg.FirstConnectionFinal = final
		res := Run(context.Background(), cfg)
		want := ExitOK
		if final {
			want = ExitBanner
		}
		if res.ExitCode != want {
			t.Errorf("FirstConnectionFinal=%v: exit %d (%v), want %d", final, res.ExitCode, res.Err, want)
		}
	}
}

// OnEgress fires once, at the first connection, with the local IP and the
// EHLO name, also when a fallback reconnects, and also when the greeting
// refuses the client.
func TestOnEgress(t *testing.T) {
	srv := startBrokenTLSServer(t)
	cfg := baseConfig(t, srv.addr)
	cfg.TLSMode = TLSOptional
	var calls []string
	cfg.OnEgress = func(ip, name string) { calls = append(calls, ip+" "+name) }
	res := Run(context.Background(), cfg)
	if res.ExitCode != ExitOK || len(calls) != 1 || calls[0] != "127.0.0.1 client.test" {
		t.Fatalf("exit %d, OnEgress calls %q", res.ExitCode, calls)
	}
	refusing := scripted(t, "554 5.7.1 Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org\r\n", nil)
	cfg = baseConfig(t, refusing)
	calls = nil
	cfg.OnEgress = func(ip, name string) { calls = append(calls, ip+" "+name) }
	if res := Run(context.Background(), cfg); res.ExitCode != ExitBanner || len(calls) != 1 {
		t.Fatalf("refused greeting: exit %d, OnEgress calls %q", res.ExitCode, calls)
	}
}
