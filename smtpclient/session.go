package smtpclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// Result is everything a session learned.
type Result struct {
	ExitCode int
	Phase    string // failed phase, or the last one reached on success
	Command  string // the command that failed (redacted)
	Reply    *Reply // the failing reply, or the final reply after the dot on success
	Err      error  // what went wrong when it was not a refusal (timeout, garbage, TLS...)

	Host       string // the host used
	Address    string // the IP:port connected to
	LocalAddr  string
	Candidates []transcript.Candidate
	Steps      []transcript.Step
	RoundTrips int
	TLS        *transcript.TLSInfo
	// TLSFallback is set when an opportunistic STARTTLS handshake failed
	// and the session went on in clear (TLSOptional only).
	TLSFallback *TLSFallback
	// Warnings are findings that did not end the session (TLS
	// downgrades, AUTH only in clear, a peer certificate file not
	// written): transcript.Report.Warnings.
	Warnings []transcript.Warning

	Banner        *Reply
	ServerName    string            // first word of the banner text
	Extensions    map[string]string // EHLO keywords (upper case) → parameters, the last EHLO's
	AuthMechs     []string          // advertised AUTH mechanisms (last EHLO)
	PreTLSAuth    []string          // AUTH mechanisms advertised before STARTTLS
	StartTLS      bool              // STARTTLS was advertised
	TLSActive     bool
	Authenticated bool
	EHLOName      string

	// AuthProbe is the server's answer to a credential-less AUTH command
	// (Config.AuthProbe); AuthProbeMech the mechanism tried.
	AuthProbe     *Reply
	AuthProbeMech string

	Accepted    []string
	Rejected    []string
	RcptReplies map[string]*Reply
	// RefusedAfterData are the recipients refused after the final dot (LMTP
	// replies per recipient there), not at RCPT.
	RefusedAfterData []string
	QueueID          string
	MessageFate      string
	StoppedAfter     string
	Dropped          bool // stopped by --drop-after: closed without QUIT
}

// TLSFallback records a failed opportunistic handshake and how the session
// went on in clear.
type TLSFallback = transcript.TLSFallback

// How a session goes on after a failed opportunistic handshake.
const (
	FallbackReconnected    = "reconnected"
	FallbackSameConnection = "same-connection"
)

// OK reports whether the session ended without a failure.
func (r *Result) OK() bool { return r.ExitCode == ExitOK }

// Run drives a whole session. It always returns a Result; the exit code
// and phase say how it ended. ctx cancellation (Ctrl-C) ends it at once.
func Run(ctx context.Context, cfg Config) *Result {
	cfg.defaults()
	ctx, cancel := context.WithTimeout(ctx, cfg.SessionTimeout)
	defer cancel()
	s := &session{cfg: cfg, rec: cfg.Recorder, ctx: ctx, res: &Result{RcptReplies: map[string]*Reply{}}}
	if err := s.parseTLSOptions(); err != nil {
		s.rec.Errorf("%v", err)
		s.stop(ExitUsage, PhaseConnect, "", nil, err)
		return s.res
	}
	if cfg.TLSMode != TLSNone && (cfg.TLSConfig == nil || cfg.TLSConfig.RootCAs == nil) {
		// Load the roots while connecting: they are needed at the
		// handshake, and loading them is the slowest part of a
		// loopback session.
		s.systemRoots = loadRootsAsync()
	}
	s.run()
	return s.res
}

func verifyText(info *transcript.TLSInfo) string {
	if info.Verified {
		return "verified for " + info.ServerName
	}
	if info.VerifySummary != "" && info.ResultType != "" {
		return fmt.Sprintf("NOT verified (%s): %s", info.ResultType, info.VerifySummary)
	}
	return "NOT verified: " + info.VerifyError
}

// verifyChain checks the peer's chain for name against roots (nil: the
// system's).
func verifyChain(chain []*x509.Certificate, name string, roots *x509.CertPool) error {
	if len(chain) == 0 {
		return errors.New("server sent no certificate")
	}
	opts := x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range chain[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := chain[0].Verify(opts)
	return err
}

type session struct {
	cfg    Config
	rec    *transcript.Recorder
	ctx    context.Context
	res    *Result
	raw    *rawConn
	conn   net.Conn // raw or TLS on top of it
	br     *bufio.Reader
	bw     *bufio.Writer
	tls    bool
	server string // host name used for SNI
	// afterTLS marks the EHLO sent after STARTTLS (exit 32 on refusal).
	afterTLS bool

	mu  sync.Mutex
	cur net.Conn // the connection to unblock on cancellation

	// systemRoots waits for and returns the system's CA roots (nil when
	// the user gave roots or TLS is off).
	systemRoots func() *x509.CertPool

	// versions and ciphers are --tls-protocol and --tls-cipher, parsed.
	versions TLSVersions
	ciphers  TLSCiphers
}

// stop records the end of the session: exit code, phase, error.
func (s *session) stop(code int, phase, command string, reply *Reply, err error) {
	s.res.ExitCode, s.res.Phase, s.res.Command, s.res.Reply, s.res.Err = code, phase, command, reply, err
}

func (s *session) run() {
	stopWatch := context.AfterFunc(s.ctx, func() {
		// Unblock any read or write at once; the error path reports why.
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.cur != nil {
			_ = s.cur.SetDeadline(time.Unix(1, 0))
		}
	})
	defer stopWatch()
	if !s.connect() {
		return
	}
	// A closure: a fallback to clear replaces s.conn with a new
	// connection, and that one must be closed too.
	defer func() { s.conn.Close() }()

	if s.stopAt("connect") {
		return
	}
	if !s.hello() {
		return
	}
	if s.stopAt("first-helo") {
		return
	}
	if s.cfg.TLSMode == TLSRequired || s.cfg.TLSMode == TLSOptional || s.cfg.TLSMode == TLSOptionalStrict {
		if !s.startTLS() {
			return
		}
	}
	if s.stopAt("tls") || s.stopAt("helo") {
		return
	}
	if s.cfg.AuthProbe {
		if !s.authProbe() {
			return
		}
	}
	if s.cfg.Auth {
		if !s.auth() {
			return
		}
	}
	if s.stopAt("auth") {
		return
	}
	s.transaction()
}

// failure turns an I/O or protocol error in phase into the session's end.
func (s *session) failure(phase, command string, err error) {
	code := exitForPhase(phase, s.afterTLS)
	switch {
	case errors.Is(s.ctx.Err(), context.Canceled):
		err = fmt.Errorf("interrupted during %s", phase)
		code = ExitInterrupted
	case errors.Is(s.ctx.Err(), context.DeadlineExceeded) || s.pastSessionDeadline():
		err = fmt.Errorf("session deadline (--session-timeout %s) reached during %s", s.cfg.SessionTimeout, phase)
	case errors.As(err, new(*writeStallError)):
		err = fmt.Errorf("%w, during %s", err, phase)
	case isTimeout(err):
		err = fmt.Errorf("no reply within %s (--timeout) during %s", s.cfg.Timeout, phase)
	case errors.Is(err, errClosed), errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		code = ExitClosed
		if !errors.Is(err, errClosed) {
			err = fmt.Errorf("%w: %v", errClosed, err)
		}
	}
	s.rec.Errorf("%s", err.Error())
	s.stop(code, phase, command, nil, err)
}

// pastSessionDeadline tells a read that timed out because the session
// deadline bounded it from a plain per-reply timeout, even before the
// context's own timer has fired.
func (s *session) pastSessionDeadline() bool {
	d, ok := s.ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded)
}

// deadline arms the per-operation deadline, bounded by the session's.
func (s *session) deadline() {
	d := time.Now().Add(s.cfg.Timeout)
	if sd, ok := s.ctx.Deadline(); ok && sd.Before(d) {
		d = sd
	}
	if s.ctx.Err() != nil {
		d = time.Unix(1, 0)
	}
	_ = s.conn.SetDeadline(d)
	// A cancellation between the check above and SetDeadline would have
	// its past deadline overwritten: look again.
	if s.ctx.Err() != nil {
		_ = s.conn.SetDeadline(time.Unix(1, 0))
	}
}

// deadlineWriter re-arms the deadline before every write to the
// connection, so a long message only fails when the server stops taking
// it for --timeout, not when it takes longer than --timeout in all.
type deadlineWriter struct{ s *session }

func (w deadlineWriter) Write(p []byte) (int, error) {
	w.s.deadline()
	n, err := w.s.conn.Write(p)
	if err != nil && isTimeout(err) && w.s.ctx.Err() == nil && !w.s.pastSessionDeadline() {
		err = &writeStallError{timeout: w.s.cfg.Timeout}
	}
	return n, err
}

// writeStallError is a write that made no progress for --timeout: the
// server stopped reading, which is not the same as not replying.
type writeStallError struct{ timeout time.Duration }

func (e *writeStallError) Error() string {
	return fmt.Sprintf("the server stopped reading: nothing could be sent for %s (--timeout)", e.timeout)
}

// send writes one command line. shown replaces it in the transcript when it
// carries a secret. CR or LF inside a command would let user input inject
// commands, so it is refused here whatever the caller checked.
func (s *session) send(cmd, shown string) error {
	if strings.ContainsAny(cmd, "\r\n") {
		return fmt.Errorf("refusing to send a command containing CR or LF: %q", s.rec.Scrub(cmd))
	}
	if shown != "" {
		s.rec.SentSecret(s.tls, cmd, shown)
	} else {
		s.rec.Sent(s.tls, cmd)
	}
	if _, err := s.bw.WriteString(cmd + "\r\n"); err != nil {
		return err
	}
	return s.bw.Flush()
}

func (s *session) read() (*Reply, error) {
	s.deadline()
	r, err := readReply(s.br, func(line string, code int) {
		s.rec.Received(s.tls, line, code >= 400)
	})
	if r != nil {
		// A server may echo a credential back; the transcript is already
		// scrubbed, and so must be everything else made from the reply.
		for i, l := range r.Lines {
			r.Lines[i] = s.rec.Scrub(l)
		}
	}
	return r, err
}

// exchange sends cmd (unless empty: the banner) and reads the reply,
// recording a step.
func (s *session) exchange(phase, cmd, shown string) (*Reply, error) {
	start := s.rec.Since()
	step := transcript.Step{Phase: phase, Command: cmd, StartedMS: transcript.Millis(start)}
	if shown != "" && !s.rec.ShowSecrets() {
		step.Command = shown
	}
	var err error
	if cmd != "" {
		err = s.send(cmd, shown)
	}
	var r *Reply
	if err == nil {
		r, err = s.read()
		s.res.RoundTrips++
	}
	step.DurationMS = transcript.Millis(s.rec.Since() - start)
	if r != nil {
		step.Reply = &transcript.Reply{Code: r.Code, EnhancedCode: r.Enhanced, Lines: r.Lines}
		if r.Code >= 400 && s.cfg.OnRefusal != nil {
			s.cfg.OnRefusal(append([]string(nil), r.Lines...))
		}
	}
	if err != nil {
		step.Error = s.rec.Scrub(err.Error())
	}
	s.res.Steps = append(s.res.Steps, step)
	return r, err
}

// refused ends the session on a negative reply and says goodbye politely.
func (s *session) refused(phase, cmd string, r *Reply) {
	s.stop(exitForPhase(phase, s.afterTLS), phase, cmd, r, nil)
	if r.Code != 421 {
		s.quitQuietly()
	}
}

// quitQuietly sends QUIT after a failure; its outcome does not change the
// exit code.
func (s *session) quitQuietly() {
	if _, err := s.exchange(PhaseQuit, "QUIT", ""); err != nil {
		s.rec.Infof("QUIT after the failure got no reply: %v", err)
	}
}

// quit ends a session that succeeded.
func (s *session) quit() {
	cmd := "QUIT"
	r, err := s.exchange(PhaseQuit, cmd, "")
	if err != nil {
		s.failure(PhaseQuit, cmd, err)
		return
	}
	if r.Code != 221 {
		s.stop(ExitQuit, PhaseQuit, cmd, r, nil)
		return
	}
	if s.res.Phase == "" {
		s.res.Phase = PhaseQuit
	}
}

// connect tries each candidate host and address until one gives a banner
// that lets the session go on; a later host is tried, as an MTA would, when
// the connection fails, the server stays silent or closes, or the banner is
// not 2xx (Postfix's smtp_skip_5xx_greeting does the same).
func (s *session) connect() bool {
	var lastFail func()
	multiple := len(s.cfg.Hosts) > 1
	for hi, h := range s.cfg.Hosts {
		ips, err := s.resolve(h.Name)
		if err != nil {
			s.rec.Errorf("cannot resolve %s: %v", h.Name, err)
			s.res.Candidates = append(s.res.Candidates, transcript.Candidate{Host: h.Name, Preference: h.Preference, Outcome: "resolve failed: " + err.Error()})
			e := err
			lastFail = func() { s.stop(ExitConnect, PhaseConnect, "", nil, fmt.Errorf("cannot resolve %s: %w", h.Name, e)) }
			if s.ctx.Err() != nil {
				break
			}
			continue
		}
		for ai, ip := range ips {
			last := hi == len(s.cfg.Hosts)-1 && ai == len(ips)-1
			addr := net.JoinHostPort(ip.String(), strconv.Itoa(s.cfg.Port))
			cand := transcript.Candidate{Host: h.Name, Preference: h.Preference, Address: addr}
			ok, fail := s.tryAddress(h, addr, multiple || len(ips) > 1, last)
			if ok {
				cand.Outcome = "used"
				s.res.Candidates = append(s.res.Candidates, cand)
				return true
			}
			cand.Outcome = fail.reason
			s.res.Candidates = append(s.res.Candidates, cand)
			lastFail = fail.apply
			if fail.final || s.ctx.Err() != nil {
				fail.apply()
				return false
			}
		}
	}
	if lastFail == nil {
		s.stop(ExitConnect, PhaseConnect, "", nil, errors.New("no host to connect to"))
		s.rec.Errorf("no host to connect to")
		return false
	}
	lastFail()
	return false
}

type connectFailure struct {
	reason string
	final  bool // do not try other candidates (the user asked to stop here, or a banner was accepted)
	apply  func()
}

func (s *session) resolve(host string) ([]net.IP, error) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	h = strings.TrimPrefix(h, "IPv6:")
	if ip := net.ParseIP(h); ip != nil {
		if (s.cfg.Network == "tcp4" && ip.To4() == nil) || (s.cfg.Network == "tcp6" && ip.To4() != nil) {
			return nil, fmt.Errorf("%s is not an %s address", h, map[string]string{"tcp4": "IPv4", "tcp6": "IPv6"}[s.cfg.Network])
		}
		return []net.IP{ip}, nil
	}
	network := map[string]string{"tcp": "ip", "tcp4": "ip4", "tcp6": "ip6"}[s.cfg.Network]
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	ips, err := s.cfg.Resolver.LookupIP(ctx, network, host)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, fmt.Errorf("no %s address", network)
	}
	return ips, nil
}

// tryAddress connects to one address and reads the banner.
func (s *session) tryAddress(h Host, addr string, canMoveOn, last bool) (bool, connectFailure) {
	s.rec.Infof("Trying %s (%s)...", addr, h.Name)
	d, err := s.dialer()
	if err != nil {
		return false, connectFailure{reason: err.Error(), final: true, apply: func() {
			s.rec.Errorf("%v", err)
			s.stop(ExitConnect, PhaseConnect, "", nil, err)
		}}
	}
	start := s.rec.Since()
	c, err := d.DialContext(s.ctx, s.cfg.Network, addr)
	if err != nil {
		s.rec.Errorf("cannot connect to %s: %v", addr, unwrapOpError(err))
		return false, connectFailure{reason: "connect failed: " + unwrapOpError(err).Error(), apply: func() {
			switch {
			case errors.Is(s.ctx.Err(), context.Canceled):
				s.stop(ExitInterrupted, PhaseConnect, "", nil, fmt.Errorf("interrupted while connecting to %s", addr))
			case s.ctx.Err() != nil:
				s.stop(ExitConnect, PhaseConnect, "", nil, fmt.Errorf("cannot connect to %s: %w", addr, s.ctx.Err()))
			default:
				s.stop(ExitConnect, PhaseConnect, "", nil, fmt.Errorf("cannot connect to %s: %w", addr, err))
			}
		}}
	}
	s.attach(c)
	s.server = h.Name
	s.res.Host, s.res.Address, s.res.LocalAddr = h.Name, c.RemoteAddr().String(), c.LocalAddr().String()
	s.rec.Infof("Connected to %s (%s) from %s in %.1f ms", h.Name, c.RemoteAddr(), c.LocalAddr(), transcript.Millis(s.rec.Since()-start))
	s.egress()

	if s.cfg.FirstConnectionFinal {
		canMoveOn = false
	}
	if s.cfg.TLSMode == TLSImplicit {
		if err := s.handshake(true); err != nil {
			s.raw.Close()
			return false, connectFailure{reason: "TLS failed", final: true, apply: func() {}}
		}
	}
	r, err := s.exchange(PhaseBanner, "", "")
	if err != nil {
		s.conn.Close()
		e := err
		return false, connectFailure{reason: "no banner: " + err.Error(), final: !canMoveOn || last, apply: func() { s.failure(PhaseBanner, "", e) }}
	}
	s.res.Banner = r
	if fields := strings.Fields(r.Text()); len(fields) > 0 {
		s.res.ServerName = fields[0]
	}
	if r.Code != 220 {
		// Reject the banner: QUIT politely, close, maybe move on.
		rr := r
		if canMoveOn && !last && r.Code/100 != 2 {
			s.quitQuietly()
			s.conn.Close()
			return false, connectFailure{reason: fmt.Sprintf("banner refused: %d", r.Code), apply: func() { s.stop(ExitBanner, PhaseBanner, "", rr, nil) }}
		}
		s.refused(PhaseBanner, "", r)
		s.conn.Close()
		return false, connectFailure{reason: fmt.Sprintf("banner refused: %d", r.Code), final: true, apply: func() {}}
	}
	return true, connectFailure{}
}

// dialer is the net.Dialer of every connection of the session.
func (s *session) dialer() (*net.Dialer, error) {
	d := &net.Dialer{Timeout: s.cfg.Timeout}
	if s.cfg.LocalAddr != "" {
		la, err := ParseLocalAddr(s.cfg.LocalAddr)
		if err != nil {
			return nil, fmt.Errorf("--local-interface %q: %w", s.cfg.LocalAddr, err)
		}
		d.LocalAddr = la
	}
	return d, nil
}

// attach makes c the session's connection, in clear.
func (s *session) attach(c net.Conn) {
	s.raw = &rawConn{Conn: c}
	s.conn = s.raw
	s.tls = false
	s.mu.Lock()
	s.cur = c
	s.mu.Unlock()
	s.br = bufio.NewReader(s.conn)
	s.bw = bufio.NewWriterSize(deadlineWriter{s}, 16*1024)
}

func unwrapOpError(err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err
	}
	return err
}

// ParseLocalAddr reads a source address for the connection: IP, IP:port,
// [IPv6]:port, or :port alone (any local address, that port).
func ParseLocalAddr(s string) (*net.TCPAddr, error) {
	host, port := s, "0"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	if ip == nil && host != "" {
		return nil, errors.New("want an IP address of this machine, optionally with :port")
	}
	pn, err := strconv.Atoi(port)
	if err != nil || pn < 0 || pn > 65535 {
		return nil, fmt.Errorf("bad port %q", port)
	}
	return &net.TCPAddr{IP: ip, Port: pn}, nil
}

// egress settles the EHLO name once the first connection is made and
// reports it with the local IP (OnEgress), before the banner is read: a
// refused greeting is exactly when the sender checks are wanted.
func (s *session) egress() {
	if s.res.EHLOName != "" {
		return
	}
	s.res.EHLOName = s.cfg.EHLOName
	if s.res.EHLOName == "" {
		s.res.EHLOName = DefaultEHLOName(s.ctx, s.conn.LocalAddr())
	}
	if s.cfg.OnEgress != nil {
		ip := ""
		if ta, ok := s.conn.LocalAddr().(*net.TCPAddr); ok {
			ip = ta.IP.String()
		}
		s.cfg.OnEgress(ip, s.res.EHLOName)
	}
}

// hello sends EHLO (falling back to HELO) or LHLO and records extensions.
func (s *session) hello() bool {
	s.egress()
	verb := "EHLO"
	switch s.cfg.Protocol {
	case "smtp":
		verb = "HELO"
	case "lmtp":
		verb = "LHLO"
	}
	cmd := verb + " " + s.res.EHLOName
	r, err := s.exchange(PhaseHelo, cmd, "")
	if err != nil {
		s.failure(PhaseHelo, cmd, err)
		return false
	}
	notUnderstood := (r.Code == 500 || r.Code == 502 || r.Code == 550 || r.Code == 554) && !s.afterTLS
	if r.Code != 250 && verb == "EHLO" && (notUnderstood || s.cfg.HELOAfterAnyEHLORefusal) {
		s.rec.Infof("EHLO refused; falling back to HELO (RFC 5321 §4.1.4)")
		cmd = "HELO " + s.res.EHLOName
		r, err = s.exchange(PhaseHelo, cmd, "")
		if err != nil {
			s.failure(PhaseHelo, cmd, err)
			return false
		}
	}
	if r.Code != 250 {
		s.refused(PhaseHelo, cmd, r)
		return false
	}
	s.res.Extensions = map[string]string{}
	s.res.AuthMechs = nil
	if strings.HasPrefix(cmd, "EHLO") || strings.HasPrefix(cmd, "LHLO") {
		for _, l := range r.Lines[1:] {
			if len(l) < 5 {
				continue
			}
			kw, params, _ := strings.Cut(l[4:], " ")
			kw = strings.ToUpper(strings.TrimSpace(kw))
			s.res.Extensions[kw] = params
			if kw == "AUTH" || kw == "AUTH=LOGIN" {
				s.res.AuthMechs = append(s.res.AuthMechs, strings.Fields(strings.ToUpper(params))...)
				if kw == "AUTH=LOGIN" {
					s.res.AuthMechs = append(s.res.AuthMechs, "LOGIN")
				}
			}
		}
	}
	if !s.tls {
		_, s.res.StartTLS = s.res.Extensions["STARTTLS"]
		s.res.PreTLSAuth = s.res.AuthMechs
	}
	return true
}

// startTLS runs STARTTLS according to the mode and the EHLO that follows.
func (s *session) startTLS() bool {
	_, offered := s.res.Extensions["STARTTLS"]
	if !offered {
		if s.cfg.TLSMode == TLSRequired {
			err := errors.New("TLS is required (--tls) but the server does not advertise STARTTLS; nothing more was sent")
			s.noStartTLS("the server does not offer STARTTLS (its EHLO reply does not list it)")
			s.rec.Errorf("%v", err)
			s.stop(ExitTLS, PhaseStartTLS, "", nil, err)
			s.quitQuietly()
			return false
		}
		s.rec.Infof("STARTTLS not offered; going on in clear (--tls to require it)")
		return true
	}
	cmd := "STARTTLS"
	r, err := s.exchange(PhaseStartTLS, cmd, "")
	if err != nil {
		s.failure(PhaseStartTLS, cmd, err)
		return false
	}
	if r.Code != 220 {
		if s.cfg.TLSMode == TLSRequired || s.cfg.TLSMode == TLSOptionalStrict {
			s.noStartTLS("the server offers STARTTLS but refused it: " + strings.Join(r.Lines, " / "))
			s.refused(PhaseStartTLS, cmd, r)
			return false
		}
		s.rec.Infof("STARTTLS refused; going on in clear (--tls to require it)")
		s.warn(WarnStartTLSRefusedInClear, fmt.Sprintf("the server offered STARTTLS but answered %d to it, and the session went on in clear: a server that cannot start TLS it advertises (or a man in the middle refusing it) leaves the mail unencrypted", r.Code),
			"EHLO advertised STARTTLS", "STARTTLS -> "+strings.Join(r.Lines, " / "))
		return true
	}
	if n := s.br.Buffered(); n > 0 {
		// RFC 3207 §5 / CVE-2011-0411: bytes behind the 220 were sent
		// before the handshake, so they are not protected by TLS; a server
		// (or a man in the middle) that does this could inject replies.
		junk, _ := s.br.Peek(n)
		err := fmt.Errorf("STARTTLS response injection: the server sent %d bytes after its 220 reply and before the TLS handshake (%q); refusing to go on", n, clip(string(junk)))
		s.rec.Errorf("%v", err)
		s.stop(ExitTLS, PhaseStartTLS, cmd, r, err)
		return false
	}
	if err := s.handshake(false); err != nil {
		return s.tlsFallback(err)
	}
	s.afterTLS = true
	s.res.Extensions = nil
	if !s.hello() {
		return false
	}
	s.authOnlyInClear()
	return true
}

// tlsFallback decides what follows a failed STARTTLS handshake (handshake
// has already recorded it and ended the session). Opportunistic TLS does
// what MTAs do when the handshake breaks (Exim's tls_tempfail_tryclear,
// Postfix's "may" level after a failed handshake on the next attempt): the
// failure becomes a finding, and a new connection without STARTTLS
// finishes the session in clear, so the outcome is the server's answer to
// the mail. swaks's --tls-optional goes on on the same connection instead.
// Required and strict modes, a --tls-verify refusal, a deadline and an
// interruption stay failures.
func (s *session) tlsFallback(hsErr error) bool {
	if s.cfg.TLSMode != TLSOptional || s.ctx.Err() != nil || s.pastSessionDeadline() {
		return false
	}
	swaks := s.cfg.TLSFailSameConnection
	switch {
	case swaks:
		// swaks goes on whatever broke the handshake, a --tls-verify
		// refusal included (its start_tls fails, -tlso carries on).
	case errors.Is(hsErr, errVerifyRefused):
		return false // the user asked for a verified certificate
	case s.cfg.QuitAfter == "tls":
		// --quit-after tls is a TLS check: going on in clear would
		// turn a failed check into exit 0.
		return false
	case localPortFixed(s.cfg.LocalAddr):
		// The first connection's source port is in TIME_WAIT: a second
		// connection from it cannot be made, and the failure is TLS's.
		s.rec.Infof("Not reconnecting in clear: the source port is fixed (--local-port or --local-interface IP:port), and a second connection from it cannot be made yet")
		return false
	}
	fb := &TLSFallback{Reason: s.rec.Scrub(hsErr.Error()), ResultType: TLSResultType(hsErr)}
	s.res.TLSFallback = fb
	s.stop(ExitOK, "", "", nil, nil)
	if swaks {
		fb.Action = FallbackSameConnection
		s.rec.Errorf("STARTTLS attempted but failed; going on in clear on the same connection (--tls-optional, as swaks does)")
		s.conn, s.tls = s.raw, false
		s.br = bufio.NewReader(s.conn)
		s.bw = bufio.NewWriterSize(deadlineWriter{s}, 16*1024)
		return true
	}
	fb.Action = FallbackReconnected
	s.rec.Infof("Opportunistic TLS failed (RFC 8460 %s); reconnecting to finish the session in clear, as MTAs do (--tls-optional-strict stops here instead)", fb.ResultType)
	s.conn.Close()
	d, err := s.dialer()
	if err != nil {
		s.failure(PhaseConnect, "", err)
		return false
	}
	start := s.rec.Since()
	s.rec.Infof("Trying %s (%s) again, without STARTTLS...", s.res.Address, s.server)
	c, err := d.DialContext(s.ctx, s.cfg.Network, s.res.Address)
	if err != nil {
		s.rec.Errorf("cannot connect to %s: %v", s.res.Address, unwrapOpError(err))
		if errors.Is(s.ctx.Err(), context.Canceled) {
			s.stop(ExitInterrupted, PhaseConnect, "", nil, fmt.Errorf("interrupted while reconnecting to %s", s.res.Address))
			return false
		}
		s.stop(ExitConnect, PhaseConnect, "", nil, fmt.Errorf("reconnecting in clear after the failed TLS handshake: cannot connect to %s: %w", s.res.Address, unwrapOpError(err)))
		return false
	}
	s.attach(c)
	s.res.LocalAddr = c.LocalAddr().String()
	s.rec.Infof("Connected to %s (%s) from %s in %.1f ms", s.server, c.RemoteAddr(), c.LocalAddr(), transcript.Millis(s.rec.Since()-start))
	r, err := s.exchange(PhaseBanner, "", "")
	if err != nil {
		s.failure(PhaseBanner, "", err)
		return false
	}
	if r.Code != 220 {
		s.refused(PhaseBanner, "", r)
		return false
	}
	s.res.Banner = r
	if fields := strings.Fields(r.Text()); len(fields) > 0 {
		s.res.ServerName = fields[0]
	}
	s.afterTLS = false
	if !s.hello() {
		return false
	}
	if !s.res.StartTLS {
		s.warn(WarnStartTLSDroppedOnReconnect, "the server offered STARTTLS on the first connection but not on the reconnection: a server (or a man in the middle) that stops offering STARTTLS strips TLS from the mail",
			"first connection: EHLO advertised STARTTLS", "reconnection: EHLO without STARTTLS: "+strings.Join(s.lastHeloLines(), " / "))
	}
	return true
}

// localPortFixed reports whether a --local-interface value names a source
// port.
func localPortFixed(local string) bool {
	la, err := ParseLocalAddr(local)
	return local != "" && err == nil && la.Port != 0
}

// errVerifyRefused marks a handshake that failed because --tls-verify
// refused the certificate: the user asked for that, so no fallback.
var errVerifyRefused = errors.New("certificate verification failed (--tls-verify)")

// handshake runs the TLS client handshake on the raw connection, at
// connect (implicit TLS) or after STARTTLS. The certificate is always
// verified and the result recorded; only --tls-verify makes a failure
// abort the session.
func (s *session) handshake(atConnect bool) error {
	var cfg *tls.Config
	if s.cfg.TLSConfig != nil {
		cfg = s.cfg.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{}
	}
	name := s.cfg.TLSServerName
	if name == "" {
		name = strings.TrimSuffix(s.server, ".")
	}
	if net.ParseIP(strings.Trim(name, "[]")) == nil {
		cfg.ServerName = name
	}
	s.versions.apply(cfg)
	if s.ciphers.Suites != nil {
		cfg.CipherSuites = s.ciphers.Suites
	}
	info := &transcript.TLSInfo{ServerName: name, SNI: cfg.ServerName, PeerCertificates: []transcript.CertInfo{}, NameChecked: strings.TrimSuffix(s.server, ".")}
	roots := cfg.RootCAs
	var chain []*x509.Certificate
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		chain = cs.PeerCertificates
		for _, c := range cs.PeerCertificates {
			info.PeerCertificates = append(info.PeerCertificates, certInfo(c))
		}
		if len(chain) > 0 {
			m := nameMatches(chain[0], info.NameChecked)
			info.NameMatches = &m
		}
		if roots == nil && s.systemRoots != nil {
			roots = s.systemRoots()
		}
		verr := verifyChain(cs.PeerCertificates, strings.Trim(name, "[]"), roots)
		info.Verified = verr == nil
		info.VerifySummary = verifySummary(verr, chain, strings.Trim(name, "[]"), time.Now())
		if verr != nil {
			info.VerifyError = verr.Error()
			info.ResultType = transcript.NullString(TLSResultType(verr))
		}
		// A gap in --tls-protocol (tlsv1,tlsv1_2) is outside what
		// MinVersion/MaxVersion can say: refuse the version here.
		if !s.versions.Allows(cs.Version) {
			return fmt.Errorf("the server chose %s, which --tls-protocol %q excludes", tls.VersionName(cs.Version), s.cfg.TLSProtocol)
		}
		if verr != nil && s.cfg.TLSVerify {
			return fmt.Errorf("%w: %w", errVerifyRefused, verr)
		}
		return nil
	}
	s.res.TLS = info
	if r := s.tlsRestrictions(); r != "" {
		s.rec.Infof("TLS restricted: %s", r)
	}
	if cfg.ServerName != "" {
		s.rec.Infof("Starting TLS handshake (SNI %s)...", cfg.ServerName)
	} else {
		s.rec.Infof("Starting TLS handshake (no SNI: %s is an IP address)...", name)
	}
	tc := tls.Client(s.raw, cfg)
	s.deadline()
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.Timeout)
	defer cancel()
	start := s.rec.Since()
	err := tc.HandshakeContext(ctx)
	// The chain is written whether or not the handshake went through: a
	// refused certificate is when it is wanted most.
	s.savePeerChain(chain)
	// The handshake at connect belongs to the connect phase: no STARTTLS
	// was sent, and a report that says so would send the admin looking
	// at the wrong setting.
	phase, what := PhaseStartTLS, "TLS handshake"
	if atConnect {
		phase, what = PhaseConnect, "TLS handshake at connect (implicit TLS)"
	}
	step := transcript.Step{Phase: phase, Command: "(" + what + ")", StartedMS: transcript.Millis(start), DurationMS: transcript.Millis(s.rec.Since() - start)}
	if err != nil {
		step.Error = err.Error()
		s.res.Steps = append(s.res.Steps, step)
		e := fmt.Errorf("%s with %s failed: %w", what, s.server, err)
		if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
			e = fmt.Errorf("%s with %s did not finish within %s: %w", what, s.server, s.cfg.Timeout, os.ErrDeadlineExceeded)
		} else if r := s.tlsRestrictions(); r != "" && !errors.Is(err, errVerifyRefused) {
			// A server that shares no version or suite with the
			// restriction fails with a bare alert: say what was asked.
			e = fmt.Errorf("%w (restricted to %s)", e, r)
		}
		// The handshake's own failure names the result, even when the
		// certificate had already failed to verify: that is not what
		// stopped TLS (the verify error stays in verify_error).
		info.HandshakeError = e.Error()
		info.ResultType = transcript.NullString(TLSResultType(err))
		if !errors.Is(err, errVerifyRefused) {
			info.VerifySummary = "the TLS handshake failed: " + err.Error()
		}
		s.rec.Errorf("%v", e)
		s.stop(ExitTLS, phase, "", nil, e)
		return e
	}
	s.res.Steps = append(s.res.Steps, step)
	cs := tc.ConnectionState()
	info.Version = tls.VersionName(cs.Version)
	info.Cipher = tls.CipherSuiteName(cs.CipherSuite)
	info.ALPN = cs.NegotiatedProtocol
	s.conn = tc
	s.tls = true
	s.res.TLSActive = true
	s.br = bufio.NewReader(tc)
	s.bw = bufio.NewWriterSize(deadlineWriter{s}, 16*1024)
	s.rec.Infof("TLS started: %s, %s; certificate %s", info.Version, info.Cipher, verifyText(info))
	if len(info.PeerCertificates) > 0 {
		pc := info.PeerCertificates[0]
		s.rec.Infof("TLS peer certificate: subject %q, issuer %q, expires %s", pc.Subject, pc.Issuer, pc.NotAfter.Format("2006-01-02"))
	}
	return nil
}

// auth authenticates, trying advertised mechanisms until one is not
// refused as unknown; a credentials refusal (535) is final, because
// retrying a wrong password on every mechanism only trips fail2ban.
func (s *session) auth() bool {
	if s.cfg.AuthPassword != "" {
		s.rec.AddSecret(s.cfg.AuthPassword)
	}
	optional := s.cfg.AuthOptional || s.cfg.AuthOptionalStrict
	flag := "--auth-optional"
	if s.cfg.AuthOptionalStrict {
		flag = "--auth-optional-strict"
	}
	skip := func(why string) bool {
		s.rec.Infof("Not authenticating: %s; going on without AUTH (%s)", why, flag)
		return true
	}
	// Whether the server offers AUTH at all comes first, as in swaks
	// ("Host did not advertise authentication"): it is the server's
	// answer, and the refusal to send credentials in clear only matters
	// when there is something to send them to.
	if len(s.res.AuthMechs) == 0 && optional {
		return skip("the server does not advertise AUTH")
	}
	if len(s.res.AuthMechs) == 0 {
		msg := "the server does not advertise AUTH"
		if !s.tls && s.res.StartTLS {
			msg += " before STARTTLS; it offers STARTTLS, which usually unlocks AUTH (use --tls)"
		}
		err := errors.New(msg)
		s.rec.Errorf("%v", err)
		s.stop(ExitAuth, PhaseAuth, "", nil, err)
		s.quitQuietly()
		return false
	}
	if !s.tls && !s.cfg.AuthPlaintext {
		if optional {
			return skip("no TLS, and credentials are not sent in clear")
		}
		err := errors.New("refusing to send credentials over a connection without TLS: the server did not give TLS (use --tls or --tls-on-connect, or --auth-plaintext to send them in clear anyway)")
		s.rec.Errorf("%v", err)
		s.stop(ExitAuth, PhaseAuth, "", nil, err)
		s.quitQuietly()
		return false
	}
	if s.tls && s.res.TLS != nil && !s.res.TLS.Verified {
		s.rec.Infof("Note: the credentials go over TLS whose certificate did not verify (%s): a man in the middle could read them; --tls-verify refuses that", s.res.TLS.VerifyError)
	}
	mechs, err := chooseMechs(s.cfg.AuthMechs, s.res.AuthMechs, s.tls)
	if err != nil && optional {
		return skip(err.Error())
	}
	if err != nil {
		s.rec.Errorf("%v", err)
		s.stop(ExitAuth, PhaseAuth, "", nil, err)
		s.quitQuietly()
		return false
	}
	var lastCmd string
	var lastReply *Reply
	for _, mech := range mechs {
		ok, cmd, r, err := s.authWith(mech)
		if err != nil {
			s.failure(PhaseAuth, cmd, err)
			return false
		}
		if ok {
			s.res.Authenticated = true
			return true
		}
		lastCmd, lastReply = cmd, r
		// 504: mechanism not supported after all; anything else is final.
		if r == nil || r.Code != 504 {
			break
		}
	}
	if s.cfg.AuthOptional && lastReply != nil {
		// Plain --auth-optional goes on after a refusal; the strict form
		// only forgives AUTH that could not be tried.
		s.rec.Infof("AUTH was refused; going on without it (--auth-optional)")
		return true
	}
	if lastReply == nil {
		err := errors.New("authentication failed")
		s.stop(ExitAuth, PhaseAuth, lastCmd, nil, err)
		s.quitQuietly()
		return false
	}
	s.refused(PhaseAuth, lastCmd, lastReply)
	return false
}

// authProbe asks the server to start AUTH without giving it anything to
// check, and cancels at once: it tells whether AUTH would be accepted on
// this connection (for example in clear) without risking a credential.
func (s *session) authProbe() bool {
	mech := "PLAIN"
	for _, m := range s.res.AuthMechs {
		if m == "PLAIN" || m == "LOGIN" {
			mech = m
			break
		}
	}
	s.res.AuthProbeMech = mech
	cmd := "AUTH " + mech
	r, err := s.exchange(PhaseAuth, cmd, "")
	if err != nil {
		s.failure(PhaseAuth, cmd, err)
		return false
	}
	s.res.AuthProbe = r
	if r.Code == 334 {
		r2, err := s.exchange(PhaseAuth, "*", "")
		if err != nil {
			s.failure(PhaseAuth, "*", err)
			return false
		}
		if r2.Code/100 == 2 {
			s.rec.Infof("server accepted a cancelled AUTH exchange as success: %d", r2.Code)
		}
	}
	return true
}

func (s *session) authWith(mech string) (bool, string, *Reply, error) {
	client := newSASLClient(mech, s.cfg.AuthUser, s.cfg.AuthPassword)
	name, ir, err := client.Start()
	if err != nil {
		return false, "AUTH " + mech, nil, fmt.Errorf("AUTH %s: %w", mech, err)
	}
	cmd := "AUTH " + name
	shown := cmd
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
			s.rec.AddSecret(enc) // a server that echoes the payload must not leak it
		}
		cmd += " " + enc
		shown += " " + transcript.Redacted
	}
	r, err := s.exchange(PhaseAuth, cmd, shown)
	for rounds := 0; err == nil && r.Code == 334 && rounds < 10; rounds++ {
		challenge, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(r.Text()))
		if derr != nil {
			s.send("*", "")
			return false, shown, nil, &ProtocolError{What: fmt.Sprintf("server sent a 334 challenge that is not base64: %q", clip(r.Text()))}
		}
		resp, cerr := client.Next(challenge)
		if cerr != nil {
			_ = s.send("*", "")
			return false, shown, nil, fmt.Errorf("AUTH %s: %w", mech, cerr)
		}
		enc := base64.StdEncoding.EncodeToString(resp)
		s.rec.AddSecret(enc)
		if mech == "CRAM-MD5" {
			// A server may echo the decoded response ("user digest"):
			// with the challenge, the digest allows an offline guess of
			// the password, so it is a secret too (not the user name).
			if i := strings.LastIndexByte(string(resp), ' '); i >= 0 && i+1 < len(resp) {
				s.rec.AddSecret(string(resp[i+1:]))
			}
		}
		r, err = s.exchange(PhaseAuth, enc, transcript.Redacted)
	}
	if err != nil {
		return false, shown, nil, err
	}
	if r.Code == 334 {
		// Still challenging after ten rounds: cancel (RFC 4954 §4).
		_ = s.send("*", "")
		return false, shown, nil, &ProtocolError{What: "the server kept sending 334 challenges"}
	}
	if r.Code == 235 {
		return true, shown, r, nil
	}
	return false, shown, r, nil
}

// transaction runs MAIL, RCPT, DATA, the message and QUIT.
func (s *session) transaction() {
	var msg io.ReadCloser
	size := int64(-1)
	sending := s.cfg.QuitAfter != "mail" && s.cfg.QuitAfter != "rcpt" && s.cfg.DropAfter != "mail" && s.cfg.DropAfter != "rcpt" && s.cfg.DropAfter != "data"
	if sending && s.cfg.OpenMessage != nil {
		m, sz, err := s.cfg.OpenMessage()
		if err != nil {
			err = fmt.Errorf("cannot open the message: %w", err)
			s.rec.Errorf("%v", err)
			s.stop(ExitUsage, PhaseMail, "", nil, err)
			s.quitQuietly()
			return
		}
		msg, size = m, sz
		defer msg.Close()
	}
	cmd := "MAIL FROM:<" + s.cfg.From + ">"
	if _, ok := s.res.Extensions["SIZE"]; ok && size >= 0 {
		cmd += " SIZE=" + strconv.FormatInt(size, 10)
	}
	if _, ok := s.res.Extensions["8BITMIME"]; ok && s.cfg.EightBitMessage && sending {
		cmd += " BODY=8BITMIME"
	}
	if _, ok := s.res.Extensions["SMTPUTF8"]; ok && ((s.cfg.UTF8Message && sending) || !isASCII(s.cfg.From+strings.Join(s.cfg.To, ""))) {
		cmd += " SMTPUTF8"
	}
	r, err := s.exchange(PhaseMail, cmd, "")
	if err != nil {
		s.failure(PhaseMail, cmd, err)
		return
	}
	if r.Code != 250 {
		s.refused(PhaseMail, cmd, r)
		return
	}
	if s.stopAt("mail") {
		return
	}
	var lastCmd string
	var lastReply *Reply
	for _, to := range s.cfg.To {
		cmd := "RCPT TO:<" + to + ">"
		r, err := s.exchange(PhaseRcpt, cmd, "")
		if err != nil {
			s.failure(PhaseRcpt, cmd, err)
			return
		}
		s.res.RcptReplies[to] = r
		if r.Code == 250 || r.Code == 251 {
			s.res.Accepted = append(s.res.Accepted, to)
			continue
		}
		s.res.Rejected = append(s.res.Rejected, to)
		lastCmd, lastReply = cmd, r
		if r.Code == 421 {
			// The server is closing the channel (RFC 5321 §3.8).
			s.stop(ExitRcpt, PhaseRcpt, cmd, r, nil)
			s.res.MessageFate = "not sent: the server closed the session"
			return
		}
	}
	if len(s.res.Accepted) == 0 {
		s.res.MessageFate = "not sent: no recipient was accepted, so the message was never transferred"
		s.refused(PhaseRcpt, lastCmd, lastReply)
		return
	}
	if s.stopAt("rcpt") {
		return
	}
	s.data(msg)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func (s *session) data(msg io.Reader) {
	cmd := "DATA"
	r, err := s.exchange(PhaseData, cmd, "")
	if err != nil {
		s.failure(PhaseData, cmd, err)
		return
	}
	if r.Code != 354 {
		s.res.MessageFate = "not sent: the server refused the DATA command"
		s.refused(PhaseData, cmd, r)
		return
	}
	if s.stopAt("data") {
		s.res.MessageFate = "not sent: the connection was dropped after the 354 reply, in the middle of the transaction (--drop-after data)"
		return
	}
	if msg == nil {
		msg = strings.NewReader("")
	}
	start := s.rec.Since()
	n, err := s.writeBody(msg)
	step := transcript.Step{Phase: PhaseEndOfData, Command: fmt.Sprintf("(message, %d bytes) .", n), StartedMS: transcript.Millis(start)}
	if err != nil {
		step.Error = err.Error()
		step.DurationMS = transcript.Millis(s.rec.Since() - start)
		s.res.Steps = append(s.res.Steps, step)
		s.res.MessageFate = "not delivered: the transfer broke off before the final dot"
		s.failure(PhaseEndOfData, ".", err)
		return
	}
	replies, err := s.finalReplies()
	s.res.RoundTrips++
	step.DurationMS = transcript.Millis(s.rec.Since() - start)
	if len(replies) > 0 {
		r = replies[0]
		step.Reply = &transcript.Reply{Code: r.Code, EnhancedCode: r.Enhanced, Lines: r.Lines}
	}
	if err != nil {
		step.Error = err.Error()
	}
	s.res.Steps = append(s.res.Steps, step)
	for _, extra := range replies[min(1, len(replies)):] {
		s.res.Steps = append(s.res.Steps, transcript.Step{Phase: PhaseEndOfData, Command: "(LMTP: next recipient's reply)",
			StartedMS: step.StartedMS + step.DurationMS, Reply: &transcript.Reply{Code: extra.Code, EnhancedCode: extra.Enhanced, Lines: extra.Lines}})
	}
	if err != nil {
		s.res.MessageFate = "unknown: the message was sent but no final reply came; it may or may not have been accepted (a real MTA would retry, risking a duplicate)"
		s.failure(PhaseEndOfData, ".", err)
		return
	}
	// One reply per accepted recipient with LMTP (RFC 2033 §4.2), one in
	// all with SMTP.
	var okReply, badReply *Reply
	if s.cfg.Protocol == "lmtp" {
		var delivered []string
		for i, rr := range replies {
			rcpt := s.res.Accepted[i]
			if rr.Code == 250 {
				delivered = append(delivered, rcpt)
				continue
			}
			s.res.Rejected = append(s.res.Rejected, rcpt)
			s.res.RcptReplies[rcpt] = rr
			s.res.RefusedAfterData = append(s.res.RefusedAfterData, rcpt)
		}
		s.res.Accepted = delivered
	}
	for _, rr := range replies {
		if rr.Code == 250 && okReply == nil {
			okReply = rr
		}
		if rr.Code != 250 && badReply == nil {
			badReply = rr
		}
	}
	if okReply == nil {
		if badReply.Permanent() {
			s.res.MessageFate = "refused after the whole message was transferred: the server did not take responsibility for it"
		} else {
			s.res.MessageFate = "deferred after transfer: the server did not take the message now; a real MTA would retry later"
		}
		s.refused(PhaseEndOfData, ".", badReply)
		return
	}
	s.res.Reply = okReply
	s.res.QueueID = QueueID(okReply)
	fate := "accepted for delivery"
	if len(s.res.Rejected) > 0 {
		where := "at RCPT"
		if s.cfg.Protocol == "lmtp" {
			where = "at RCPT or after the message (LMTP replies per recipient)"
		}
		fate = fmt.Sprintf("accepted for %d of %d recipients; the others were refused %s", len(s.res.Accepted), len(s.cfg.To), where)
	}
	if s.res.QueueID != "" {
		fate += " (queue ID " + s.res.QueueID + ")"
	}
	s.res.MessageFate = fate
	s.res.Phase = PhaseEndOfData
	if !s.stopAt("dot") {
		s.quit()
	}
}

// stopAt ends the session at point when --quit-after (QUIT) or
// --drop-after (close without QUIT, as a crashing client would) names it.
func (s *session) stopAt(point string) bool {
	switch point {
	case s.cfg.QuitAfter:
		s.res.StoppedAfter = point
		s.quit()
		return true
	case s.cfg.DropAfter:
		s.res.StoppedAfter, s.res.Dropped = point, true
		s.rec.Infof("Dropping the connection without QUIT (--drop-after %s)", point)
		_ = s.conn.Close()
		if s.res.Phase == "" {
			s.res.Phase = dropPointPhase(point)
		}
		return true
	}
	return false
}

// dropPointPhase is the phase (DESIGN.md) a --drop-after point ends:
// the points are swaks's names, the result reports phases.
func dropPointPhase(point string) string {
	switch point {
	case "first-helo":
		return PhaseHelo
	case "tls":
		return PhaseStartTLS
	case "dot":
		return PhaseEndOfData
	case "connect":
		return PhaseBanner
	}
	return point // helo, auth, mail, rcpt, data are phases already
}

// finalReplies reads the reply to the final dot: one, or with LMTP one per
// accepted recipient.
func (s *session) finalReplies() ([]*Reply, error) {
	n := 1
	if s.cfg.Protocol == "lmtp" {
		n = len(s.res.Accepted)
	}
	var out []*Reply
	for range n {
		r, err := s.read()
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

// writeBody sends the message (RFC 5321 §4.5.2), streaming: memory does
// not grow with the message. CR and LF only ever leave as CRLF: a bare LF
// or a bare CR ends the line, as swaks's data fixup does for LF, so no
// "\r.\r\n" or "\n.\n" inside the message can end DATA early at some
// server (SMTP smuggling); lines starting with "." are dot-stuffed.
func (s *session) writeBody(msg io.Reader) (int64, error) {
	s.rec.BeginBody()
	var (
		total     int64
		buf       = make([]byte, 32*1024)
		shown     []byte // the current line as shown in the transcript (capped)
		lineStart = true
		pendingCR = false
	)
	endLine := func() error {
		if _, err := s.bw.WriteString("\r\n"); err != nil {
			return err
		}
		total += 2
		s.rec.BodyLine(s.tls, string(shown))
		shown, lineStart = shown[:0], true
		return nil
	}
	for {
		n, rerr := msg.Read(buf)
		for _, c := range buf[:n] {
			if pendingCR {
				pendingCR = false
				if err := endLine(); err != nil {
					return total, err
				}
				if c == '\n' {
					continue
				}
			}
			switch c {
			case '\r':
				pendingCR = true
				continue
			case '\n':
				if err := endLine(); err != nil {
					return total, err
				}
				continue
			}
			if lineStart && c == '.' {
				if err := s.bw.WriteByte('.'); err != nil {
					return total, err
				}
				total++
			}
			lineStart = false
			if err := s.bw.WriteByte(c); err != nil {
				return total, err
			}
			total++
			if len(shown) < 1000 {
				shown = append(shown, c)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return total, fmt.Errorf("reading the message: %w", rerr)
		}
	}
	if pendingCR || !lineStart {
		if err := endLine(); err != nil {
			return total, err
		}
	}
	s.rec.EndBody(s.tls)
	s.rec.Sent(s.tls, ".")
	if _, err := s.bw.WriteString(".\r\n"); err != nil {
		return total, err
	}
	return total, s.bw.Flush()
}
