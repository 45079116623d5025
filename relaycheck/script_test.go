package relaycheck

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// script is how the line server below misbehaves; the zero value is a
// plain MX for example.test without TLS or AUTH, which refuses relaying
// with 554 and unknown local users with 550.
type script struct {
	// maxErrors: the reply that would be the connection's maxErrors-th
	// error is "421 4.5.0 Too many errors, bye" and the connection
	// closes, as chasquid does after three errors (0 = never).
	maxErrors int
	// closeAfterRcpt answers the first RCPT of each connection, then
	// closes the connection without reading more.
	closeAfterRcpt bool
	// all421 greets with 220, then answers every command with 421 and
	// closes.
	all421 bool
	// dropAfterBanner greets with 220, then closes.
	dropAfterBanner bool
	// brokenStartTLS offers STARTTLS, answers it with 220 and breaks the
	// handshake (a TLS server without a certificate, as OpenSMTPD 6.8
	// with OpenSSL 3 fails with "EVP lib").
	brokenStartTLS bool
	// brokenImplicit is a TLS-on-connect port whose handshake breaks.
	brokenImplicit bool
	// rcptReply, when set, answers every RCPT (a deferral, say).
	rcptReply string
	// mailReply, when set, answers every MAIL FROM.
	mailReply string
	// auth offers AUTH PLAIN in clear: the test password gets 235, any
	// other authFail (a temporary failure, say).
	auth     bool
	authFail string
	// tlsOK offers a STARTTLS that works (this certificate), and goes on
	// inside TLS.
	tlsOK *tls.Config
}

// scriptServer serves a script on loopback and records what it saw.
type scriptServer struct {
	addr string
	sc   script

	mu    sync.Mutex
	conns []*scriptConn // in the order they were accepted
}

type scriptConn struct {
	at       time.Time
	cmds     []string
	starttls bool
}

func startScript(t *testing.T, sc script) *scriptServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptServer{addr: ln.Addr().String(), sc: sc}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			rec := &scriptConn{at: time.Now()}
			s.mu.Lock()
			s.conns = append(s.conns, rec)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				s.serve(c, rec)
			}()
		}
	}()
	return s
}

// connections is how many connections the server accepted.
func (s *scriptServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// received lists every command the server read, on every connection.
func (s *scriptServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.conns {
		out = append(out, c.cmds...)
	}
	return out
}

// count is how many times the server read cmd.
func (s *scriptServer) count(cmd string) int {
	n := 0
	for _, c := range s.received() {
		if c == cmd {
			n++
		}
	}
	return n
}

func (s *scriptServer) starttlsCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.conns {
		if c.starttls {
			n++
		}
	}
	return n
}

// gaps are the pauses between one connection and the next.
func (s *scriptServer) gaps() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(s.conns); i++ {
		out = append(out, s.conns[i].at.Sub(s.conns[i-1].at))
	}
	return out
}

func (s *scriptServer) serve(c net.Conn, rec *scriptConn) {
	sc := s.sc
	if sc.brokenImplicit {
		// No certificate: the handshake fails with an alert.
		_ = tls.Server(c, &tls.Config{}).Handshake()
		return
	}
	conn := net.Conn(c) // becomes the TLS connection after a working STARTTLS
	w := func(line string) { _, _ = io.WriteString(conn, line+"\r\n") }
	w("220 mx.example.test ESMTP scripted")
	if sc.dropAfterBanner {
		return
	}
	br := bufio.NewReader(c)
	errs, rcpts := 0, 0
	// reply answers with line; an error counts towards maxErrors, and
	// the one that reaches it becomes a 421 that ends the connection.
	reply := func(line string) bool {
		if line[0] == '4' || line[0] == '5' {
			errs++
			if sc.maxErrors > 0 && errs >= sc.maxErrors {
				w("421 4.5.0 Too many errors, bye")
				return false
			}
		}
		w(line)
		return true
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		s.mu.Lock()
		rec.cmds = append(rec.cmds, line)
		s.mu.Unlock()
		if sc.all421 {
			w("421 4.3.2 Service shutting down, closing transmission channel")
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if i := strings.IndexByte(verb, ':'); i > 0 {
			verb = verb[:i]
		}
		ok := true
		switch verb {
		case "EHLO":
			w("250-mx.example.test")
			if sc.brokenStartTLS || (sc.tlsOK != nil && conn == c) {
				w("250-STARTTLS")
			}
			if sc.auth {
				w("250-AUTH PLAIN")
			}
			w("250 8BITMIME")
		case "HELO", "NOOP", "RSET":
			w("250 2.0.0 Ok")
		case "STARTTLS":
			if sc.tlsOK != nil && conn == c {
				w("220 2.0.0 Ready to start TLS")
				tc := tls.Server(&readerConn{Conn: c, r: br}, sc.tlsOK)
				if tc.Handshake() != nil {
					return
				}
				conn, br = tc, bufio.NewReader(tc)
				break
			}
			if !sc.brokenStartTLS {
				ok = reply("502 5.5.1 STARTTLS not offered")
				break
			}
			s.mu.Lock()
			rec.starttls = true
			s.mu.Unlock()
			w("220 2.0.0 Ready to start TLS")
			_ = tls.Server(&readerConn{Conn: c, r: br}, &tls.Config{}).Handshake()
			return
		case "AUTH":
			ok = reply(s.authReply(arg))
		case "MAIL":
			if sc.mailReply != "" {
				ok = reply(sc.mailReply)
			} else {
				w("250 2.1.0 Ok")
			}
		case "RCPT":
			rcpts++
			ok = reply(rcptReply(sc, line))
			if ok && sc.closeAfterRcpt && rcpts == 1 {
				return
			}
		case "DATA":
			w("354 End data with <CR><LF>.<CR><LF>")
			for {
				l, err := br.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
			}
			w("250 2.0.0 Ok: queued as SCRIPTED1")
		case "QUIT":
			w("221 2.0.0 Bye")
			return
		case "*":
			ok = reply("501 5.7.0 AUTH cancelled")
		default:
			ok = reply("502 5.5.2 Error: command not recognized")
		}
		if !ok {
			return
		}
	}
}

func (s *scriptServer) authReply(arg string) string {
	if !s.sc.auth {
		return "503 5.5.1 Error: authentication not enabled"
	}
	mech, ir, _ := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") || ir == "" {
		return "535 5.7.8 Error: authentication failed"
	}
	raw, err := base64.StdEncoding.DecodeString(ir)
	if err != nil {
		return "501 5.5.2 Cannot decode response"
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) == 3 && parts[1] == testUser && parts[2] == testPassword {
		return "235 2.7.0 Authentication successful"
	}
	if s.sc.authFail == "" {
		return "535 5.7.8 Error: authentication failed"
	}
	return s.sc.authFail
}

// rcptReply is the MX's answer to a RCPT line: its own users accepted,
// other local parts unknown, other domains relay denied.
func rcptReply(sc script, line string) string {
	if sc.rcptReply != "" {
		return sc.rcptReply
	}
	addr := line[strings.IndexByte(line, '<')+1:]
	addr = strings.TrimSuffix(addr, ">")
	at := strings.LastIndexByte(addr, '@')
	local, domain := addr[:max(at, 0)], addr[at+1:]
	if strings.EqualFold(domain, testDomain) {
		if local == "alice" || local == "postmaster" {
			return "250 2.1.5 Ok"
		}
		return fmt.Sprintf("550 5.1.1 <%s>: Recipient address rejected: User unknown in local recipient table", addr)
	}
	return fmt.Sprintf("554 5.7.1 <%s>: Relay access denied", addr)
}

// readerConn reads through the server's bufio.Reader, so bytes it already
// buffered reach the TLS server.
type readerConn struct {
	net.Conn
	r *bufio.Reader
}

func (p *readerConn) Read(b []byte) (int, error) { return p.r.Read(b) }
