package relaycheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// runner is the state of one Run.
type runner struct {
	c        *Checker
	parent   context.Context // the caller's: its cancellation is an interruption
	ctx      context.Context // parent bounded by the run deadline
	report   *Report
	progress func(Check)
	// down says why no further session is tried (unreachable server,
	// a broken implicit-TLS handshake, a server that keeps ending
	// sessions, interruption, run deadline); downVerdict is what the
	// checks not run get.
	down        string
	downVerdict Verdict

	// fallback is set once a session shows that STARTTLS is offered but
	// its handshake fails: later sessions go without TLS, and the
	// starttls check is judged from it.
	fallback    *TLSFallback
	fallbackOut *outcome
	// implicitFail is the first session when its implicit-TLS handshake
	// failed: nothing else can be tried.
	implicitFail *outcome

	sessions   int    // sessions run
	answered   bool   // some session was not ended by the server before it answered
	endedRow   int    // sessions in a row the server ended before answering anything
	lastEnded  bool   // the last session was ended by the server: pause before the next
	lastReason string // why the server ended the last such session
}

// spec describes one session.
type spec struct {
	name, purpose string
	checks        []string
	from          string
	to            []string
	auth          bool
	password      string // the password for this session only
	authProbe     bool
	tls           smtpclient.TLSMode
	quitAfter     string // "" = as far as --send allows
	// perRcpt: the session's checks are judged per recipient, so a
	// reconnect carries only the recipients not yet answered.
	perRcpt bool
	// once: no reconnect after AUTH was sent (a second wrong password
	// would count towards fail2ban).
	once bool
	// first: the run's first session, which decides reachability.
	first bool
}

// outcome is what one session produced, as seen by one check.
type outcome struct {
	spec   spec
	report *transcript.Report
	res    *smtpclient.Result
	skip   string // why the session was not run, or could not start
	// skipVerdict is the verdict of a check whose session was not run.
	skipVerdict Verdict
	clear       bool     // ran without TLS because STARTTLS is broken (Report.TLSFallback)
	notes       []string // the sessions this check was tried in before, and why they did not decide it
}

func (rn *runner) add(c Check) {
	// Scrubbed here, not only at the end: progress shows the row now.
	scrubCheck(&c, rn.c.scrub)
	rn.report.Checks = append(rn.report.Checks, c)
	if rn.progress != nil {
		rn.progress(c)
	}
}

// addFrom adds a check judged from o, with what the verdict rests on:
// the earlier sessions the check was tried in, and whether it ran in
// clear because STARTTLS is broken.
func (rn *runner) addFrom(o *outcome, c Check) {
	if o != nil && o.skip == "" && (len(o.notes) > 0 || (o.clear && c.Verdict != Skip)) {
		if !strings.HasSuffix(c.Detail, ".") {
			c.Detail += "."
		}
		for _, n := range o.notes {
			c.Detail += " " + capitalize(n) + "."
		}
		if o.clear && c.Verdict != Skip {
			c.Detail += " Tested in clear: STARTTLS is offered but its handshake fails (see starttls)."
		}
	}
	rn.add(c)
}

// addStatic adds a check decided without a session of its own (implicit
// TLS, no credentials...), unless the run has stopped: then it is skipped
// for that reason like every check after it.
func (rn *runner) addStatic(c Check) {
	if why, v := rn.stopReason(); why != "" {
		c = Check{Name: c.Name, Verdict: v, Detail: why}
	}
	rn.add(c)
}

func (rn *runner) unreachable(why string) {
	rn.report.Reachable = false
	rn.report.Error = why
	// The full reason is on the first check (open-relay) and in the
	// summary; the rows after it only say they were not run.
	rn.down, rn.downVerdict = "not run: the server could not be reached (see open-relay)", Skip
}

// stopReason says why no more sessions may start, "" when they may, and
// the verdict of a check that is not run for that reason.
func (rn *runner) stopReason() (string, Verdict) {
	switch {
	case rn.parent.Err() != nil:
		rn.report.Interrupted = true
		return "interrupted before this check ran", Skip
	case rn.ctx.Err() != nil || rn.pastDeadline():
		return fmt.Sprintf("the run deadline (--run-timeout %s) was reached before this check ran", rn.c.o.RunTimeout), Skip
	}
	return rn.down, rn.downVerdict
}

// pastDeadline reads the clock rather than waiting for the context's
// timer goroutine: right at the deadline, a session started before the
// timer fires would fail at once with a misleading dial timeout.
func (rn *runner) pastDeadline() bool {
	d, ok := rn.ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// unauthTLS is the TLS mode for sessions without AUTH: TLS does not change
// a relay decision, so STARTTLS is used when offered and its absence does
// not stop the check.
func (rn *runner) unauthTLS() smtpclient.TLSMode {
	switch {
	case rn.c.implicit:
		return smtpclient.TLSImplicit
	case rn.c.noTLS:
		return smtpclient.TLSNone
	}
	// Opportunistic, never strict: a broken handshake must not stop a
	// relay test. smtpclient then reconnects and finishes in clear
	// (Result.TLSFallback); once that is known, later sessions go
	// without TLS rather than each paying for a failed handshake.
	return smtpclient.TLSOptional
}

// authTLS is the TLS mode for sessions that send credentials: the user's
// choice, else TLS required (the probe never sends a password in clear
// unless --auth-plaintext). Once STARTTLS is known to be broken,
// credentials can only go in clear, which --auth-plaintext allows.
func (rn *runner) authTLS() smtpclient.TLSMode {
	s := rn.c.o.Session
	switch {
	case rn.fallback != nil && s.AuthPlaintext && !rn.c.implicit:
		return smtpclient.TLSNone
	case s.TLSModeSet:
		return s.TLSMode
	case rn.c.implicit:
		return smtpclient.TLSImplicit
	case s.AuthPlaintext:
		return smtpclient.TLSOptional
	}
	return smtpclient.TLSRequired
}

// authBlocked says why the authenticated sessions are not run, "" when
// they may be: with STARTTLS broken, AUTH could only go in clear.
func (rn *runner) authBlocked() string {
	if rn.fallback == nil || rn.c.o.Session.AuthPlaintext || rn.c.implicit {
		return ""
	}
	return fmt.Sprintf("not tried: STARTTLS is offered but its handshake fails (%s; see starttls), and the probe does not send credentials in clear (--auth-plaintext allows it on a trusted test network)", rn.fallback.ResultType)
}

// session runs one session with the shared settings, bounded by the check
// timeout and the run deadline.
func (rn *runner) session(sp spec) *outcome {
	out := &outcome{spec: sp}
	if rn.lastEnded && rn.c.o.ReconnectDelay > 0 {
		rn.pause(rn.c.o.ReconnectDelay)
	}
	if why, v := rn.stopReason(); why != "" {
		out.skip, out.skipVerdict = why, v
		return out
	}
	base := rn.c.o.Session
	o := base
	o.Server = rn.c.host
	o.Port = rn.c.target.Port
	o.From, o.To = sp.from, sp.to
	o.Message.From, o.Message.To = "", nil
	o.Message.Headers = append([]string{"Subject: smtpprobe relay-check: " + sp.name}, base.Message.Headers...)
	o.QuitAfter = sp.quitAfter
	if o.QuitAfter == "" && !rn.c.o.Send {
		o.QuitAfter = "rcpt"
	}
	if sp.tls == smtpclient.TLSOptional && rn.fallback != nil {
		sp.tls = smtpclient.TLSNone
		out.spec, out.clear = sp, true
	}
	o.TLSMode, o.TLSModeSet = sp.tls, true
	if sp.tls == smtpclient.TLSOptional && !sp.auth {
		// TLS is incidental to an unauthenticated relay test: a
		// certificate --tls-verify refuses must not stop it (the
		// starttls check reports the certificate).
		o.TLSVerify = false
	}
	o.Auth, o.AuthProbe = sp.auth, sp.authProbe
	o.AuthUser, o.AuthPassword = "", ""
	if sp.auth {
		o.AuthUser, o.AuthPassword = base.AuthUser, sp.password
	}
	// The per-reply timeout stays a little under the session's bound so
	// that a silent server is reported as "no reply within ..." in the
	// phase where it went silent (which the diagnosis can explain: a
	// TLS-only port spoken to in clear, a tarpit) rather than as the
	// session deadline.
	if limit := rn.c.o.CheckTimeout * 9 / 10; o.Timeout <= 0 || o.Timeout > limit {
		o.Timeout = limit
	}
	o.SessionTimeout = rn.c.o.CheckTimeout
	o.Live = nil
	// A relay check judges the server, not this side's identity: fifteen
	// sessions would ask the same sender checks fifteen times.
	o.NoSenderChecks = true
	ctx, cancel := context.WithTimeout(rn.ctx, rn.c.o.CheckTimeout)
	defer cancel()
	report, res, err := probe.RunDetailed(ctx, o)
	if err != nil {
		out.skip, out.skipVerdict = "the session could not start: "+err.Error(), Skip
		return out
	}
	out.report, out.res = report, res
	rn.report.Sessions = append(rn.report.Sessions, Session{Name: sp.name, Purpose: sp.purpose, Checks: sp.checks, Report: report})
	if rn.report.Target.Address == "" && report != nil {
		rn.report.Target.Address = report.Target.Address
	}
	if res != nil && res.TLSFallback != nil {
		out.clear = true
		if rn.fallback == nil {
			rn.fallback = &TLSFallback{Reason: res.TLSFallback.Reason, ResultType: res.TLSFallback.ResultType, Session: sp.name}
			rn.fallbackOut = out
			rn.report.TLSFallback = rn.fallback
		}
	}
	rn.account(out)
	return out
}

// run runs the sessions in order and judges each as it ends.
func (rn *runner) run() {
	c := rn.c
	t := c.target
	defer rn.endedEverySession()

	// 1. Open relay: an outside sender to an outside recipient, and the
	// trick addresses, in one transaction (a server that refuses MAIL
	// refuses them all the same way). A server that ends the session
	// (421 after too many errors, as chasquid does after three) gets the
	// recipients it did not answer in a new session.
	tricks := Tricks(t.ForeignRecipient, t.Domain)
	checks := []string{CheckOpenRelay}
	to := []string{t.ForeignRecipient}
	for _, tr := range tricks {
		checks = append(checks, tr.Check)
		to = append(to, tr.Address)
	}
	relay := rn.runSpec(spec{name: "relay-foreign", purpose: "unauthenticated: outside sender to an outside recipient and the relay tricks",
		checks: checks, from: t.ForeignSender, to: to, tls: rn.unauthTLS(), perRcpt: true, first: true})
	o := relay.by[t.ForeignRecipient]
	rn.addFrom(o, rn.judgeRelay(CheckOpenRelay, o, t.ForeignRecipient, false,
		fmt.Sprintf("unauthenticated mail from %s to %s", t.ForeignSender, t.ForeignRecipient)))
	built := map[string]bool{}
	for _, tr := range tricks {
		built[tr.Check] = true
		o := relay.by[tr.Address]
		rn.addFrom(o, rn.judgeRelay(tr.Check, o, tr.Address, true,
			fmt.Sprintf("RCPT TO:<%s>, %s", tr.Address, tr.What)))
	}
	for _, name := range []string{CheckPercentHack, CheckQuotedLocal, CheckSourceRoute, CheckBangPath} {
		if !built[name] {
			rn.addStatic(Check{Name: name, Verdict: Skip, Detail: fmt.Sprintf("cannot write this trick for the recipient %s and the domain %s", t.ForeignRecipient, t.Domain)})
		}
	}

	// 2. The server's own domain as sender, then the null sender.
	own := "relaycheck@" + t.Domain
	o = rn.runSpec(spec{name: "relay-own-domain", purpose: "unauthenticated: the server's own domain as sender, to an outside recipient",
		checks: []string{CheckOwnDomainSender}, from: own, to: []string{t.ForeignRecipient}, tls: rn.unauthTLS(), perRcpt: true}).by[t.ForeignRecipient]
	rn.addFrom(o, rn.judgeRelay(CheckOwnDomainSender, o, t.ForeignRecipient, false,
		fmt.Sprintf("unauthenticated mail claiming the server's own domain (%s) to %s", own, t.ForeignRecipient)))
	o = rn.runSpec(spec{name: "relay-null-sender", purpose: "unauthenticated: the null sender <> to an outside recipient",
		checks: []string{CheckNullSender}, from: "", to: []string{t.ForeignRecipient}, tls: rn.unauthTLS(), perRcpt: true}).by[t.ForeignRecipient]
	rn.addFrom(o, rn.judgeRelay(CheckNullSender, o, t.ForeignRecipient, false,
		fmt.Sprintf("unauthenticated mail from the null sender <> to %s", t.ForeignRecipient)))

	// 3. Local delivery without AUTH.
	o = rn.runSpec(spec{name: "local-delivery", purpose: "unauthenticated: outside sender to the local recipient",
		checks: []string{CheckLocalDelivery}, from: t.ForeignSender, to: []string{t.LocalRecipient}, tls: rn.unauthTLS(), perRcpt: true}).by[t.LocalRecipient]
	rn.addFrom(o, rn.judgeLocal(o))

	// 4. What a cleartext connection offers, and whether AUTH starts there.
	var clear *outcome
	if !c.implicit {
		clear = rn.runSpec(spec{name: "cleartext", purpose: "no TLS: EHLO capabilities and a credential-less AUTH probe (cancelled with *)",
			checks: []string{CheckAuthBeforeTLS, CheckAuthMechanisms}, tls: smtpclient.TLSNone, authProbe: true, quitAfter: "auth",
			from: t.ForeignSender, to: []string{t.ForeignRecipient}}).last()
	}
	if clear == nil {
		rn.addStatic(rn.judgeAuthBeforeTLS(nil))
	} else {
		rn.addFrom(clear, rn.judgeAuthBeforeTLS(clear))
	}

	// 5. TLS: STARTTLS (or implicit TLS) and the capabilities inside it.
	// A handshake already seen to fail is judged from that session: a
	// new one would only fail the same way.
	var tlsOut *outcome
	switch {
	case rn.implicitFail != nil:
		rn.add(rn.judgeStartTLS(rn.implicitFail, nil))
	case rn.fallback != nil:
		rn.add(rn.judgeTLSFallback())
	case c.noTLS:
		rn.addStatic(rn.judgeStartTLS(nil, clear))
	default:
		mode := smtpclient.TLSRequired
		if c.implicit {
			mode = smtpclient.TLSImplicit
		}
		tlsOut = rn.runSpec(spec{name: "tls", purpose: "TLS handshake, certificate and the capabilities offered inside TLS",
			checks: []string{CheckStartTLS, CheckAuthMechanisms}, tls: mode, quitAfter: "tls",
			from: t.ForeignSender, to: []string{t.ForeignRecipient}}).last()
		rn.addFrom(tlsOut, rn.judgeStartTLS(tlsOut, clear))
	}
	if why, v := rn.stopReason(); why != "" && clear == nil && tlsOut == nil {
		rn.add(Check{Name: CheckAuthMechanisms, Verdict: v, Detail: why})
	} else {
		rn.add(rn.judgeMechanisms(clear, tlsOut))
	}

	// 6. Authenticated: valid credentials, relaying after AUTH, a wrong
	// password, another domain's sender.
	s := c.o.Session
	why := ""
	switch {
	case !s.Auth:
		why = "no credentials given (use --auth-user with --auth-password-file, --auth-password-env or the prompt)"
	case rn.authBlocked() != "":
		why = rn.authBlocked()
	}
	if why != "" {
		for _, n := range []string{CheckAuthValid, CheckRelayAfterAuth, CheckAuthInvalid, CheckSenderMismatch} {
			rn.addStatic(Check{Name: n, Verdict: Skip, Detail: why})
		}
		return
	}
	auth := rn.runSpec(spec{name: "auth", purpose: "AUTH with the given credentials, then MAIL from the user's address to an outside recipient",
		checks: []string{CheckAuthValid, CheckRelayAfterAuth}, auth: true, password: s.AuthPassword, tls: rn.authTLS(),
		from: t.Sender, to: []string{t.ForeignRecipient}, perRcpt: true})
	authOut := auth.by[t.ForeignRecipient]
	// AUTH is judged from a session where it succeeded, if any did: a
	// reconnect for the RCPT does not undo it.
	authedOut := authOut
	for _, a := range auth.all {
		if a.res != nil && a.res.Authenticated {
			authedOut = a
		}
	}
	valid := rn.judgeAuthValid(authedOut)
	rn.addFrom(authedOut, valid)
	rn.addFrom(authOut, rn.judgeRelayAfterAuth(authOut))

	switch {
	case c.o.NoBadPassword:
		rn.addStatic(Check{Name: CheckAuthInvalid, Verdict: Skip, Detail: "skipped (--no-bad-password): a wrong password can count towards fail2ban or account lockout"})
	case valid.Verdict != Pass:
		rn.addStatic(Check{Name: CheckAuthInvalid, Verdict: Skip, Detail: "skipped: the real credentials did not authenticate, so a refused wrong password would prove nothing and would only count towards fail2ban"})
	default:
		bad := c.o.BadPassword
		if bad == nil {
			bad = randomPassword
		}
		pw, err := bad()
		if err != nil || pw == s.AuthPassword {
			if err == nil {
				err = errors.New("it equals the real password")
			}
			rn.add(Check{Name: CheckAuthInvalid, Verdict: Skip, Detail: "no wrong password to try: " + err.Error()})
			break
		}
		badOut := rn.runSpec(spec{name: "auth-bad-password", purpose: "AUTH with the same user and a random wrong password (one attempt)",
			checks: []string{CheckAuthInvalid}, auth: true, password: pw, tls: rn.authTLS(), quitAfter: "auth", once: true,
			from: t.Sender, to: []string{t.LocalRecipient}}).last()
		rn.addFrom(badOut, rn.judgeAuthInvalid(badOut))
	}

	if valid.Verdict != Pass {
		rn.addStatic(Check{Name: CheckSenderMismatch, Verdict: Skip, Detail: "skipped: authentication did not succeed"})
		return
	}
	spoofOut := rn.runSpec(spec{name: "sender-mismatch", purpose: "AUTH, then MAIL FROM an address of another domain to the local recipient",
		checks: []string{CheckSenderMismatch}, auth: true, password: s.AuthPassword, tls: rn.authTLS(),
		from: t.SpoofSender, to: []string{t.LocalRecipient}, perRcpt: true}).by[t.LocalRecipient]
	rn.addFrom(spoofOut, rn.judgeSenderMismatch(spoofOut))
}

// endedEverySession marks a run in which the server greeted but ended
// every session (421, a closed connection) before answering anything:
// nothing could be checked, as if it could not be reached.
func (rn *runner) endedEverySession() {
	r := rn.report
	if rn.sessions == 0 || rn.answered || !r.Reachable || rn.implicitFail != nil {
		return
	}
	r.endedAll = true
	r.Error = fmt.Sprintf("the server greeted, then ended every session without answering (%d sessions; last: %s): no check could be made", rn.sessions, rn.lastReason)
}

// failReason says in one line why a session did not get as far as it
// should have.
func (o *outcome) failReason() string {
	if o.skip != "" {
		return o.skip
	}
	res := o.res
	if res == nil {
		if o.report != nil && o.report.Result.Error != "" {
			return o.report.Result.Error
		}
		return "the session did not start"
	}
	phase := strings.ToUpper(res.Phase)
	if res.Phase == smtpclient.PhaseHelo {
		phase = "EHLO"
	}
	switch {
	case res.Reply != nil && res.Reply.Code == 421 && o.endedEarly() != "":
		return "the server ended the session with " + o.endedEarly()
	case res.Err != nil && o.report != nil && o.report.Result.Error != "":
		return fmt.Sprintf("the session failed at %s: %s", phase, o.report.Result.Error)
	case res.Err != nil:
		return fmt.Sprintf("the session failed at %s: %v", phase, res.Err)
	case res.Reply != nil:
		return fmt.Sprintf("the server refused at %s: %s", phase, firstLine(res.Reply.Lines))
	}
	return fmt.Sprintf("the session ended at %s", phase)
}

// diagnose explains one reply with the engine, with what the session knew.
func (rn *runner) diagnose(r *smtpclient.Reply, phase string, o *outcome, from, to string) *diagnose.Diagnosis {
	eng := rn.c.o.Session.Engine
	if eng == nil || r == nil || o.res == nil {
		return nil
	}
	res := o.res
	ctx := diagnose.Context{
		Port: rn.c.target.Port, TLS: res.TLSActive, Authenticated: res.Authenticated,
		AuthOffered: len(res.AuthMechs) > 0 || len(res.PreTLSAuth) > 0, StartTLSOffered: res.StartTLS,
		ServerName: res.ServerName, ServerHost: res.Host, SenderDomain: domainOf(from), RecipientDomain: domainOf(to),
		HeloName: res.EHLOName,
	}
	if h, _, err := net.SplitHostPort(res.LocalAddr); err == nil {
		ctx.ClientIP = h
	}
	if res.Banner != nil {
		ctx.Banner = strings.Join(res.Banner.Lines, "\n")
	}
	d := eng.Diagnose(diagnose.Input{Lines: r.Lines, Phase: phase, Context: ctx})
	return &d
}

// sessionDiagnosis is probe's diagnosis of the session's failure (it also
// explains failures that have no reply: timeouts, TLS, closed connections).
func (o *outcome) sessionDiagnosis() *diagnose.Diagnosis {
	if o.report == nil {
		return nil
	}
	return o.report.Diagnosis
}

func firstLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	if len(lines) == 1 {
		return lines[0]
	}
	return fmt.Sprintf("%s (+%d lines)", lines[0], len(lines)-1)
}

func joinLines(r *smtpclient.Reply) string {
	if r == nil {
		return ""
	}
	return strings.Join(r.Lines, "\n")
}

func transcriptReply(r *transcript.Reply) string {
	if r == nil {
		return ""
	}
	return strings.Join(r.Lines, "\n")
}
