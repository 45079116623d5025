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
	// interruption, run deadline).
	down string
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
}

// outcome is what one session produced.
type outcome struct {
	spec   spec
	report *transcript.Report
	res    *smtpclient.Result
	skip   string // why the session was not run, or could not start
}

func (rn *runner) add(c Check) {
	// Scrubbed here, not only at the end: progress shows the row now.
	scrubCheck(&c, rn.c.scrub)
	rn.report.Checks = append(rn.report.Checks, c)
	if rn.progress != nil {
		rn.progress(c)
	}
}

// addStatic adds a check decided without a session of its own (implicit
// TLS, no credentials...), unless the run has stopped: then it is skipped
// for that reason like every check after it.
func (rn *runner) addStatic(c Check) {
	if why := rn.stopReason(); why != "" {
		c = Check{Name: c.Name, Verdict: Skip, Detail: why}
	}
	rn.add(c)
}

func (rn *runner) unreachable(why string) {
	rn.report.Reachable = false
	rn.report.Error = why
	// The full reason is on the first check (open-relay) and in the
	// summary; the rows after it only say they were not run.
	rn.down = "not run: the server could not be reached (see open-relay)"
}

// stopReason says why no more sessions may start, "" when they may.
func (rn *runner) stopReason() string {
	switch {
	case rn.parent.Err() != nil:
		rn.report.Interrupted = true
		return "interrupted before this check ran"
	case rn.ctx.Err() != nil || rn.pastDeadline():
		return fmt.Sprintf("the run deadline (--run-timeout %s) was reached before this check ran", rn.c.o.RunTimeout)
	}
	return rn.down
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
	return smtpclient.TLSOptional
}

// authTLS is the TLS mode for sessions that send credentials: the user's
// choice, else TLS required (the probe never sends a password in clear
// unless --auth-plaintext).
func (rn *runner) authTLS() smtpclient.TLSMode {
	s := rn.c.o.Session
	switch {
	case s.TLSModeSet:
		return s.TLSMode
	case rn.c.implicit:
		return smtpclient.TLSImplicit
	case s.AuthPlaintext:
		return smtpclient.TLSOptional
	}
	return smtpclient.TLSRequired
}

// session runs one session with the shared settings, bounded by the check
// timeout and the run deadline.
func (rn *runner) session(sp spec) *outcome {
	out := &outcome{spec: sp}
	if why := rn.stopReason(); why != "" {
		out.skip = why
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
	o.TLSMode, o.TLSModeSet = sp.tls, true
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
	ctx, cancel := context.WithTimeout(rn.ctx, rn.c.o.CheckTimeout)
	defer cancel()
	report, res, err := probe.RunDetailed(ctx, o)
	if err != nil {
		out.skip = "the session could not start: " + err.Error()
		return out
	}
	out.report, out.res = report, res
	rn.report.Sessions = append(rn.report.Sessions, Session{Name: sp.name, Purpose: sp.purpose, Checks: sp.checks, Report: report})
	if rn.report.Target.Address == "" && report != nil {
		rn.report.Target.Address = report.Target.Address
	}
	return out
}

// run runs the sessions in order and judges each as it ends.
func (rn *runner) run() {
	c := rn.c
	t := c.target

	// 1. Open relay: an outside sender to an outside recipient, and the
	// trick addresses, in one transaction (a server that refuses MAIL
	// refuses them all the same way).
	tricks := Tricks(t.ForeignRecipient, t.Domain)
	checks := []string{CheckOpenRelay}
	to := []string{t.ForeignRecipient}
	for _, tr := range tricks {
		checks = append(checks, tr.Check)
		to = append(to, tr.Address)
	}
	relay := rn.session(spec{name: "relay-foreign", purpose: "unauthenticated: outside sender to an outside recipient and the relay tricks",
		checks: checks, from: t.ForeignSender, to: to, tls: rn.unauthTLS()})
	// No greeting, or a greeting that refuses this client (554 at
	// connect): nothing about relaying can be learnt from here.
	if rn.down == "" && (relay.res == nil || relay.res.Banner == nil || relay.res.Banner.Code/100 != 2) {
		rn.unreachable(relay.failReason())
	}
	rn.add(rn.judgeRelay(CheckOpenRelay, relay, t.ForeignRecipient, false,
		fmt.Sprintf("unauthenticated mail from %s to %s", t.ForeignSender, t.ForeignRecipient)))
	built := map[string]bool{}
	for _, tr := range tricks {
		built[tr.Check] = true
		rn.add(rn.judgeRelay(tr.Check, relay, tr.Address, true,
			fmt.Sprintf("RCPT TO:<%s>, %s", tr.Address, tr.What)))
	}
	for _, name := range []string{CheckPercentHack, CheckQuotedLocal, CheckSourceRoute, CheckBangPath} {
		if !built[name] {
			rn.addStatic(Check{Name: name, Verdict: Skip, Detail: fmt.Sprintf("cannot write this trick for the recipient %s and the domain %s", t.ForeignRecipient, t.Domain)})
		}
	}

	// 2. The server's own domain as sender, then the null sender.
	own := "relaycheck@" + t.Domain
	ownOut := rn.session(spec{name: "relay-own-domain", purpose: "unauthenticated: the server's own domain as sender, to an outside recipient",
		checks: []string{CheckOwnDomainSender}, from: own, to: []string{t.ForeignRecipient}, tls: rn.unauthTLS()})
	rn.add(rn.judgeRelay(CheckOwnDomainSender, ownOut, t.ForeignRecipient, false,
		fmt.Sprintf("unauthenticated mail claiming the server's own domain (%s) to %s", own, t.ForeignRecipient)))
	nullOut := rn.session(spec{name: "relay-null-sender", purpose: "unauthenticated: the null sender <> to an outside recipient",
		checks: []string{CheckNullSender}, from: "", to: []string{t.ForeignRecipient}, tls: rn.unauthTLS()})
	rn.add(rn.judgeRelay(CheckNullSender, nullOut, t.ForeignRecipient, false,
		fmt.Sprintf("unauthenticated mail from the null sender <> to %s", t.ForeignRecipient)))

	// 3. Local delivery without AUTH.
	localOut := rn.session(spec{name: "local-delivery", purpose: "unauthenticated: outside sender to the local recipient",
		checks: []string{CheckLocalDelivery}, from: t.ForeignSender, to: []string{t.LocalRecipient}, tls: rn.unauthTLS()})
	rn.add(rn.judgeLocal(localOut))

	// 4. What a cleartext connection offers, and whether AUTH starts there.
	var clear *outcome
	if !c.implicit {
		clear = rn.session(spec{name: "cleartext", purpose: "no TLS: EHLO capabilities and a credential-less AUTH probe (cancelled with *)",
			checks: []string{CheckAuthBeforeTLS, CheckAuthMechanisms}, tls: smtpclient.TLSNone, authProbe: true, quitAfter: "auth",
			from: t.ForeignSender, to: []string{t.ForeignRecipient}})
	}
	if clear == nil {
		rn.addStatic(rn.judgeAuthBeforeTLS(nil))
	} else {
		rn.add(rn.judgeAuthBeforeTLS(clear))
	}

	// 5. TLS: STARTTLS (or implicit TLS) and the capabilities inside it.
	var tlsOut *outcome
	if !c.noTLS {
		mode := smtpclient.TLSRequired
		if c.implicit {
			mode = smtpclient.TLSImplicit
		}
		tlsOut = rn.session(spec{name: "tls", purpose: "TLS handshake, certificate and the capabilities offered inside TLS",
			checks: []string{CheckStartTLS, CheckAuthMechanisms}, tls: mode, quitAfter: "tls",
			from: t.ForeignSender, to: []string{t.ForeignRecipient}})
	}
	if tlsOut == nil {
		rn.addStatic(rn.judgeStartTLS(nil, clear))
	} else {
		rn.add(rn.judgeStartTLS(tlsOut, clear))
	}
	rn.add(rn.judgeMechanisms(clear, tlsOut))

	// 6. Authenticated: valid credentials, relaying after AUTH, a wrong
	// password, another domain's sender.
	s := c.o.Session
	if !s.Auth {
		why := "no credentials given (use --auth-user with --auth-password-file, --auth-password-env or the prompt)"
		for _, n := range []string{CheckAuthValid, CheckRelayAfterAuth, CheckAuthInvalid, CheckSenderMismatch} {
			rn.addStatic(Check{Name: n, Verdict: Skip, Detail: why})
		}
		return
	}
	authOut := rn.session(spec{name: "auth", purpose: "AUTH with the given credentials, then MAIL from the user's address to an outside recipient",
		checks: []string{CheckAuthValid, CheckRelayAfterAuth}, auth: true, password: s.AuthPassword, tls: rn.authTLS(),
		from: t.Sender, to: []string{t.ForeignRecipient}})
	valid := rn.judgeAuthValid(authOut)
	rn.add(valid)
	rn.add(rn.judgeRelayAfterAuth(authOut))

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
		badOut := rn.session(spec{name: "auth-bad-password", purpose: "AUTH with the same user and a random wrong password (one attempt)",
			checks: []string{CheckAuthInvalid}, auth: true, password: pw, tls: rn.authTLS(), quitAfter: "auth",
			from: t.Sender, to: []string{t.LocalRecipient}})
		rn.add(rn.judgeAuthInvalid(badOut))
	}

	if valid.Verdict != Pass {
		rn.addStatic(Check{Name: CheckSenderMismatch, Verdict: Skip, Detail: "skipped: authentication did not succeed"})
		return
	}
	spoofOut := rn.session(spec{name: "sender-mismatch", purpose: "AUTH, then MAIL FROM an address of another domain to the local recipient",
		checks: []string{CheckSenderMismatch}, auth: true, password: s.AuthPassword, tls: rn.authTLS(),
		from: t.SpoofSender, to: []string{t.LocalRecipient}})
	rn.add(rn.judgeSenderMismatch(spoofOut))
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
