// Package probe runs one probe session from the user's options: it finds
// the server (the -s host, or the recipient domain's MX as an MTA would),
// builds the test message, drives smtpclient, and turns what happened into
// a transcript.Report with its diagnosis. It is the wiring between the CLI
// and the packages that do the work, so the CLI stays thin.
package probe

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/compose"
	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// Options is everything the user can set for a session.
type Options struct {
	Server   string // host, host:port, [v6]:port; "" = MX of the first recipient's domain
	Port     int    // 0 = by TLS mode: 465 implicit, else 25
	From     string
	To       []string
	EHLO     string
	Protocol string // esmtp, smtp, lmtp

	TLSMode    smtpclient.TLSMode
	TLSModeSet bool // false: chosen by port (587 required, 465 implicit, else optional)
	TLSVerify  bool
	TLSSNI     string
	TLSCAFile  string // PEM roots for verification instead of the system's
	// TLSCertFile, TLSKeyFile and TLSChainFile are a client certificate to
	// present (the key may be in the certificate file).
	TLSCertFile, TLSKeyFile, TLSChainFile string
	TLSConfig                             *tls.Config // base TLS config (tests)
	// TLSFailSameConnection is swaks's --tls-optional after a failed
	// handshake: go on in clear on the same connection instead of
	// reconnecting (smtpclient.Config.TLSFailSameConnection).
	TLSFailSameConnection bool
	// TLSProtocol and TLSCipher restrict the handshake (--tls-protocol,
	// --tls-cipher, swaks syntax); TLSPeerCertFile receives the chain the
	// server sent (--tls-get-peer-cert FILE), TLSShowPeerCert shows it.
	TLSProtocol, TLSCipher string
	TLSPeerCertFile        string
	TLSShowPeerCert        bool
	// HELOAfterAnyEHLORefusal is swaks's HELO fallback
	// (smtpclient.Config.HELOAfterAnyEHLORefusal).
	HELOAfterAnyEHLORefusal bool

	Network        string // tcp, tcp4, tcp6
	LocalInterface string
	DNSServer      string
	RoutingDomain  string // MX of this domain instead of the recipient's (--copy-routing)
	// CheckSender runs the sender checks (PTR, HELO, SPF, DMARC, sender
	// domain and the default DNSBLs) for any session (--check-sender);
	// without it they run when the diagnosis is about the sender's
	// identity. DNSBLZones are lists to ask too (--dnsbl).
	CheckSender bool
	DNSBLZones  []string
	// NoSenderChecks turns the sender checks off altogether (relay-check
	// sessions, which judge the server).
	NoSenderChecks bool
	// DKIMKeyWarning is shown as information when signing (a key size
	// receivers frown on).
	DKIMKeyWarning string
	// FirstMXOnly connects to the most preferred MX host only, and stays
	// with the first address that accepts a connection, as swaks does,
	// instead of trying the others in order as an MTA does.
	FirstMXOnly bool
	Resolver    mxlookup.Resolver // overrides DNSServer (tests)

	Auth                             bool
	AuthMechs                        []string
	AuthUser                         string
	AuthPassword                     string
	AuthPlaintext                    bool
	AuthProbe                        bool // credential-less AUTH test (smtpclient.Config.AuthProbe)
	AuthOptional, AuthOptionalStrict bool

	Message compose.Options

	QuitAfter      string
	DropAfter      string
	Timeout        time.Duration
	SessionTimeout time.Duration

	ShowSecrets bool
	BodyLines   int                    // transcript lines of the message shown (0 default, <0 none)
	Live        func(transcript.Event) // called with each event as it happens
	Command     []string               // argv for the report (already redacted)
	ToolName    string
	ToolVersion string
	Now         func() time.Time
	Rand        *rand.Rand // MX shuffle among equal preferences; nil = stable order
	Engine      Diagnoser  // diagnose.New() or a *diagnose.Lazy; nil: no diagnosis of replies

	pinned       *pinnedAddress // set by RunAllMX: one address of one host (allmx.go)
	sharedChecks *senderChecks  // set by RunAllMX: the run's sender checks
}

// Diagnoser explains a reply; *diagnose.Engine and *diagnose.Lazy are ones.
type Diagnoser interface {
	Diagnose(diagnose.Input) diagnose.Diagnosis
}

// UsageError is a problem with the options found before any connection:
// the CLI exits 1 with it.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usage(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// DefaultTLSMode is the TLS mode for a port when the user chose none:
// 465 is implicit TLS (RFC 8314), 587 submission requires STARTTLS before
// AUTH, anything else (25) uses STARTTLS when offered, as MTAs do.
func DefaultTLSMode(port int) smtpclient.TLSMode {
	switch port {
	case 465:
		return smtpclient.TLSImplicit
	case 587:
		return smtpclient.TLSRequired
	}
	return smtpclient.TLSOptional
}

// newRun starts the recorder (with the password as a secret) and the
// report of a session or an --all-mx run.
func newRun(o Options, host string, port int, mode smtpclient.TLSMode) (*transcript.Recorder, *transcript.Report) {
	rec := transcript.NewRecorder(transcript.RecorderOptions{Now: o.Now, ShowSecrets: o.ShowSecrets, Sink: o.Live, BodyLines: o.BodyLines})
	if o.AuthPassword != "" {
		rec.AddSecret(o.AuthPassword)
	}
	return rec, &transcript.Report{
		Version:   transcript.SchemaVersion,
		Tool:      transcript.Tool{Name: o.ToolName, Version: o.ToolVersion},
		Command:   o.Command,
		StartedAt: rec.Start().UTC(),
		Target:    transcript.Target{Host: host, Port: port, TLSMode: mode.String(), Source: "server"},
	}
}

// Endpoint is where a session goes and how: the host and port of
// --server/--port (host "" = the recipient's MX), the TLS mode chosen by
// port when none was given, and the port chosen by TLS mode and protocol
// when none was given (25; 465 for implicit TLS; 24 for LMTP).
func Endpoint(o Options) (host string, port int, mode smtpclient.TLSMode, err error) {
	host, port, err = SplitServer(o.Server, o.Port)
	if err != nil {
		return "", 0, 0, err
	}
	mode = o.TLSMode
	if !o.TLSModeSet {
		mode = DefaultTLSMode(cmp.Or(port, 25))
	}
	if port == 0 {
		port = 25
		if mode == smtpclient.TLSImplicit {
			port = 465
		}
		if o.Protocol == "lmtp" {
			port = 24
		}
	}
	return host, port, mode, nil
}

// Run runs the session. The error is non-nil only for usage errors found
// before the session started; everything else is in the Report.
func Run(ctx context.Context, o Options) (*transcript.Report, error) {
	report, _, err := RunDetailed(ctx, o)
	return report, err
}

// RunDetailed is Run that also returns the driver's raw result (EHLO
// extensions before and after TLS, AUTH probe outcome...), for callers such
// as relay-check that judge more than the exit code. The result is nil when
// the session never started (DNS failure, usage error).
func RunDetailed(ctx context.Context, o Options) (*transcript.Report, *smtpclient.Result, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := validate(&o); err != nil {
		return nil, nil, err
	}
	host, port, mode, err := Endpoint(o)
	if err != nil {
		return nil, nil, err
	}
	o.TLSMode = mode
	quitAfter, err := smtpclient.NormalizeQuitAfter(o.QuitAfter)
	if err != nil {
		return nil, nil, &UsageError{Err: err}
	}
	dropAfter := ""
	if o.DropAfter != "" {
		if dropAfter, err = smtpclient.NormalizeDropAfter(o.DropAfter); err != nil {
			return nil, nil, &UsageError{Err: err}
		}
		if quitAfter != "" {
			return nil, nil, usage("--quit-after and --drop-after exclude each other")
		}
	}
	tlsCfg, err := tlsConfig(o)
	if err != nil {
		return nil, nil, err
	}
	resolver := o.Resolver
	if resolver == nil {
		resolver, err = mxlookup.NewResolver(o.DNSServer)
		if err != nil {
			return nil, nil, &UsageError{Err: fmt.Errorf("--dns-server: %w", err)}
		}
	}
	for _, z := range o.DNSBLZones {
		if err := validZone(z); err != nil {
			return nil, nil, usage("--dnsbl %q: %v", z, err)
		}
	}
	checks := o.sharedChecks // --all-mx: one set for the run, finished there
	if checks == nil {
		dnsr, _ := resolver.(dnsclient.Resolver) // a test's MX-only fake has no checks
		if o.NoSenderChecks {
			dnsr = nil
		}
		checks = newSenderChecks(ctx, o, dnsr)
		checks.mayQuery = o.DNSServer != "" || o.Resolver != nil
		if o.NoSenderChecks {
			checks.skipped = "relay-check judges the server, not this side's identity (probe --check-sender checks it)"
		}
		defer checks.cancel() // early returns (MX lookup failed) too
	}
	if o.Message.Now.IsZero() {
		o.Message.Now = o.Now()
	}
	if o.Message.From == "" {
		o.Message.From = o.From
	}
	if len(o.Message.To) == 0 {
		o.Message.To = o.To
	}
	if o.Message.ToolName == "" {
		o.Message.ToolName, o.Message.ToolVersion = o.ToolName, o.ToolVersion
	}
	rec, report := newRun(o, host, port, o.TLSMode)

	hosts := []smtpclient.Host{{Name: host}}
	if host == "" && o.pinned == nil {
		hosts, err = mxHosts(ctx, o, resolver, rec, report)
		if err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				err = interruptedError{}
			}
			return finish(report, rec, o, nil, err), nil, nil
		}
	}
	if o.Message.Hostname == "" {
		o.Message.Hostname = o.EHLO
	}

	cfg := smtpclient.Config{
		Hosts: hosts, Port: port, Network: o.Network, LocalAddr: o.LocalInterface, Resolver: resolver,
		EHLOName: o.EHLO, Protocol: o.Protocol,
		TLSMode: o.TLSMode, TLSVerify: o.TLSVerify, TLSServerName: o.TLSSNI, TLSConfig: tlsCfg, TLSFailSameConnection: o.TLSFailSameConnection,
		TLSProtocol: o.TLSProtocol, TLSCipher: o.TLSCipher, TLSPeerCertFile: o.TLSPeerCertFile, TLSShowPeerCert: o.TLSShowPeerCert,
		HELOAfterAnyEHLORefusal: o.HELOAfterAnyEHLORefusal, FirstConnectionFinal: o.FirstMXOnly,
		Auth: o.Auth, AuthProbe: o.AuthProbe, AuthOptional: o.AuthOptional, AuthOptionalStrict: o.AuthOptionalStrict, AuthMechs: o.AuthMechs, AuthUser: o.AuthUser, AuthPassword: o.AuthPassword, AuthPlaintext: o.AuthPlaintext,
		From: o.From, To: o.To,
		QuitAfter: quitAfter, DropAfter: dropAfter, Timeout: o.Timeout, SessionTimeout: o.SessionTimeout,
		Recorder: rec,
	}
	if sendsMessage(quitAfter, dropAfter) && o.pinned == nil {
		// Build the message before connecting: a bad option or an
		// unreadable file is a usage error found at once, and standard
		// input is read completely, outside any SMTP deadline.
		if o.Message.Hostname == "" {
			o.Message.Hostname = smtpclient.DefaultEHLOName(ctx, nil)
		}
		o.Message.SpoolStdin = compose.UsesStdin(o.Message)
		msg, err := buildMessage(ctx, o.Message)
		if err != nil {
			return nil, nil, err
		}
		defer msg.Close()
		cfg.OpenMessage = func() (io.ReadCloser, int64, error) {
			return io.NopCloser(msg.Reader), msg.Size, nil
		}
		cfg.EightBitMessage = msg.EightBit
		cfg.UTF8Message = msg.UTF8Headers
		if msg.DKIM != nil {
			rec.Infof("DKIM: signing as d=%s s=%s with a %s key; checking %s._domainkey.%s", msg.DKIM.Domain, msg.DKIM.Selector, dkimsign.KeyDescription(msg.DKIM.Signer), msg.DKIM.Selector, msg.DKIM.Domain)
			if o.DKIMKeyWarning != "" {
				rec.Infof("DKIM: %s", o.DKIMKeyWarning)
			}
			checks.startDKIM(*msg.DKIM)
		}
	}
	o.pinned.apply(&cfg, report, rec) // --all-mx: this address, the shared message
	var digest *messageDigest
	if cfg.OpenMessage != nil {
		// The report's message (size, SHA-256, Message-ID) is that of
		// the bytes read for DATA (digest.go).
		digest = newMessageDigest()
		cfg.OpenMessage = digest.wrap(cfg.OpenMessage)
	}
	cfg.OnEgress, cfg.OnRefusal = checks.onEgress, checks.onRefusal
	res := smtpclient.Run(ctx, cfg)
	report = finish(report, rec, o, res, nil)
	report.Message = digest.info()
	if o.sharedChecks != nil {
		return report, res, nil
	}
	report.Checks = checks.finish(ctx, report.Diagnosis)
	if errors.Is(ctx.Err(), context.Canceled) && !report.Result.Interrupted {
		// Ctrl-C came while the checks were awaited: the session is
		// over, but the run was interrupted (DESIGN.md: 130, marked).
		report.Result.Interrupted = true
		report.Result.ExitCode, report.Result.ExitMeaning = smtpclient.ExitInterrupted, smtpclient.ExitMeaning(smtpclient.ExitInterrupted)
	}
	report.DNS = queryLog(resolver)
	return report, res, nil
}

// queryLog is every DNS query of the session, when the resolver keeps one.
func queryLog(r mxlookup.Resolver) []dnsclient.Query {
	if c, ok := r.(*dnsclient.Client); ok {
		return c.Queries()
	}
	return nil
}

// validZone checks a DNSBL zone given by the user: a domain name of at
// least two labels, nothing that could leave the DNS question.
func validZone(z string) error {
	z = strings.TrimSuffix(z, ".")
	if z == "" || !strings.Contains(z, ".") || len(z) > 253 {
		return errors.New("want a DNS zone such as zen.spamhaus.org")
	}
	for _, label := range strings.Split(z, ".") {
		if label == "" || len(label) > 63 {
			return errors.New("want a DNS zone such as zen.spamhaus.org")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("character %q is not allowed in a zone name", r)
			}
		}
	}
	return nil
}

// sendsMessage reports whether a session stopped by these --quit-after and
// --drop-after values sends a message.
func sendsMessage(quitAfter, dropAfter string) bool {
	return quitAfter == "" && (dropAfter == "" || dropAfter == "dot")
}

// ErrInterrupted is returned when the user interrupts before the session.
var ErrInterrupted = errors.New("interrupted")

// interruptedError ends a report whose MX lookup was interrupted.
type interruptedError struct{}

func (interruptedError) Error() string { return "interrupted while looking up the MX" }

// buildMessage composes the message; reading standard input can block for
// as long as the user likes, so it gives way to ctx.
func buildMessage(ctx context.Context, mo compose.Options) (*compose.Message, error) {
	type built struct {
		m   *compose.Message
		err error
	}
	ch := make(chan built, 1)
	go func() {
		m, err := compose.Build(mo)
		ch <- built{m, err}
	}()
	select {
	case b := <-ch:
		if b.err != nil {
			return nil, &UsageError{Err: fmt.Errorf("the message: %w", b.err)}
		}
		if b.m.Close == nil {
			b.m.Close = func() error { return nil }
		}
		return b.m, nil
	case <-ctx.Done():
		return nil, ErrInterrupted
	}
}

// mxHosts resolves the first recipient's domain into candidate hosts.
func mxHosts(ctx context.Context, o Options, r mxlookup.Resolver, rec *transcript.Recorder, report *transcript.Report) ([]smtpclient.Host, error) {
	domain := domainOf(o.To[0])
	if o.RoutingDomain != "" {
		domain = o.RoutingDomain
	}
	ascii, err := mxlookup.ToASCII(domain)
	if err != nil {
		return nil, fmt.Errorf("recipient domain %q: %w", domain, err)
	}
	report.Target.Domain = ascii
	report.Target.Source = "mx"
	rec.Infof("Looking up MX records of %s...", ascii)
	tctx, cancel := context.WithTimeout(ctx, timeoutOr(o.Timeout))
	defer cancel()
	targets, err := mxlookup.Targets(tctx, r, ascii, o.Rand)
	if err != nil {
		rec.Errorf("%v", err)
		return nil, err
	}
	hosts := make([]smtpclient.Host, 0, len(targets))
	for _, t := range targets {
		if t.Implicit {
			report.Target.Source = "implicit-mx"
			rec.Infof("%s has no MX record: using its address records (implicit MX, RFC 5321 §5.1)", ascii)
		} else {
			rec.Infof("MX %d %s", t.Preference, t.Host)
		}
		hosts = append(hosts, smtpclient.Host{Name: t.Host, Preference: int(t.Preference), Implicit: t.Implicit})
	}
	report.Target.Host = hosts[0].Name
	if o.FirstMXOnly && len(hosts) > 1 {
		rec.Infof("Using %s only (--compat swaks: swaks tries the most preferred MX alone)", hosts[0].Name)
		hosts = hosts[:1]
	}
	return hosts, nil
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return 30 * time.Second
	}
	return d
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[i+1:]
	}
	return ""
}

// SplitServer accepts host, host:port, [v6], [v6]:port; the port in the
// server counts only when port is 0 (--port was not given), as in swaks.
// Host names are returned as A-labels.
func SplitServer(server string, port int) (string, int, error) {
	if server == "" {
		return "", port, nil
	}
	if strings.ContainsAny(server, "\r\n\x00 \t") {
		return "", 0, usage("--server %q: contains whitespace or control characters", server)
	}
	host := server
	if h, p, err := net.SplitHostPort(server); err == nil {
		n, perr := strconv.Atoi(p)
		if perr != nil || n < 1 || n > 65535 {
			return "", 0, usage("--server %q: bad port %q", server, p)
		}
		host = h
		if port == 0 {
			port = n
		}
	} else if strings.HasPrefix(server, "[") && strings.HasSuffix(server, "]") {
		host = server[1 : len(server)-1]
	}
	if host == "" {
		return "", 0, usage("--server %q: no host", server)
	}
	if net.ParseIP(host) == nil {
		ascii, err := mxlookup.ToASCII(host)
		if err != nil {
			return "", 0, usage("--server %q: %v", server, err)
		}
		host = ascii
	}
	return host, port, nil
}

func tlsConfig(o Options) (*tls.Config, error) {
	cfg := o.TLSConfig
	if o.TLSCertFile == "" && (o.TLSKeyFile != "" || o.TLSChainFile != "") {
		return nil, usage("--tls-key and --tls-chain need --tls-cert")
	}
	if o.TLSCAFile == "" && o.TLSCertFile == "" {
		return cfg, nil
	}
	if cfg == nil {
		cfg = &tls.Config{}
	} else {
		cfg = cfg.Clone()
	}
	if o.TLSCAFile != "" {
		pem, err := os.ReadFile(o.TLSCAFile)
		if err != nil {
			return nil, usage("--tls-ca-path: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usage("--tls-ca-path %s: no PEM certificate found", o.TLSCAFile)
		}
		cfg.RootCAs = pool
	}
	if o.TLSCertFile != "" {
		keyFile := o.TLSKeyFile
		if keyFile == "" {
			keyFile = o.TLSCertFile // swaks allows both in one file
		}
		pair, err := tls.LoadX509KeyPair(o.TLSCertFile, keyFile)
		if err != nil {
			return nil, usage("--tls-cert %s / --tls-key %s: %v", o.TLSCertFile, keyFile, err)
		}
		if o.TLSChainFile != "" {
			chain, err := os.ReadFile(o.TLSChainFile)
			if err != nil {
				return nil, usage("--tls-chain: %v", err)
			}
			for block, rest := pem.Decode(chain); block != nil; block, rest = pem.Decode(rest) {
				if block.Type == "CERTIFICATE" {
					pair.Certificate = append(pair.Certificate, block.Bytes)
				}
			}
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// finish fills the report from the session result and diagnoses a failure.
func finish(report *transcript.Report, rec *transcript.Recorder, o Options, res *smtpclient.Result, preErr error) *transcript.Report {
	if preErr != nil {
		code := smtpclient.ExitConnect
		if errors.As(preErr, new(interruptedError)) {
			code = smtpclient.ExitInterrupted
		}
		res = &smtpclient.Result{ExitCode: code, Phase: smtpclient.PhaseConnect, Err: preErr}
	}
	report.Steps = res.Steps
	report.TLS = res.TLS
	report.RoundTrips = res.RoundTrips
	report.Candidates = res.Candidates
	report.TLSFallback = res.TLSFallback
	report.Warnings = res.Warnings
	if res.Host != "" {
		report.Target.Host = res.Host
	}
	report.Target.Address = res.Address
	r := transcript.Result{
		OK: res.OK(), ExitCode: res.ExitCode, Phase: res.Phase, Command: res.Command,
		MessageFate: res.MessageFate, QueueID: res.QueueID, AcceptedRcpts: res.Accepted, RejectedRcpts: res.Rejected,
		StoppedAfter: res.StoppedAfter, Dropped: res.Dropped, ExitMeaning: smtpclient.ExitMeaning(res.ExitCode),
		Interrupted: res.ExitCode == smtpclient.ExitInterrupted,
	}
	if res.Reply != nil {
		r.Reply = &transcript.Reply{Code: res.Reply.Code, EnhancedCode: res.Reply.Enhanced, Lines: res.Reply.Lines}
	}
	if res.Err != nil {
		r.Error = rec.Scrub(res.Err.Error())
	}
	report.Result = r
	report.Diagnosis = diagnosis(o, res, rec)
	report.Events = rec.Events()
	report.Duration = transcript.Millis(rec.Since())
	return report
}

// diagnosis explains the failure, or the refused recipients of a session
// that otherwise succeeded; nil when nothing was refused.
func diagnosis(o Options, res *smtpclient.Result, rec *transcript.Recorder) *diagnose.Diagnosis {
	reply, phase := res.Reply, res.Phase
	if res.ExitCode == smtpclient.ExitInterrupted {
		return nil // the user stopped it: nothing to explain
	}
	if res.OK() {
		if len(res.Rejected) == 0 {
			return nil
		}
		first := res.Rejected[0]
		reply, phase = res.RcptReplies[first], smtpclient.PhaseRcpt
		if slices.Contains(res.RefusedAfterData, first) {
			phase = smtpclient.PhaseEndOfData
		}
	}
	ctx := diagnose.Context{
		Port: portOf(res.Address), TLS: res.TLSActive, Authenticated: res.Authenticated,
		AuthOffered: len(res.AuthMechs) > 0 || len(res.PreTLSAuth) > 0, StartTLSOffered: res.StartTLS,
		ServerName: res.ServerName, ServerHost: res.Host, SenderDomain: domainOf(o.From),
		ClientIP: hostOf(res.LocalAddr), HeloName: res.EHLOName,
		// Without -s the server came from the recipient domain's MX (or
		// implicit MX): that domain is its own, so a refused recipient is
		// not a refusal to relay (unless --copy-routing took another
		// domain's MX).
		RecipientMX: o.Server == "" && o.RoutingDomain == "",
	}
	if res.Banner != nil {
		ctx.Banner = strings.Join(res.Banner.Lines, "\n")
	}
	if len(res.Rejected) > 0 {
		ctx.RecipientDomain = domainOf(res.Rejected[0])
	} else if len(o.To) > 0 {
		ctx.RecipientDomain = domainOf(o.To[0])
	}
	// A failure without a reply, or one whose last reply was positive
	// (STARTTLS injection after a 220), is the session's own finding.
	if reply == nil || (res.Err != nil && reply.Positive()) {
		d := localDiagnosis(res, ctx)
		if d != nil {
			d.Evidence = append(d.Evidence, "no reply: "+rec.Scrub(errString(res.Err)))
		}
		return d
	}
	if o.Engine == nil {
		return nil
	}
	d := o.Engine.Diagnose(diagnose.Input{Lines: reply.Lines, Phase: phase, Context: ctx})
	plaintextAuthRefused(&d, o, res, reply)
	return &d
}

// plaintextAuthRefused puts an AUTH refusal that asks for encryption on the
// sender when the user forced credentials in clear (--auth-plaintext): the
// server is right, and the remedy is the client's TLS setting. The
// credentials already went out in clear, which the next steps say.
func plaintextAuthRefused(d *diagnose.Diagnosis, o Options, res *smtpclient.Result, reply *smtpclient.Reply) {
	if res.Phase != smtpclient.PhaseAuth || res.TLSActive || !o.AuthPlaintext {
		return
	}
	text := strings.ToLower(strings.Join(reply.Lines, " "))
	if reply.Code != 538 && d.Category != "tls-required" && !strings.Contains(text, "encrypt") && !strings.Contains(text, "tls") {
		return
	}
	d.Category, d.Party = "tls-required", diagnose.PartySender
	d.NextSteps = append([]string{
		"Drop --auth-plaintext and use TLS: --tls (STARTTLS, port 587) or --tls-on-connect (port 465).",
		"The credentials were sent in clear on this attempt: change the password if the network is not trusted.",
	}, d.NextSteps...)
	d.Evidence = append(d.Evidence, "AUTH was refused in clear after --auth-plaintext forced credentials without TLS")
}

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return h
}

// IsUsage reports whether err is a usage error (exit 1).
func IsUsage(err error) bool {
	var ue *UsageError
	return errors.As(err, &ue)
}
