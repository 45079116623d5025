package scenario

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/smtpprobe/smtpprobe/saslserver"
)

// Timeouts of the go-smtp server: generous for a probe, but bounded so a
// forgotten client cannot pin a goroutine for ever.
const (
	serverReadTimeout  = 60 * time.Second
	serverWriteTimeout = 10 * time.Second
)

func (s *Server) newGoSMTP() *smtp.Server {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c}, nil
	}))
	srv.Domain = s.hostname
	srv.ReadTimeout = serverReadTimeout
	srv.WriteTimeout = serverWriteTimeout
	srv.ErrorLog = logAdapter{s.logf}
	if s.b.offerTLS {
		srv.TLSConfig = s.tlsConf
	}
	// MaxMessageBytes stays 0: go-smtp would otherwise refuse oversized
	// messages itself, at MAIL or after the dot, in its own words, and the
	// size scenarios must answer with the real servers' texts.
	return srv
}

// logAdapter routes go-smtp's error log to Options.Logf.
type logAdapter struct{ logf func(string, ...any) }

func (l logAdapter) Printf(format string, v ...any) { l.logf(format, v...) }
func (l logAdapter) Println(v ...any)               { l.logf("%s", strings.TrimSuffix(fmt.Sprintln(v...), "\n")) }

// session applies a scenario's behaviour to one go-smtp session. go-smtp
// makes a new one after EHLO and again after STARTTLS.
type session struct {
	srv    *Server
	conn   *smtp.Conn
	authed bool
	from   string
	rcpts  []string
}

func (ss *session) vars() vars {
	v := vars{IP: clientIP(ss.conn.Conn()), Host: ss.srv.hostname, From: ss.from}
	if n := len(ss.rcpts); n > 0 {
		v.Rcpt = ss.rcpts[n-1]
	}
	return v
}

func (ss *session) inTLS() bool {
	_, ok := ss.conn.TLSConnectionState()
	return ok
}

// AuthMechanisms implements smtp.AuthSession. go-smtp only advertises and
// accepts them inside TLS (AllowInsecureAuth is false), like Postfix with
// smtpd_tls_auth_only=yes.
func (ss *session) AuthMechanisms() []string {
	if !ss.srv.b.offerAuth {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

// Auth implements smtp.AuthSession.
func (ss *session) Auth(mech string) (sasl.Server, error) {
	if !ss.srv.b.offerAuth {
		return nil, smtp.ErrAuthUnsupported
	}
	check := func(username, password string) error {
		if ss.srv.b.authFail == nil && username == DemoUser && password == DemoPassword {
			ss.authed = true
			ss.srv.logf("scenario %s: AUTH %s succeeded for %q", ss.srv.Scenario.Name, mech, username)
			return nil
		}
		tmpl := ss.srv.b.authFail
		if tmpl == nil {
			tmpl = defaultAuthFailTemplate
		}
		return replyError(expandAll(tmpl, ss.vars()))
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, username, password string) error {
			return check(username, password)
		}), nil
	case sasl.Login:
		return saslserver.NewLoginServer(check), nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// Mail implements smtp.Session.
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	b := ss.srv.b
	ss.from = from
	ss.rcpts = nil
	switch {
	case b.requireTLS != nil && !ss.inTLS():
		return replyError(expandAll(b.requireTLS, ss.vars()))
	case b.requireAuth != nil && !ss.authed:
		return replyError(expandAll(b.requireAuth, ss.vars()))
	case b.mail != nil:
		return replyError(expandAll(b.mail.reply, ss.vars()))
	}
	return nil
}

// Rcpt implements smtp.Session.
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	r := ss.srv.b.rcpt
	if r.firesForAddress(to) {
		v := ss.vars()
		v.Rcpt = to
		return replyError(expandAll(r.reply, v))
	}
	ss.rcpts = append(ss.rcpts, to)
	return nil
}

// Data implements smtp.Session. The message is read to its end (go-smtp
// requires it), keeping only the first captureLimit bytes for the checks.
func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, captureLimit))
	if err == nil {
		var rest int64
		rest, err = io.Copy(io.Discard, r)
		n += rest
	}
	if err != nil {
		return fmt.Errorf("reading message: %w", err)
	}
	b := ss.srv.b
	if b.eod.firesForMessage(buf.Bytes(), n, b.maxBytes) {
		return replyError(expandAll(b.eod.reply, ss.vars()))
	}
	v := ss.vars()
	v.QueueID = ss.srv.nextQueueID()
	ss.srv.logf("scenario %s: accepted %d bytes as %s", ss.srv.Scenario.Name, n, v.QueueID)
	// go-smtp answers a nil error with its own "250 2.0.0 OK: queued"; the
	// real wording with the queue id is sent by handing it a 250 "error",
	// which it writes out verbatim.
	return replyError(expandAll(okReplyTemplate, v))
}

// Reset implements smtp.Session.
func (ss *session) Reset() {
	ss.from = ""
	ss.rcpts = nil
}

// Logout implements smtp.Session.
func (ss *session) Logout() error { return nil }

// replyError turns full reply lines into the *smtp.SMTPError go-smtp writes
// out: every line but the last goes into the message as it is (it carries
// its own enhanced code, as Gmail's do), the last line's enhanced code, if
// any, becomes EnhancedCode.
func replyError(lines []string) *smtp.SMTPError {
	if len(lines) == 0 {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: scenario has an empty reply"}
	}
	last, err := parseReplyLine(lines[len(lines)-1])
	if err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: scenario has a bad reply line"}
	}
	var msg strings.Builder
	for _, l := range lines[:len(lines)-1] {
		p, err := parseReplyLine(l)
		if err != nil {
			continue
		}
		if p.Enhanced != "" {
			msg.WriteString(p.Enhanced)
			msg.WriteByte(' ')
		}
		msg.WriteString(p.Text)
		msg.WriteByte('\n')
	}
	msg.WriteString(last.Text)
	ec := smtp.NoEnhancedCode
	if last.Enhanced != "" {
		var a, b, c int
		if _, err := fmt.Sscanf(last.Enhanced, "%d.%d.%d", &a, &b, &c); err == nil {
			ec = smtp.EnhancedCode{a, b, c}
		}
	}
	return &smtp.SMTPError{Code: last.Code, EnhancedCode: ec, Message: msg.String()}
}
