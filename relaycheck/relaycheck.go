// Package relaycheck proves, with a handful of short SMTP sessions, that a
// server is not an open relay, that AUTH is offered only where credentials
// are safe, that bad passwords are refused and that authenticated users can
// send. Each session stops after RCPT (no message is sent unless asked),
// and every check ends with a verdict (pass, fail, warn, skip), the server
// reply that proves it and, for refusals, the diagnosis engine's
// explanation.
//
// It drives sessions through probe.RunDetailed, so the checks see exactly
// what `probe` would see, with the same transcript and redaction.
package relaycheck

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// Verdict is the outcome of one check.
type Verdict string

const (
	Pass Verdict = "pass" // the server behaves as it should
	Fail Verdict = "fail" // a problem: open relay, AUTH in clear, a password that should fail passed...
	Warn Verdict = "warn" // a finding worth a look, not proof of a problem
	// Inconclusive: tried, but the server's answer proves nothing either
	// way (a 4xx deferral, a 421 or a closed connection, a refusal of the
	// client or the sender rather than the relaying); the detail says why.
	Inconclusive Verdict = "inconclusive"
	Skip         Verdict = "skip" // not checked (no credentials, --no-tls, not run); the detail says why
)

// Check names, in the order they are run and reported.
const (
	CheckOpenRelay       = "open-relay"
	CheckPercentHack     = "open-relay/percent-hack"
	CheckQuotedLocal     = "open-relay/quoted-local-part"
	CheckSourceRoute     = "open-relay/source-route"
	CheckBangPath        = "open-relay/bang-path"
	CheckOwnDomainSender = "open-relay/own-domain-sender"
	CheckNullSender      = "open-relay/null-sender"
	CheckLocalDelivery   = "local-delivery"
	CheckAuthBeforeTLS   = "auth-before-tls"
	CheckStartTLS        = "starttls"
	CheckAuthMechanisms  = "auth-mechanisms"
	CheckAuthValid       = "auth-valid"
	CheckRelayAfterAuth  = "relay-after-auth"
	CheckAuthInvalid     = "auth-invalid"
	CheckSenderMismatch  = "sender-mismatch"
)

// CheckNames lists every check in report order.
func CheckNames() []string {
	return []string{
		CheckOpenRelay, CheckPercentHack, CheckQuotedLocal, CheckSourceRoute, CheckBangPath,
		CheckOwnDomainSender, CheckNullSender, CheckLocalDelivery,
		CheckAuthBeforeTLS, CheckStartTLS, CheckAuthMechanisms,
		CheckAuthValid, CheckRelayAfterAuth, CheckAuthInvalid, CheckSenderMismatch,
	}
}

// Exit codes of a relay check (the CLI returns them).
const (
	ExitOK          = 0
	ExitUnreachable = smtpclient.ExitConnect // 2: the first session got no SMTP greeting, or one refusing this client
	ExitFailed      = 3                      // at least one check failed
)

// Defaults for the addresses and limits a user does not give. The example
// domains are reserved (RFC 2606), so a test RCPT to them can never reach
// a real mailbox.
const (
	DefaultForeign       = "relaycheck@example.net"
	DefaultForeignSender = "relaycheck@example.com"
	DefaultSpoofSender   = "spoof@example.org"
	DefaultCheckTimeout  = 10 * time.Second
	DefaultRunTimeout    = 2 * time.Minute
	// DefaultReconnectDelay is the pause the CLI asks for before a session
	// that follows one the server ended (421, closed connection).
	DefaultReconnectDelay = time.Second
)

// Role is what the port is for; it decides whether unauthenticated mail
// for a local recipient is expected (an MX) or a finding (submission).
type Role string

const (
	RoleAuto       Role = ""           // by port: 587 and 465 are submission, the rest MX
	RoleMX         Role = "mx"         // receives mail from the Internet for its domains
	RoleSubmission Role = "submission" // takes mail from the domain's own users, after AUTH
)

// ParseRole reads a --role value.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return RoleAuto, nil
	case "mx":
		return RoleMX, nil
	case "submission", "msa", "submit":
		return RoleSubmission, nil
	}
	return RoleAuto, fmt.Errorf("role %q: want auto, mx or submission", s)
}

// Options configures a relay check.
type Options struct {
	// Session holds the connection settings shared by every session
	// (server, port, TLS, EHLO name, AUTH user and password, timeouts,
	// diagnosis engine, tool name...). Its From, To, QuitAfter, Auth and
	// AuthProbe are set per check.
	Session probe.Options

	Role          Role
	Domain        string // the server's own mail domain; "" = the local recipient's, else guessed from the host name
	Local         string // a local recipient; "" = postmaster@Domain (a guess the report says is one)
	Sender        string // MAIL FROM for the authenticated checks; "" = the AUTH user when it is an address, else relaycheck@Domain; "<>" = null sender
	Foreign       string // an outside recipient; "" = DefaultForeign
	ForeignSender string // an outside sender for the unauthenticated checks; "" = DefaultForeignSender
	SpoofSender   string // a sender of another domain for sender-mismatch; "" = DefaultSpoofSender

	Send          bool // finish each accepted transaction with a short test message
	NoBadPassword bool // skip auth-invalid (a wrong password can trip fail2ban)

	CheckTimeout time.Duration // bound on each session; 0 = DefaultCheckTimeout
	RunTimeout   time.Duration // bound on the whole run; 0 = DefaultRunTimeout
	// ReconnectDelay is the pause before a session that follows one the
	// server ended (421, closed connection): a politeness delay, within
	// the run deadline. 0 = none (the CLI passes DefaultReconnectDelay).
	ReconnectDelay time.Duration

	// BadPassword makes the wrong password for auth-invalid; nil = 24
	// random bytes, so it can never be the real one.
	BadPassword func() (string, error)
}

// Check is one verdict of the report.
type Check struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	Reply   string  `json:"reply"`  // the reply that proves the verdict, lines joined by "\n"; "" when none
	Detail  string  `json:"detail"` // what was tried and what the verdict means
	// Extensions.
	Command   string              `json:"command,omitempty"` // the command that Reply answered; "" when Reply answered none of this check's own
	Session   string              `json:"session,omitempty"` // the session (Report.Sessions) it was judged from
	Diagnosis *diagnose.Diagnosis `json:"diagnosis"`         // the engine's explanation of a refusal, or null
	// ResultType is the RFC 8460 name of a TLS failure (starttls only):
	// validation-failure, certificate-expired, ...
	ResultType string `json:"result_type,omitempty"`
}

// Target is the server under test and the addresses used against it.
type Target struct {
	Host             string `json:"host"`
	Port             int    `json:"port"`
	Address          string `json:"address"` // IP:port of the first session, "" when none connected
	TLSMode          string `json:"tls_mode"`
	Role             Role   `json:"role"`
	Domain           string `json:"domain"`
	LocalRecipient   string `json:"local_recipient"`
	LocalGuessed     bool   `json:"local_recipient_guessed"`
	ForeignRecipient string `json:"foreign_recipient"`
	ForeignSender    string `json:"foreign_sender"`
	Sender           string `json:"sender"`
	SpoofSender      string `json:"spoof_sender"`
	AuthUser         string `json:"auth_user,omitempty"`
	Send             bool   `json:"send"`
}

// Session is one SMTP session of the run and the checks judged from it.
type Session struct {
	Name    string             `json:"name"`
	Purpose string             `json:"purpose"`
	Checks  []string           `json:"checks"`
	Report  *transcript.Report `json:"-"` // rendered as the session JSON of DESIGN.md
}

// Report is the outcome of a relay check.
type Report struct {
	Tool      transcript.Tool `json:"tool"`
	Command   []string        `json:"command"`
	StartedAt time.Time       `json:"started_at"`
	Target    Target          `json:"target"`
	Checks    []Check         `json:"checks"`
	Verdict   Verdict         `json:"verdict"` // fail if any check failed, else warn if any warned, else inconclusive if any was, else pass; skip when nothing could be checked
	// Extensions.
	Counts      map[Verdict]int `json:"counts"`
	Reachable   bool            `json:"reachable"`
	Error       string          `json:"error,omitempty"` // why the server could not be reached, the implicit-TLS handshake failed, or no session could be completed
	ExitCode    int             `json:"exit_code"`
	Sessions    []Session       `json:"sessions"`
	DurationMS  float64         `json:"duration_ms"`
	Interrupted bool            `json:"interrupted,omitempty"`
	// TLSFallback is set when STARTTLS is offered but its handshake
	// fails: the unauthenticated checks then ran in clear, as with
	// --no-tls.
	TLSFallback *TLSFallback `json:"tls_fallback,omitempty"`

	// endedAll: the server greeted, then ended every session (421, a
	// closed connection) before answering anything: exit ExitUnreachable.
	endedAll bool
}

// TLSFallback says why the checks ran in clear.
type TLSFallback struct {
	Reason     string `json:"reason"`      // the handshake error
	ResultType string `json:"result_type"` // RFC 8460 name
	Session    string `json:"session"`     // the session that found it
}

// Checker runs the checks of one configuration.
type Checker struct {
	o        Options
	target   Target
	host     string // "" until the MX lookup
	implicit bool
	noTLS    bool
	secrets  []string
}

// New validates the options and fixes the addresses; the error is a usage
// error (nothing has been sent).
func New(o Options) (*Checker, error) {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = DefaultCheckTimeout
	}
	if o.RunTimeout <= 0 {
		o.RunTimeout = DefaultRunTimeout
	}
	if o.Foreign == "" {
		o.Foreign = DefaultForeign
	}
	if o.ForeignSender == "" {
		o.ForeignSender = DefaultForeignSender
	}
	if o.SpoofSender == "" {
		o.SpoofSender = DefaultSpoofSender
	}
	c := &Checker{o: o}
	s := o.Session
	host, port, err := probe.SplitServer(s.Server, s.Port)
	if err != nil {
		return nil, err
	}
	if host == "" && o.Local == "" && o.Domain == "" {
		return nil, errors.New("give the server (--server HOST) or its domain (--to a local recipient, or --domain)")
	}
	c.host = host
	mode := probe.DefaultTLSMode(portOr(port, 25))
	if s.TLSModeSet {
		mode = s.TLSMode
	}
	if port == 0 {
		port = 25
		switch {
		case mode == smtpclient.TLSImplicit:
			port = 465
		case s.Protocol == "lmtp":
			port = 24
		}
	}
	c.implicit = mode == smtpclient.TLSImplicit
	c.noTLS = mode == smtpclient.TLSNone

	role := o.Role
	if role == RoleAuto {
		role = RoleMX
		if port == 587 || port == 465 {
			role = RoleSubmission
		}
	}
	domain := o.Domain
	if domain == "" && o.Local != "" {
		domain = domainOf(o.Local)
	}
	if domain == "" {
		domain = GuessDomain(host)
	}
	if domain == "" {
		return nil, fmt.Errorf("cannot tell the server's mail domain from %q: give --domain or --to", host)
	}
	if !probe.ValidDomain(domain) {
		return nil, fmt.Errorf("--domain %q: not a domain or address literal", domain)
	}
	local, guessed := o.Local, false
	if local == "" {
		local, guessed = "postmaster@"+domain, true
	}
	sender := o.Sender
	switch {
	case sender == "<>":
		sender = ""
	case sender == "" && strings.Contains(s.AuthUser, "@"):
		sender = s.AuthUser
	case sender == "":
		sender = "relaycheck@" + domain
	}
	for _, a := range []struct{ flag, addr string }{
		{"--to", local}, {"--foreign", o.Foreign}, {"--foreign-from", o.ForeignSender}, {"--spoof-from", o.SpoofSender},
	} {
		if err := probe.ValidAddress(a.addr); err != nil {
			return nil, fmt.Errorf("%s %q: %v", a.flag, a.addr, err)
		}
	}
	if sender != "" {
		if err := probe.ValidAddress(sender); err != nil {
			return nil, fmt.Errorf("--from %q: %v", sender, err)
		}
	}
	if s.Auth && s.AuthUser == "" {
		return nil, errors.New("AUTH needs a user name: give --auth-user")
	}
	if s.Auth && !s.ShowSecrets && len(s.AuthPassword) >= 3 {
		c.secrets = []string{s.AuthPassword, base64.StdEncoding.EncodeToString([]byte(s.AuthPassword))}
	}
	c.target = Target{
		Host: host, Port: port, TLSMode: mode.String(), Role: role, Domain: domain,
		LocalRecipient: local, LocalGuessed: guessed, ForeignRecipient: o.Foreign, ForeignSender: o.ForeignSender,
		Sender: sender, SpoofSender: o.SpoofSender, Send: o.Send,
	}
	if s.Auth {
		c.target.AuthUser = s.AuthUser
	}
	return c, nil
}

// Target is the server and addresses the run will use (Host is "" until
// the MX lookup when no server was given).
func (c *Checker) Target() Target { return c.target }

func portOr(p, def int) int {
	if p == 0 {
		return def
	}
	return p
}

// Run runs every check and returns the report; progress (may be nil) is
// called with each check as soon as its verdict is known, in report order.
// Run never fails: a server that cannot be reached gives a report whose
// checks are all skipped and whose exit code is ExitUnreachable; one that
// greets but ends every session (421, closed connection) gives
// inconclusive checks and ExitUnreachable too.
func (c *Checker) Run(ctx context.Context, progress func(Check)) *Report {
	start := time.Now
	if c.o.Session.Now != nil {
		start = c.o.Session.Now
	}
	t0 := start()
	r := &Report{
		Tool:      transcript.Tool{Name: c.o.Session.ToolName, Version: c.o.Session.ToolVersion},
		Command:   c.o.Session.Command,
		StartedAt: t0.UTC(),
		Target:    c.target,
		Reachable: true,
	}
	runCtx, cancel := context.WithTimeout(ctx, c.o.RunTimeout)
	defer cancel()
	rn := &runner{c: c, parent: ctx, ctx: runCtx, report: r, progress: progress}
	if c.host == "" {
		rn.lookupMX()
	}
	rn.run()
	c.finish(r)
	r.DurationMS = transcript.Millis(start().Sub(t0))
	return r
}

// lookupMX picks the server from the domain's MX when none was given. Every
// session must talk to the same host: each one's recipient differs, so
// letting probe follow the recipient's MX would test other servers.
func (rn *runner) lookupMX() {
	s := rn.c.o.Session
	res := s.Resolver
	if res == nil {
		var err error
		res, err = mxlookup.NewResolver(s.DNSServer)
		if err != nil {
			rn.unreachable(fmt.Sprintf("--dns-server: %v", err))
			return
		}
	}
	domain := rn.c.target.Domain
	if strings.HasPrefix(domain, "[") {
		// An address literal names its server: no MX to look up.
		rn.c.host = strings.TrimPrefix(strings.Trim(domain, "[]"), "IPv6:")
		rn.report.Target.Host = rn.c.host
		return
	}
	timeout := s.Timeout
	if timeout <= 0 || timeout > rn.c.o.CheckTimeout {
		timeout = rn.c.o.CheckTimeout
	}
	ctx, cancel := context.WithTimeout(rn.ctx, timeout)
	defer cancel()
	targets, err := mxlookup.Targets(ctx, res, domain, nil)
	if err != nil {
		rn.unreachable(fmt.Sprintf("MX lookup of %s: %v", domain, err))
		return
	}
	rn.c.host = targets[0].Host
	rn.report.Target.Host = targets[0].Host
}

// finish scrubs secrets, counts verdicts and sets the overall verdict and
// exit code.
func (c *Checker) finish(r *Report) {
	for i := range r.Checks {
		scrubCheck(&r.Checks[i], c.scrub)
	}
	for _, s := range r.Sessions {
		scrubReport(s.Report, c.scrub)
	}
	r.Command = scrubAll(r.Command, c.scrub)
	r.Error = c.scrub(r.Error)
	if r.TLSFallback != nil {
		r.TLSFallback.Reason = c.scrub(r.TLSFallback.Reason)
	}
	r.Counts = map[Verdict]int{Pass: 0, Fail: 0, Warn: 0, Inconclusive: 0, Skip: 0}
	for _, ch := range r.Checks {
		r.Counts[ch.Verdict]++
	}
	switch {
	case r.Counts[Fail] > 0:
		r.Verdict = Fail
	case r.Counts[Warn] > 0:
		r.Verdict = Warn
	case r.Counts[Inconclusive] > 0:
		// Some check could not be completed: "pass" would claim more
		// than was shown.
		r.Verdict = Inconclusive
	case r.Counts[Pass] > 0:
		r.Verdict = Pass
	default:
		r.Verdict = Skip
	}
	switch {
	case !r.Reachable, r.endedAll:
		r.ExitCode = ExitUnreachable
	case r.Counts[Fail] > 0:
		r.ExitCode = ExitFailed
	default:
		r.ExitCode = ExitOK
	}
}

// scrub hides the user's password wherever a server or an error message
// might have echoed it; the transcript recorder already did the same for
// the events, this covers replies and diagnoses too. It also renames the
// session driver's --session-timeout in its messages: relay-check bounds
// each session with --check-timeout.
func (c *Checker) scrub(s string) string {
	s = strings.ReplaceAll(s, "(--session-timeout ", "(--check-timeout ")
	for _, sec := range c.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, transcript.Redacted)
		}
	}
	return s
}

func randomPassword() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("making a random password: %w", err)
	}
	return "relaycheck-" + base64.RawURLEncoding.EncodeToString(b), nil
}
