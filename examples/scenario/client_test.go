package scenario

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// probeArgs is what the test client understands of a scenario's Args (the
// swaks long options the catalogue uses).
type probeArgs struct {
	from, data, body   string
	to                 []string
	tls, noTLS         bool
	authUser, authPass string
	timeout            time.Duration
}

func parseProbeArgs(t *testing.T, args []string) probeArgs {
	t.Helper()
	p := probeArgs{timeout: 5 * time.Second}
	for _, a := range args {
		name, val, _ := strings.Cut(a, "=")
		switch name {
		case "--from":
			p.from = val
		case "--to":
			p.to = strings.Split(val, ",")
		case "--tls":
			p.tls = true
		case "--no-tls":
			p.noTLS = true
		case "--auth-user":
			p.authUser = val
		case "--auth-password":
			p.authPass = val
		case "--data":
			p.data = val
		case "--body":
			p.body = val
		case "--timeout":
			d, err := time.ParseDuration(val)
			if err != nil {
				t.Fatalf("bad --timeout in Args: %v", err)
			}
			p.timeout = d
		default:
			t.Fatalf("test client does not know option %q", a)
		}
	}
	return p
}

// message builds the test message like swaks: --data whole (with "\n"
// escapes), else default headers around --body.
func (p probeArgs) message() string {
	var m string
	switch {
	case p.data != "":
		m = strings.ReplaceAll(p.data, `\n`, "\n")
	default:
		body := p.body
		if body == "" {
			body = "This is a test mailing"
		}
		m = "Date: Tue, 14 May 2024 09:30:00 +0000\n" +
			"To: " + strings.Join(p.to, ", ") + "\n" +
			"From: " + p.from + "\n" +
			"Subject: test Tue, 14 May 2024 09:30:00 +0000\n" +
			"Message-Id: <20240514093000.1@client.test>\n" +
			"X-Mailer: scenario test client\n\n" + body + "\n"
	}
	m = strings.ReplaceAll(strings.ReplaceAll(m, "\r\n", "\n"), "\n", "\r\n")
	if !strings.HasSuffix(m, "\r\n") {
		m += "\r\n"
	}
	return m
}

// outcome is where a session stopped and why.
type outcome struct {
	phase    string   // failing phase, "" when the message was accepted
	code     int      // failing reply code (0: timeout or garbage)
	lines    []string // failing reply lines, or the final reply on success
	timeout  bool
	garbage  string   // the unparsable line, if any
	refused  []string // lines of the last refused RCPT (partial acceptance)
	accepted int      // recipients accepted
	injected bool     // data was buffered behind the STARTTLS reply
}

// testClient is the test's own minimal SMTP client, following the probe's
// sequence: banner, EHLO, STARTTLS (--tls), AUTH PLAIN, MAIL, RCPT..., DATA,
// message, QUIT.
type testClient struct {
	t       *testing.T
	conn    net.Conn
	r       *bufio.Reader
	timeout time.Duration
}

var errGarbage = errors.New("unparsable reply")

type garbageError struct{ line string }

func (g garbageError) Error() string { return "unparsable reply line " + fmt.Sprintf("%q", g.line) }
func (g garbageError) Unwrap() error { return errGarbage }

func (s *testClient) readReply() (int, []string, error) {
	if err := s.conn.SetReadDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, nil, err
	}
	var lines []string
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			return 0, lines, err
		}
		line = strings.TrimRight(line, "\r\n")
		p, err := parseReplyLine(line)
		if err != nil {
			return 0, nil, garbageError{line}
		}
		lines = append(lines, line)
		if !p.More {
			return p.Code, lines, nil
		}
	}
}

func (s *testClient) cmd(line string) (int, []string, error) {
	if err := s.conn.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, nil, err
	}
	if _, err := fmt.Fprintf(s.conn, "%s\r\n", line); err != nil {
		return 0, nil, err
	}
	return s.readReply()
}

// fail turns a step's result into an outcome, or nil when the step passed.
func fail(phase string, code int, lines []string, err error, okCode int) *outcome {
	var ne net.Error
	var ge garbageError
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return &outcome{phase: phase, timeout: true}
	case errors.As(err, &ge):
		return &outcome{phase: phase, garbage: ge.line}
	case err != nil:
		return &outcome{phase: phase, lines: []string{"connection error: " + err.Error()}}
	case code != okCode:
		return &outcome{phase: phase, code: code, lines: lines}
	}
	return nil
}

func runSession(t *testing.T, addr string, sc Scenario, roots *x509.CertPool) outcome {
	t.Helper()
	p := parseProbeArgs(t, sc.Args)
	conn, err := net.DialTimeout("tcp", addr, p.timeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	s := &testClient{t: t, conn: conn, r: bufio.NewReader(conn), timeout: p.timeout}

	code, lines, err := s.readReply()
	if o := fail(phaseBanner, code, lines, err, 220); o != nil {
		return *o
	}
	code, lines, err = s.cmd("EHLO client.test")
	if o := fail(phaseHelo, code, lines, err, 250); o != nil {
		return *o
	}
	if p.tls {
		if !hasCap(lines, "STARTTLS") {
			return outcome{phase: phaseStartTLS}
		}
		code, lines, err = s.cmd("STARTTLS")
		if o := fail(phaseStartTLS, code, lines, err, 220); o != nil {
			return *o
		}
		if s.r.Buffered() > 0 {
			// Anything after the 220 came in plaintext and would be read
			// as if it came through TLS: refuse, like the probe must.
			extra, _ := s.r.Peek(s.r.Buffered())
			return outcome{phase: phaseStartTLS, code: code, lines: append(lines, strings.TrimRight(string(extra), "\r\n")), injected: true}
		}
		tc := tls.Client(conn, &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			return outcome{phase: phaseStartTLS, lines: []string{"handshake: " + err.Error()}}
		}
		s.conn, s.r = tc, bufio.NewReader(tc)
		code, lines, err = s.cmd("EHLO client.test")
		if o := fail(phaseHelo, code, lines, err, 250); o != nil {
			return *o
		}
	}
	if p.authUser != "" {
		ir := base64.StdEncoding.EncodeToString([]byte("\x00" + p.authUser + "\x00" + p.authPass))
		code, lines, err = s.cmd("AUTH PLAIN " + ir)
		if o := fail(phaseAuth, code, lines, err, 235); o != nil {
			return *o
		}
	}
	code, lines, err = s.cmd("MAIL FROM:<" + p.from + ">")
	if o := fail(phaseMail, code, lines, err, 250); o != nil {
		return *o
	}
	var res outcome
	var lastRefusal *outcome
	for _, to := range p.to {
		code, lines, err = s.cmd("RCPT TO:<" + to + ">")
		if o := fail(phaseRcpt, code, lines, err, 250); o != nil {
			if o.timeout || o.garbage != "" || o.code == 0 {
				return *o
			}
			lastRefusal = o
			res.refused = o.lines
			continue
		}
		res.accepted++
	}
	if res.accepted == 0 {
		return *lastRefusal
	}
	code, lines, err = s.cmd("DATA")
	if o := fail(phaseData, code, lines, err, 354); o != nil {
		return *o
	}
	msg := p.message()
	// Dot-stuff lines that start with a dot.
	msg = strings.ReplaceAll(msg, "\r\n.", "\r\n..")
	if strings.HasPrefix(msg, ".") {
		msg = "." + msg
	}
	code, lines, err = s.cmd(msg + ".")
	if o := fail(phaseEndOfData, code, lines, err, 250); o != nil {
		return *o
	}
	res.lines = lines
	if _, _, err := s.cmd("QUIT"); err != nil {
		t.Logf("QUIT: %v", err)
	}
	return res
}

func hasCap(ehlo []string, capability string) bool {
	for _, l := range ehlo[1:] {
		p, err := parseReplyLine(l)
		if err == nil && strings.EqualFold(strings.Fields(p.Text + " x")[0], capability) {
			return true
		}
	}
	return false
}

// exitFor maps a failing phase to the probe's exit code (DESIGN.md).
func exitFor(phase string) int {
	switch phase {
	case "":
		return exitOK
	case phaseBanner:
		return exitBanner
	case phaseHelo:
		return exitHelo
	case phaseStartTLS:
		return exitTLS
	case phaseAuth:
		return exitAuth
	case phaseMail:
		return exitMail
	case phaseRcpt:
		return exitRcpt
	case phaseData:
		return exitData
	case phaseEndOfData:
		return exitEndOfData
	}
	return -1
}

// rootsFor trusts a server's self-signed certificate.
func rootsFor(s *Server) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate)
	return pool
}

// testLogf sends server logs to the test log only when SCENARIO_LOG is set,
// to keep failures readable.
func testLogf(t *testing.T) func(string, ...any) {
	if os.Getenv("SCENARIO_LOG") == "" {
		return nil
	}
	return t.Logf
}
