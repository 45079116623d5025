package scenario

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"
)

// Options tune a scenario server. The zero value is ready to use.
type Options struct {
	// TLSConfig is used for STARTTLS. Nil: a self-signed ECDSA P-256
	// certificate for "localhost", 127.0.0.1, ::1 and Hostname is generated
	// in memory. Callers starting many servers can make one with
	// SelfSignedTLS and pass it to each.
	TLSConfig *tls.Config
	// Hostname is the name in the banner and in replies, default
	// "mx.scenario.test". Scenario.ExpectReply assumes the default.
	Hostname string
	// Logf, when set, receives one line per connection event and error.
	Logf func(format string, args ...any)
}

// Server is a running scenario server on 127.0.0.1.
type Server struct {
	Addr        string            // "127.0.0.1:port"
	Certificate *x509.Certificate // the certificate STARTTLS presents
	Scenario    Scenario

	b        behavior
	hostname string
	tlsConf  *tls.Config
	logf     func(format string, args ...any)
	queue    atomic.Uint64 // messages accepted, for queue ids

	ln        *trackingListener
	smtp      *smtp.Server // nil for raw scenarios
	serveDone chan struct{}
	stop      chan struct{} // closed when shutdown starts
	done      chan struct{} // closed when shutdown has finished
	watchDone chan struct{} // closed when the context watcher has returned
	closeOnce sync.Once
	closeErr  error
}

// Start looks up the scenario by name and serves it on 127.0.0.1 on a free
// port until Close is called or ctx is cancelled.
func Start(ctx context.Context, name string, opts Options) (*Server, error) {
	e, ok := lookupEntry(name)
	if !ok {
		return nil, fmt.Errorf("scenario %q: no such scenario", name)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("scenario %q: %w", name, err)
	}
	s := &Server{
		Scenario:  e.public(),
		b:         e.b,
		hostname:  opts.Hostname,
		logf:      opts.Logf,
		serveDone: make(chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		watchDone: make(chan struct{}),
	}
	if s.hostname == "" {
		s.hostname = defaultHostname
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}

	s.tlsConf = opts.TLSConfig
	if s.tlsConf == nil {
		conf, err := SelfSignedTLS(s.hostname)
		if err != nil {
			return nil, fmt.Errorf("scenario %q: %w", name, err)
		}
		s.tlsConf = conf
	}
	cert, err := leafOf(s.tlsConf)
	if err != nil {
		return nil, fmt.Errorf("scenario %q: %w", name, err)
	}
	s.Certificate = cert

	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("scenario %q: listen on loopback: %w", name, err)
	}
	s.ln = newTrackingListener(l)
	s.Addr = l.Addr().String()

	if e.b.raw {
		go func() {
			defer close(s.serveDone)
			s.serveRaw()
		}()
	} else {
		s.smtp = s.newGoSMTP()
		go func() {
			defer close(s.serveDone)
			if err := s.smtp.Serve(s.ln); err != nil {
				s.logf("scenario %s: serve: %v", name, err)
			}
		}()
	}

	go func() {
		defer close(s.watchDone)
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-s.stop:
		}
	}()
	s.logf("scenario %s listening on %s", name, s.Addr)
	return s, nil
}

// Close stops the server: it closes the listener and every open connection
// and waits for all of the server's goroutines to return. It is safe to call
// more than once.
func (s *Server) Close() error {
	err := s.shutdown()
	<-s.watchDone
	return err
}

// Done is closed once the server has stopped, after Close or after the
// context given to Start was cancelled.
func (s *Server) Done() <-chan struct{} { return s.done }

func (s *Server) shutdown() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		var errs []error
		if s.smtp != nil {
			if err := s.smtp.Close(); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				errs = append(errs, err)
			}
		}
		// go-smtp only closes the listeners and connections it has already
		// registered; closing ours as well covers a Close that races with
		// Serve starting or with a connection being accepted.
		if err := s.ln.shutdown(); err != nil {
			errs = append(errs, err)
		}
		<-s.serveDone
		s.ln.wait()
		if len(errs) > 0 {
			s.closeErr = fmt.Errorf("scenario %s: close: %w", s.Scenario.Name, errors.Join(errs...))
		}
		close(s.done)
	})
	return s.closeErr
}

// trackingListener remembers every accepted connection so shutdown can close
// them and wait until the goroutines serving them have let go.
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func newTrackingListener(l net.Listener) *trackingListener {
	return &trackingListener{Listener: l, conns: make(map[*trackedConn]struct{})}
}

func (t *trackingListener) Accept() (net.Conn, error) {
	c, err := t.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, owner: t}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	t.conns[tc] = struct{}{}
	t.wg.Add(1)
	return tc, nil
}

// Close is what go-smtp calls; it only closes the socket. shutdown does the
// rest.
func (t *trackingListener) Close() error {
	err := t.Listener.Close()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

func (t *trackingListener) shutdown() error {
	t.mu.Lock()
	t.closed = true
	conns := make([]*trackedConn, 0, len(t.conns))
	for c := range t.conns {
		conns = append(conns, c)
	}
	t.mu.Unlock()
	err := t.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	return err
}

// wait blocks until every accepted connection has been closed, which the
// serving goroutines do on their way out.
func (t *trackingListener) wait() { t.wg.Wait() }

type trackedConn struct {
	net.Conn
	owner *trackingListener
	once  sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.owner.mu.Lock()
		delete(c.owner.conns, c)
		c.owner.mu.Unlock()
		c.owner.wg.Done()
	})
	return err
}

// SelfSignedTLS returns a server TLS configuration with a fresh self-signed
// ECDSA P-256 certificate valid for one day for "localhost", 127.0.0.1, ::1
// and the given host names. The certificate is its own CA, so a client can
// trust it by adding Server.Certificate to its roots.
func SelfSignedTLS(hosts ...string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := time.Now()
	names := []string{"localhost"}
	for _, h := range hosts {
		if h != "" && h != "localhost" && net.ParseIP(h) == nil {
			names = append(names, h)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "localhost", Organization: []string{"smtpprobe scenario server"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse self-signed certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// leafOf returns the first certificate of a server configuration.
func leafOf(conf *tls.Config) (*x509.Certificate, error) {
	if len(conf.Certificates) == 0 || len(conf.Certificates[0].Certificate) == 0 {
		return nil, errors.New("TLS configuration has no certificate")
	}
	if leaf := conf.Certificates[0].Leaf; leaf != nil {
		return leaf, nil
	}
	leaf, err := x509.ParseCertificate(conf.Certificates[0].Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse TLS certificate: %w", err)
	}
	return leaf, nil
}

// clientIP is the address part of a connection's remote address.
func clientIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// nextQueueID numbers the accepted messages of this server.
func (s *Server) nextQueueID() string { return queueID(s.queue.Add(1)) }
