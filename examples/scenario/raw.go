package scenario

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// maxCommandLine is the longest command line the raw server accepts
// (RFC 5321 §4.5.3.1.4 allows 512 octets; real servers accept more).
const maxCommandLine = 4096

// rawIdleTimeout bounds how long a raw connection may sit idle, so a client
// that never closes does not keep a goroutine alive for ever. Silent
// scenarios rely on the client giving up first.
const rawIdleTimeout = 5 * time.Minute

// serveRaw accepts connections until the listener is closed.
func (s *Server) serveRaw() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				s.logf("scenario %s: accept: %v", s.Scenario.Name, err)
			}
			return
		}
		go func() {
			defer c.Close()
			rc := &rawConn{srv: s, conn: c, r: bufio.NewReader(c), ip: clientIP(c)}
			if err := rc.serve(); err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.logf("scenario %s: connection from %s: %v", s.Scenario.Name, c.RemoteAddr(), err)
			}
		}()
	}
}

// rawConn is one connection on the raw server: a minimal SMTP state machine
// whose every reply is written in a single Write, as a real server's would
// be, so that pipelining and injection behave as on the wire.
type rawConn struct {
	srv   *Server
	conn  net.Conn
	r     *bufio.Reader
	ip    string
	tls   bool
	helo  bool
	from  string
	mail  bool
	rcpts []string
}

func (rc *rawConn) vars() vars {
	v := vars{IP: rc.ip, Host: rc.srv.hostname, From: rc.from}
	if n := len(rc.rcpts); n > 0 {
		v.Rcpt = rc.rcpts[n-1]
	}
	return v
}

// write sends reply lines (templates already expanded) in one write.
func (rc *rawConn) write(lines ...string) error {
	var b bytes.Buffer
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	if err := rc.conn.SetWriteDeadline(time.Now().Add(serverWriteTimeout)); err != nil {
		return fmt.Errorf("set write deadline: %w", err)
	}
	if _, err := rc.conn.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write reply: %w", err)
	}
	return nil
}

func (rc *rawConn) readLine() (string, error) {
	if err := rc.conn.SetReadDeadline(time.Now().Add(rawIdleTimeout)); err != nil {
		return "", fmt.Errorf("set read deadline: %w", err)
	}
	return readLine(rc.r, maxCommandLine)
}

// mute reads and discards until the peer goes away: a server that has
// stopped answering but keeps the connection open.
func (rc *rawConn) mute() error {
	if err := rc.conn.SetReadDeadline(time.Now().Add(rawIdleTimeout)); err != nil {
		return fmt.Errorf("set read deadline: %w", err)
	}
	_, err := io.Copy(io.Discard, rc.conn)
	return err
}

func (rc *rawConn) serve() error {
	b := rc.srv.b
	if b.silence == silenceNoBanner {
		return rc.mute()
	}
	if b.greeting != nil {
		if err := rc.write(expandAll(b.greeting, rc.vars())...); err != nil {
			return err
		}
		switch b.after {
		case greetHangup:
			return nil
		case greetWaitQuit:
			return rc.waitQuit()
		case greetPOP3:
			return rc.pop3()
		}
	} else if err := rc.write(expand("220 {host} ESMTP Postfix", rc.vars())); err != nil {
		return err
	}
	if b.silence == silenceAfterBanner {
		return rc.mute()
	}
	for {
		line, err := rc.readLine()
		if errors.Is(err, errLineTooLong) {
			if err := rc.write("500 5.5.2 Error: line too long"); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		quit, err := rc.command(line)
		if err != nil || quit {
			return err
		}
	}
}

// command handles one command line; quit is true when the connection must
// end.
func (rc *rawConn) command(line string) (quit bool, err error) {
	b := rc.srv.b
	verb, arg := parseCommand(line)
	switch verb {
	case "EHLO", "HELO":
		if arg == "" {
			return false, rc.write("501 5.5.4 Syntax: " + verb + " hostname")
		}
		rc.helo = true
		rc.resetTransaction()
		if verb == "HELO" {
			err = rc.write(expand("250 {host}", rc.vars()))
		} else {
			err = rc.write(rc.ehloReply()...)
		}
		if err == nil && b.silence == silenceAfterEHLO {
			return true, rc.mute()
		}
		return false, err
	case "STARTTLS":
		return rc.startTLS()
	case "MAIL":
		if !rc.helo {
			return false, rc.write("503 5.5.1 Error: send HELO/EHLO first")
		}
		if rc.mail {
			return false, rc.write("503 5.5.1 Error: nested MAIL command")
		}
		from, ok := parsePathArg(arg, "FROM:")
		if !ok {
			return false, rc.write("501 5.5.4 Syntax: MAIL FROM:<address>")
		}
		rc.from = from
		if b.mail != nil {
			return false, rc.write(expandAll(b.mail.reply, rc.vars())...)
		}
		rc.mail = true
		return false, rc.write("250 2.1.0 Ok")
	case "RCPT":
		if !rc.mail {
			return false, rc.write("503 5.5.1 Error: need MAIL command")
		}
		to, ok := parsePathArg(arg, "TO:")
		if !ok {
			return false, rc.write("501 5.5.4 Syntax: RCPT TO:<address>")
		}
		if b.rcpt.firesForAddress(to) {
			v := rc.vars()
			v.Rcpt = to
			return false, rc.write(expandAll(b.rcpt.reply, v)...)
		}
		rc.rcpts = append(rc.rcpts, to)
		return false, rc.write("250 2.1.5 Ok")
	case "DATA":
		return rc.data()
	case "RSET":
		rc.resetTransaction()
		return false, rc.write("250 2.0.0 Ok")
	case "NOOP":
		return false, rc.write("250 2.0.0 Ok")
	case "QUIT":
		return true, rc.write("221 2.0.0 Bye")
	case "":
		return false, rc.write("500 5.5.2 Error: bad syntax")
	}
	return false, rc.write("502 5.5.2 Error: command not recognized")
}

func (rc *rawConn) resetTransaction() {
	rc.mail = false
	rc.from = ""
	rc.rcpts = nil
}

// ehloReply is a Postfix-like capability list. SIZE carries Postfix's
// default limit; there is no AUTH (raw scenarios do not need it) and no
// CHUNKING (the raw server does not implement BDAT).
func (rc *rawConn) ehloReply() []string {
	caps := []string{"PIPELINING", "SIZE 10240000", "ENHANCEDSTATUSCODES", "8BITMIME"}
	if !rc.tls && (rc.srv.b.offerTLS || rc.srv.b.starttls != nil) {
		caps = append(caps, "STARTTLS")
	}
	caps = append(caps, "SMTPUTF8")
	lines := []string{"250-" + rc.srv.hostname}
	for i, c := range caps {
		sep := "-"
		if i == len(caps)-1 {
			sep = " "
		}
		lines = append(lines, "250"+sep+c)
	}
	return lines
}

func (rc *rawConn) startTLS() (bool, error) {
	b := rc.srv.b
	if rc.tls {
		return false, rc.write("554 5.5.1 Error: TLS already active")
	}
	if !b.offerTLS && b.starttls == nil {
		return false, rc.write("502 5.5.1 Error: command not implemented")
	}
	reply := b.starttls
	if reply == nil {
		reply = []string{"220 2.0.0 Ready to start TLS"}
	}
	if err := rc.write(expandAll(reply, rc.vars())...); err != nil {
		return true, err
	}
	if first, err := parseReplyLine(reply[0]); err != nil || first.Code != 220 {
		return false, nil
	}
	// A vulnerable client that carries on does get a working TLS session:
	// the point of the injection scenario is what the client does with the
	// extra "250 injected" it already holds.
	if err := rc.conn.SetDeadline(time.Now().Add(serverWriteTimeout)); err != nil {
		return true, fmt.Errorf("set handshake deadline: %w", err)
	}
	if b.brokenTLS {
		// No certificate: the server's side of the handshake fails and
		// sends an alert, then the connection ends.
		_ = tls.Server(rc.conn, &tls.Config{MinVersion: tls.VersionTLS12}).Handshake()
		return true, nil
	}
	tc := tls.Server(rc.conn, rc.srv.tlsConf)
	if err := tc.Handshake(); err != nil {
		return true, fmt.Errorf("TLS handshake: %w", err)
	}
	if err := rc.conn.SetDeadline(time.Time{}); err != nil {
		return true, fmt.Errorf("clear handshake deadline: %w", err)
	}
	rc.conn = tc
	rc.r = bufio.NewReader(tc)
	rc.tls = true
	rc.helo = false
	rc.resetTransaction()
	return false, nil
}

func (rc *rawConn) data() (bool, error) {
	b := rc.srv.b
	if !rc.mail || len(rc.rcpts) == 0 {
		return false, rc.write("554 5.5.1 Error: no valid recipients")
	}
	if b.dataCmd != nil {
		err := rc.write(expandAll(b.dataCmd.reply, rc.vars())...)
		rc.resetTransaction()
		return false, err
	}
	if err := rc.write("354 End data with <CR><LF>.<CR><LF>"); err != nil {
		return true, err
	}
	msg, n, err := rc.readMessage()
	if err != nil {
		return true, err
	}
	if b.silence == silenceAfterData {
		return true, rc.mute()
	}
	v := rc.vars()
	rc.resetTransaction()
	if b.eod.firesForMessage(msg, n, b.maxBytes) {
		return false, rc.write(expandAll(b.eod.reply, v)...)
	}
	v.QueueID = rc.srv.nextQueueID()
	return false, rc.write(expandAll(okReplyTemplate, v)...)
}

// readMessage reads the message up to the lone dot, undoing dot-stuffing,
// keeping at most captureLimit bytes and counting them all.
func (rc *rawConn) readMessage() ([]byte, int64, error) {
	var buf bytes.Buffer
	var n int64
	atLineStart := true // ReadSlice splits lines longer than its buffer
	for {
		if err := rc.conn.SetReadDeadline(time.Now().Add(rawIdleTimeout)); err != nil {
			return nil, 0, fmt.Errorf("set read deadline: %w", err)
		}
		line, err := rc.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, 0, fmt.Errorf("reading message: %w", err)
		}
		complete := err == nil
		if atLineStart && complete && (string(line) == ".\r\n" || string(line) == ".\n") {
			return buf.Bytes(), n, nil
		}
		if atLineStart && len(line) > 1 && line[0] == '.' {
			line = line[1:]
		}
		atLineStart = complete
		n += int64(len(line))
		if room := captureLimit - buf.Len(); room > 0 {
			if len(line) > room {
				line = line[:room]
			}
			buf.Write(line)
		}
	}
}

// waitQuit follows RFC 5321 §3.1 after a 554 greeting: wait for QUIT,
// answering anything else with 503.
func (rc *rawConn) waitQuit() error {
	for {
		line, err := rc.readLine()
		if errors.Is(err, errLineTooLong) {
			line, err = "", nil
		}
		if err != nil {
			return err
		}
		if verb, _ := parseCommand(line); verb == "QUIT" {
			return rc.write("221 2.0.0 Bye")
		}
		if err := rc.write("503 5.5.1 Error: access denied, send QUIT"); err != nil {
			return err
		}
	}
}

// pop3 answers like Dovecot's POP3 service would to SMTP commands.
func (rc *rawConn) pop3() error {
	for {
		line, err := rc.readLine()
		if errors.Is(err, errLineTooLong) {
			line, err = "", nil
		}
		if err != nil {
			return err
		}
		if verb, _ := parseCommand(line); strings.EqualFold(verb, "QUIT") {
			return rc.write("+OK Logging out.")
		}
		if err := rc.write("-ERR Unknown command."); err != nil {
			return err
		}
	}
}
