package relaycheck

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/smtpprobe/smtpprobe/saslserver"
)

// Test credentials of the in-process servers.
const (
	testDomain   = "example.test"
	testUser     = "alice@example.test"
	testPassword = "s3cret-Pass-4711"
)

// policy is how the in-process server behaves; each field is one of the
// server settings that relay-check must tell apart.
type policy struct {
	openRelay      bool // accept every recipient
	catchAll       bool // accept any local part at the local domain (percent hack, quoted, bang reach a mailbox)
	requireAuth    bool // 530 at MAIL until AUTH
	offerAuth      bool // AUTH PLAIN LOGIN (inside TLS unless authInClear)
	authInClear    bool // AllowInsecureAuth
	offerTLS       bool // STARTTLS
	senderLogin    bool // an authenticated user may only use their own address
	anyPassword    bool // AUTH accepts any password for the user
	echoPassword   bool // the 535 reply quotes the password it got (a buggy server)
	rejectNullFrom bool // MAIL FROM:<> refused
	blockClient    bool // every RCPT refused because the client IP is on a DNSBL
}

type testServer struct {
	addr string
	pool *x509.CertPool
	mu   sync.Mutex
	data int      // messages received after DATA
	auth []string // passwords tried
}

func (ts *testServer) dataCount() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.data
}

// testCert makes a self-signed certificate for 127.0.0.1 and localhost
// and a pool that trusts it.
func testCert(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mx.example.test"},
		DNSNames: []string{"localhost", "mx.example.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// startServer runs go-smtp with the policy on a loopback port; implicit
// makes it a TLS-on-connect server.
func startServer(t *testing.T, p policy, implicit bool) *testServer {
	t.Helper()
	tlsCfg, pool := testCert(t)
	ts := &testServer{pool: pool}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &policySession{p: p, ts: ts}, nil
	}))
	s.Domain = "mx.example.test"
	s.AllowInsecureAuth = p.authInClear
	if p.offerTLS || implicit {
		s.TLSConfig = tlsCfg
	}
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	s.ErrorLog = quietLog{}
	var ln net.Listener
	var err error
	if implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	ts.addr = ln.Addr().String()
	return ts
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

type policySession struct {
	p    policy
	ts   *testServer
	user string
}

func (s *policySession) AuthMechanisms() []string {
	if !s.p.offerAuth {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *policySession) Auth(mech string) (sasl.Server, error) {
	if !s.p.offerAuth {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	check := func(u, pw string) error {
		s.ts.mu.Lock()
		s.ts.auth = append(s.ts.auth, pw)
		s.ts.mu.Unlock()
		if u == testUser && (pw == testPassword || s.p.anyPassword) {
			s.user = u
			return nil
		}
		msg := "Authentication credentials invalid"
		if s.p.echoPassword {
			msg += " (got " + pw + ")"
		}
		return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: msg}
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, u, pw string) error { return check(u, pw) }), nil
	case sasl.Login:
		return saslserver.NewLoginServer(check), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (s *policySession) Mail(from string, _ *smtp.MailOptions) error {
	switch {
	case s.p.requireAuth && s.user == "":
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "Authentication required"}
	case s.user != "" && s.p.senderLogin && from != s.user:
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "<" + from + ">: Sender address rejected: not owned by user " + s.user}
	case from == "" && s.p.rejectNullFrom:
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Null sender not allowed"}
	}
	return nil
}

func (s *policySession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.p.blockClient {
		return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Service unavailable; Client host [127.0.0.1] blocked using zen.spamhaus.org"}
	}
	if s.p.openRelay || s.user != "" {
		return nil
	}
	at := strings.LastIndexByte(to, '@')
	local, domain := to[:max(at, 0)], to[at+1:]
	if strings.EqualFold(domain, testDomain) {
		if s.p.catchAll || local == "alice" || local == "postmaster" {
			return nil
		}
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected: User unknown in virtual mailbox table"}
	}
	return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "<" + to + ">: Relay access denied"}
}

func (s *policySession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.ts.mu.Lock()
	s.ts.data++
	s.ts.mu.Unlock()
	return nil
}

func (s *policySession) Reset()        {}
func (s *policySession) Logout() error { return nil }

// startRaw runs a line server whose handler gets each connection; it is
// for servers go-smtp cannot be (HTTP, silence).
func startRaw(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				go func() {
					<-done
					c.Close()
				}()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		close(done)
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// httpServer answers like a web server whatever it is sent.
func httpServer(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	_, _ = br.ReadString('\n')
	_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n<html><body>400 Bad Request</body></html>\r\n")
}

// silentAfterEHLO greets, answers EHLO, then never answers again.
func silentAfterEHLO(c net.Conn) {
	br := bufio.NewReader(c)
	_, _ = io.WriteString(c, "220 slow.example.test ESMTP\r\n")
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(strings.ToUpper(line), "EHLO") {
		return
	}
	_, _ = io.WriteString(c, "250-slow.example.test\r\n250 PIPELINING\r\n")
	for {
		if _, err := br.ReadString('\n'); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

// closedPort returns an address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
