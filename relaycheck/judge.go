package relaycheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// Categories that refuse the sender, not the relaying: the recipient test
// never happened.
var senderCategories = map[string]bool{
	"sender-rejected": true, "sender-domain-invalid": true, "spf-fail": true, "dmarc-policy": true,
}

// Categories that refuse the client itself (its IP, its name, its rate):
// the server never got as far as deciding about relaying, so a refusal
// proves nothing, and a client that is not listed might be relayed.
var clientCategories = map[string]bool{
	"ip-blocklisted": true, "ip-reputation": true, "rdns-ptr": true, "rate-limit": true,
}

// Categories that mean "authenticate (or encrypt) first".
var authCategories = map[string]bool{
	"auth-required": true, "tls-required": true,
}

func category(d *diagnose.Diagnosis) string {
	if d == nil {
		return "unknown"
	}
	return d.Category
}

// delivered reports whether --send got the message accepted after the dot.
func delivered(res *smtpclient.Result) bool {
	return res != nil && res.OK() && res.Phase == smtpclient.PhaseEndOfData
}

// messageRefused reports whether --send reached DATA and the message was
// refused there or after the dot, with a 5xx: a 4xx (a 421 above all)
// is a deferral, which proves nothing about the message.
func messageRefused(res *smtpclient.Result) bool {
	return res != nil && !res.OK() && (res.Phase == smtpclient.PhaseData || res.Phase == smtpclient.PhaseEndOfData) && res.Reply != nil && res.Reply.Permanent()
}

// messageDeferred says, for --send, how the test message was left
// unfinished when the server deferred it or the session broke after the
// recipients were answered; "" when it was not.
func messageDeferred(res *smtpclient.Result) string {
	if res == nil || res.OK() || (res.Phase != smtpclient.PhaseData && res.Phase != smtpclient.PhaseEndOfData) || messageRefused(res) {
		return ""
	}
	if res.Reply != nil {
		return fmt.Sprintf(" The test message was not completed: %s answered %s, a deferral that proves nothing about the message.", strings.ToUpper(res.Phase), firstLine(res.Reply.Lines))
	}
	return fmt.Sprintf(" The test message was not completed: the session broke off at %s.", strings.ToUpper(res.Phase))
}

// notJudged is a check its session gave no answer for: not run (the
// verdict the reason calls for, skip unless said otherwise), the server
// not reached (skip), or tried without an answer (inconclusive).
func (rn *runner) notJudged(c Check, o *outcome) Check {
	switch {
	case o.skip != "":
		c.Verdict, c.Detail = o.skipVerdict, o.skip
		if c.Verdict == "" {
			c.Verdict = Skip
		}
	case !rn.report.Reachable:
		c.Verdict, c.Detail = Skip, o.failReason()
	case rn.implicitFail != nil:
		c.Verdict, c.Detail = Skip, rn.down
	default:
		c.Verdict, c.Detail = Inconclusive, "inconclusive: "+o.failReason()
	}
	return c
}

// sharedReply shows the reply that ended o's session on a check that
// did not get its own, only when that reply answered a command the check
// shares (the greeting, EHLO, STARTTLS, AUTH, MAIL FROM): never another
// recipient's RCPT, nor a command that was never sent.
func sharedReply(c *Check, o *outcome) {
	res := o.res
	if res == nil || res.Reply == nil || res.Phase == smtpclient.PhaseRcpt {
		return
	}
	c.Reply, c.Command = joinLines(res.Reply), res.Command
}

// judgeRelay judges one unauthenticated attempt to reach rcpt. A plain
// outside recipient accepted at RCPT is an open relay; a trick address
// accepted is a warning, because acceptance at RCPT is not delivery.
func (rn *runner) judgeRelay(name string, o *outcome, rcpt string, trick bool, what string) Check {
	c := Check{Name: name, Session: o.spec.name}
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	res := o.res
	r := res.RcptReplies[rcpt]
	if r == nil {
		c = rn.judgeNoRcpt(c, o, what)
		if trick && (c.Verdict == Skip || c.Verdict == Inconclusive) {
			// The open-relay row of the same session carries the
			// explanation; repeating it on every trick is noise.
			c.Diagnosis = nil
		}
		return c
	}
	c.Reply, c.Command = joinLines(r), "RCPT TO:<"+rcpt+">"
	if r.Code/100 == 2 {
		switch {
		case delivered(res):
			c.Verdict = Fail
			c.Reply, c.Command = joinLines(res.Reply), "."
			c.Detail = what + ": accepted at RCPT and the message was accepted for delivery after the dot (--send). This server relays for anyone: an open relay. Restrict relaying to authenticated users and your own networks (Postfix: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination)."
		case rn.c.o.Send && messageRefused(res):
			c.Verdict = Warn
			c.Detail = fmt.Sprintf("%s: accepted at RCPT, but the message was refused at %s (%s), so nothing was relayed. Refusing after accepting the recipient is still a finding: spammers learn from RCPT, and a server that decides late may accept a shorter message.", what, res.Phase, firstLine(res.Reply.Lines))
			c.Diagnosis = o.sessionDiagnosis()
		case trick:
			c.Verdict = Warn
			c.Detail = what + ": the server accepted this address at RCPT. Acceptance at RCPT is not proof of relaying (some servers accept, then bounce, or treat the whole string as an unknown local user and bounce later), but it is a finding: check the server's log and queue for where this recipient went, or rerun with --send and watch the outside mailbox."
		default:
			c.Verdict = Fail
			c.Detail = what + ": accepted at RCPT. The server takes mail between two outside parties without authentication: an open relay (or, at best, an accept-then-bounce server that sends backscatter). Restrict relaying to authenticated users and your own networks (Postfix: smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination; Exim: relay_from_hosts and an accept hosts = +relay_from_hosts ACL)."
		}
		if rn.c.o.Send && c.Command != "." {
			c.Detail += messageDeferred(res)
		}
		return c
	}
	c.Diagnosis = rn.diagnose(r, smtpclient.PhaseRcpt, o, o.spec.from, rcpt)
	cat := category(c.Diagnosis)
	// Only a 5xx is a refusal: a 4xx, and above all a 421 (the server
	// ending the session, e.g. after too many errors), says "not now",
	// which proves nothing about relaying.
	switch {
	case r.Code == 421:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: the server answered this RCPT with 421 and ended the session (%s), which says nothing about relaying.", what, firstLine(r.Lines))
	case clientCategories[cat]:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: the server refused this client itself (%s), not the relaying; run the check from an address the server does not block.", what, cat)
	case r.Permanent():
		c.Verdict = Pass
		c.Detail = fmt.Sprintf("%s: refused at RCPT (%s).", what, cat)
	default:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: deferred at RCPT with %d (%s); a temporary refusal is not a refusal (the server may accept on retry): rerun later.", what, r.Code, cat)
	}
	return c
}

// judgeNoRcpt judges a relay attempt whose RCPT never happened: MAIL was
// refused, or the session broke before.
func (rn *runner) judgeNoRcpt(c Check, o *outcome, what string) Check {
	res := o.res
	if res.Phase != smtpclient.PhaseMail || res.Reply == nil || res.Reply.Code == 421 {
		c = rn.notJudged(c, o)
		if res.Phase == smtpclient.PhaseRcpt {
			c.Detail = fmt.Sprintf("%s: inconclusive, never sent: before this RCPT, %s.", what, o.failReason())
		} else {
			c.Detail = what + ": " + c.Detail
		}
		c.Diagnosis = o.sessionDiagnosis()
		sharedReply(&c, o)
		return c
	}
	c.Reply, c.Command = joinLines(res.Reply), res.Command
	c.Diagnosis = o.sessionDiagnosis()
	cat := category(c.Diagnosis)
	switch {
	case !res.Reply.Permanent():
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive, MAIL FROM was deferred with %d (%s), so the recipient was never tried; rerun later.", what, res.Reply.Code, cat)
	case authCategories[cat]:
		c.Verdict = Pass
		c.Detail = fmt.Sprintf("%s: refused already at MAIL FROM (%s): the server takes no transaction without authentication, so it cannot relay for strangers.", what, cat)
	case o.spec.from == "":
		c.Verdict = Warn
		c.Detail = fmt.Sprintf("%s: the null sender was refused at MAIL FROM (%s). Relaying is not possible that way, but RFC 5321 §4.5.5 requires accepting <>: bounces and delivery notifications use it, so refusing it loses them.", what, cat)
	default:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive, the sender was refused at MAIL FROM (%s), so the recipient was never tried; give --foreign-from a sender the server accepts.", what, cat)
	}
	return c
}

// judgeLocal judges unauthenticated mail for the local recipient: what an
// MX must accept and a submission port must refuse.
func (rn *runner) judgeLocal(o *outcome) Check {
	t := rn.c.target
	c := Check{Name: CheckLocalDelivery, Session: o.spec.name}
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	port := "an MX"
	if t.Role == RoleSubmission {
		port = "a submission"
	}
	what := fmt.Sprintf("unauthenticated mail from %s to the local recipient %s on %s port", t.ForeignSender, t.LocalRecipient, port)
	res := o.res
	r := res.RcptReplies[t.LocalRecipient]
	var phase string
	if r != nil {
		c.Reply, c.Command = joinLines(r), "RCPT TO:<"+t.LocalRecipient+">"
		phase = smtpclient.PhaseRcpt
	} else if res.Phase == smtpclient.PhaseMail && res.Reply != nil && res.Reply.Code != 421 {
		r = res.Reply
		c.Reply, c.Command = joinLines(r), res.Command
		phase = smtpclient.PhaseMail
	} else {
		c = rn.notJudged(c, o)
		c.Diagnosis = o.sessionDiagnosis()
		sharedReply(&c, o)
		return c
	}
	if r.Code/100 == 2 {
		if rn.c.o.Send && messageRefused(res) {
			c.Verdict = Warn
			c.Reply, c.Command = joinLines(res.Reply), res.Command
			c.Diagnosis = o.sessionDiagnosis()
			c.Detail = fmt.Sprintf("%s: accepted at RCPT, but the test message was refused at %s.", what, res.Phase)
			return c
		}
		if t.Role == RoleSubmission {
			c.Verdict = Warn
			c.Detail = what + ": accepted without AUTH. A submission port should require authentication for every message (Postfix master.cf submission: -o smtpd_client_restrictions=permit_sasl_authenticated,reject); if this port is also an MX, use --role mx."
		} else {
			c.Verdict = Pass
			c.Detail = what + ": accepted, as an MX must for its own recipients."
		}
		c.Detail += messageDeferred(res)
		return c
	}
	c.Diagnosis = rn.diagnose(r, phase, o, t.ForeignSender, t.LocalRecipient)
	cat := category(c.Diagnosis)
	guess := ""
	if t.LocalGuessed {
		guess = " (" + t.LocalRecipient + " is a guess: give --to a real mailbox)"
	}
	switch {
	case r.Code == 421:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: the server answered with 421 and ended the session (%s).", what, firstLine(r.Lines))
	case !r.Permanent():
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: deferred with %d (%s), a temporary refusal that proves nothing either way; rerun later.", what, r.Code, cat)
	case senderCategories[cat]:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive, the sender was refused (%s); give --foreign-from a sender the server accepts.", what, cat)
	case clientCategories[cat]:
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: the server refused this client itself (%s), not the recipient; run the check from an address the server does not block.", what, cat)
	case cat == "recipient-unknown" || cat == "mailbox-disabled":
		if t.LocalGuessed || t.Role == RoleSubmission {
			c.Verdict = Inconclusive
			c.Detail = fmt.Sprintf("%s: inconclusive: the recipient was refused as unknown%s, so the test says nothing.", what, guess)
		} else {
			c.Verdict = Fail
			c.Detail = fmt.Sprintf("%s: the server says the recipient does not exist (%s).", what, cat)
		}
	case t.Role == RoleSubmission:
		c.Verdict = Pass
		c.Detail = fmt.Sprintf("%s: refused (%s): this port takes mail only after AUTH, as a submission port should.", what, cat)
	case t.LocalGuessed:
		c.Verdict = Warn
		c.Detail = fmt.Sprintf("%s: refused (%s)%s. If this server is the domain's MX, it must accept mail for its recipients.", what, cat, guess)
	default:
		c.Verdict = Fail
		c.Detail = fmt.Sprintf("%s: refused (%s). An MX must accept mail for its own recipients without AUTH; if this is a submission-only port, use --role submission.", what, cat)
	}
	return c
}

// plaintextMechs are the SASL mechanisms that put the password itself on
// the wire (base64 is not encryption).
var plaintextMechs = map[string]bool{"PLAIN": true, "LOGIN": true}

func plainOnes(mechs []string) []string {
	var out []string
	for _, m := range mechs {
		if plaintextMechs[strings.ToUpper(m)] {
			out = append(out, m)
		}
	}
	return out
}

// ehloAuthLine is the EHLO reply line that advertised AUTH, for the
// "reply" column; inTLS selects the EHLO after STARTTLS.
func ehloAuthLine(rep *transcript.Report, inTLS bool) string {
	if rep == nil {
		return ""
	}
	seenTLS := false
	found := ""
	for _, st := range rep.Steps {
		if st.Phase == smtpclient.PhaseStartTLS && st.Error == "" && st.Command == "(TLS handshake)" {
			seenTLS = true
		}
		if st.Phase != smtpclient.PhaseHelo || st.Reply == nil || seenTLS != inTLS {
			continue
		}
		for _, l := range st.Reply.Lines {
			if len(l) > 4 && strings.HasPrefix(strings.ToUpper(l[4:]), "AUTH") {
				found = l
			}
		}
	}
	return found
}

// judgeAuthBeforeTLS judges the cleartext session: AUTH advertised or
// started without TLS means a client could send its password in clear.
func (rn *runner) judgeAuthBeforeTLS(o *outcome) Check {
	c := Check{Name: CheckAuthBeforeTLS}
	if o == nil {
		c.Verdict = Pass
		c.Detail = "implicit TLS (port 465 style): the session is encrypted from the first byte, so nothing, AUTH included, travels in clear."
		return c
	}
	c.Session = o.spec.name
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	if o.res.AuthProbe == nil {
		c.Verdict, c.Detail = Inconclusive, "inconclusive: the cleartext session did not reach the AUTH probe: "+o.failReason()
		if o.res.Reply != nil {
			c.Reply, c.Command = joinLines(o.res.Reply), o.res.Command
			c.Diagnosis = o.sessionDiagnosis()
		}
		return c
	}
	res := o.res
	p := res.AuthProbe
	c.Reply, c.Command = joinLines(p), "AUTH "+res.AuthProbeMech
	advertised := res.PreTLSAuth
	adv := "AUTH is not advertised before TLS"
	if len(advertised) > 0 {
		adv = "AUTH " + strings.Join(advertised, " ") + " is advertised before TLS"
	}
	switch {
	case p.Code == 334 || p.Code/100 == 2:
		c.Verdict = Fail
		c.Detail = fmt.Sprintf("%s, and the server answered %d to a credential-less AUTH %s on a cleartext connection (the probe cancelled with \"*\", sending no credential): a client would send its password unencrypted. Allow AUTH only inside TLS (Postfix: smtpd_tls_auth_only = yes; Dovecot: disable_plaintext_auth = yes; Exim: server_advertise_condition = ${if def:tls_in_cipher}).", adv, p.Code, res.AuthProbeMech)
	case !p.Permanent() && len(advertised) > 0:
		// The advertisement is the finding; the temporary answer says
		// nothing about whether AUTH would start.
		c.Verdict = Warn
		c.Diagnosis = rn.diagnose(p, smtpclient.PhaseAuth, o, "", "")
		c.Detail = fmt.Sprintf("%s; AUTH %s got a temporary %d, so whether AUTH would start in clear is unknown. A client that trusts the advertisement may send AUTH PLAIN with its credentials in the same line: do not advertise AUTH before STARTTLS.", adv, res.AuthProbeMech, p.Code)
	case !p.Permanent():
		c.Verdict = Inconclusive
		c.Diagnosis = rn.diagnose(p, smtpclient.PhaseAuth, o, "", "")
		c.Detail = fmt.Sprintf("inconclusive: %s, but AUTH %s on a cleartext connection got a temporary %d, not a refusal: whether AUTH would start in clear is unknown.", adv, res.AuthProbeMech, p.Code)
	case len(advertised) > 0:
		c.Verdict = Warn
		c.Diagnosis = rn.diagnose(p, smtpclient.PhaseAuth, o, "", "")
		c.Detail = fmt.Sprintf("%s, though AUTH %s was refused with %d. A client that trusts the advertisement may send AUTH PLAIN with its credentials in the same line, before the refusal: do not advertise AUTH before STARTTLS.", adv, res.AuthProbeMech, p.Code)
	default:
		c.Verdict = Pass
		c.Diagnosis = rn.diagnose(p, smtpclient.PhaseAuth, o, "", "")
		c.Detail = fmt.Sprintf("%s, and AUTH %s on a cleartext connection was refused with %d: credentials cannot travel in clear.", adv, res.AuthProbeMech, p.Code)
	}
	return c
}

// certSoon is how close to expiry a certificate earns a warning.
const certSoon = 14 * 24 * time.Hour

// judgeStartTLS judges TLS: offered, handshake, version, certificate.
func (rn *runner) judgeStartTLS(o, clear *outcome) Check {
	t := rn.c.target
	c := Check{Name: CheckStartTLS}
	if o == nil {
		c.Verdict, c.Detail = Skip, "not checked: --no-tls"
		return c
	}
	c.Session = o.spec.name
	if o.skip != "" || o.res == nil {
		return rn.notJudged(c, o)
	}
	res := o.res
	serious := rn.tlsSerious()
	if res.TLS == nil || !res.TLSActive {
		c.Diagnosis = o.sessionDiagnosis()
		if rn.implicitFailed(o) {
			// The port answers, but not with TLS that works: nothing
			// can be sent to it, whatever its role.
			c.Verdict, c.ResultType = Fail, tlsResultType(res)
			c.Detail = fmt.Sprintf("the implicit-TLS handshake fails (RFC 8460 result type %s): %s. Nothing can be sent to this port: fix the server's TLS (certificate and key, protocol versions, the TLS library), or check that this port really is implicit TLS (465) and not STARTTLS (587, 25).", c.ResultType, errText(o))
			return c
		}
		if res.Reply != nil {
			c.Reply, c.Command = joinLines(res.Reply), res.Command
		}
		if res.Banner == nil || res.Phase == smtpclient.PhaseConnect || res.Phase == smtpclient.PhaseBanner || res.Phase == smtpclient.PhaseHelo || !rn.report.Reachable {
			return rn.notJudged(c, o)
		}
		offered := res.StartTLS
		if !offered && clear != nil && clear.res != nil && clear.res.StartTLS {
			offered = true
		}
		switch {
		case !offered:
			c.Verdict, c.ResultType = serious, smtpclient.ResultStartTLSNotSupported
			c.Reply, c.Command = ehloReply(o.report), ""
			c.Detail = fmt.Sprintf("STARTTLS is not advertised on this %s port: mail and any credentials travel in clear (or a middlebox strips STARTTLS: compare from another network).", roleName(t.Role))
		case res.Reply != nil && res.Reply.Code == 421:
			c.Verdict = Inconclusive
			c.Detail = fmt.Sprintf("inconclusive: STARTTLS is advertised, but the server answered it with 421 and ended the session (%s).", firstLine(res.Reply.Lines))
		case res.Reply != nil && res.Reply.Code != 220:
			c.Verdict = serious
			c.Detail = fmt.Sprintf("STARTTLS is advertised but refused: %s.", firstLine(res.Reply.Lines))
		default:
			c.Verdict, c.ResultType = serious, tlsResultType(res)
			c.Detail = fmt.Sprintf("STARTTLS is advertised but TLS does not start (RFC 8460 result type %s): %s.", c.ResultType, errText(o))
		}
		return c
	}
	info := res.TLS
	c.Reply, c.Command = stepReply(o.report, smtpclient.PhaseStartTLS, "STARTTLS"), "STARTTLS"
	if rn.c.implicit {
		c.Reply, c.Command = firstBanner(res), ""
	}
	var problems []string
	verdict := Pass
	worse := func(v Verdict) {
		if v == Fail || (v == Warn && verdict == Pass) {
			verdict = v
		}
	}
	desc := fmt.Sprintf("%s, %s", info.Version, info.Cipher)
	switch info.Version {
	case "TLS 1.0", "TLS 1.1", "SSLv3":
		worse(Warn)
		problems = append(problems, info.Version+" is obsolete (RFC 8996): allow TLS 1.2 and 1.3 only")
	}
	if !info.Verified {
		worse(serious)
		c.ResultType = string(info.ResultType)
		problems = append(problems, fmt.Sprintf("the certificate does not verify for %q: %s", info.ServerName, info.VerifyError))
	} else if len(info.PeerCertificates) > 0 {
		pc := info.PeerCertificates[0]
		now := time.Now()
		if rn.c.o.Session.Now != nil {
			now = rn.c.o.Session.Now()
		}
		desc += fmt.Sprintf("; certificate valid for %s until %s, issued by %s", info.ServerName, pc.NotAfter.Format("2006-01-02"), pc.Issuer)
		if pc.NotAfter.Sub(now) < certSoon {
			worse(Warn)
			problems = append(problems, "the certificate expires on "+pc.NotAfter.Format("2006-01-02")+": renew it")
		}
	}
	how := "STARTTLS offered and the handshake works"
	if rn.c.implicit {
		how = "implicit TLS handshake works"
	}
	c.Verdict = verdict
	c.Detail = how + ": " + desc + "."
	if len(problems) > 0 {
		c.Detail += " " + capitalize(strings.Join(problems, "; ")) + "."
	}
	return c
}

// tlsSerious is the verdict of a TLS problem: a failure on a submission
// port, where clients verify and credentials travel; a warning on an MX,
// where sending MTAs mostly use opportunistic TLS and do not verify.
func (rn *runner) tlsSerious() Verdict {
	if rn.c.target.Role == RoleMX {
		return Warn
	}
	return Fail
}

// tlsResultType is the RFC 8460 name of a session's TLS failure: from
// the error that ended the handshake, as smtpclient names a fallback's
// (a certificate that did not verify before the server broke the
// handshake off is not what failed), else from the certificate check.
func tlsResultType(res *smtpclient.Result) string {
	if res.Err != nil {
		return smtpclient.TLSResultType(res.Err)
	}
	if res.TLS != nil && res.TLS.ResultType != "" {
		return string(res.TLS.ResultType)
	}
	return smtpclient.ResultValidationFailure
}

// errText is the error that ended o's session, or failReason without one.
func errText(o *outcome) string {
	if o.res != nil && o.res.Err != nil {
		return o.res.Err.Error()
	}
	return o.failReason()
}

// judgeTLSFallback judges STARTTLS from the session that found its
// handshake broken and went on in clear: a new TLS session would only
// fail the same way.
func (rn *runner) judgeTLSFallback() Check {
	fb, o := rn.fallback, rn.fallbackOut
	c := Check{Name: CheckStartTLS, Session: fb.Session, ResultType: fb.ResultType, Verdict: rn.tlsSerious()}
	if o != nil {
		if c.Reply = stepReply(o.report, smtpclient.PhaseStartTLS, "STARTTLS"); c.Reply != "" {
			c.Command = "STARTTLS"
		}
	}
	who := "Senders that require TLS (MTA-STS in enforce mode, DANE) cannot deliver here, and opportunistic ones fall back to clear"
	if rn.c.target.Role != RoleMX {
		who = "Clients cannot use TLS here: their mail and credentials travel in clear or not at all"
	}
	c.Detail = fmt.Sprintf("STARTTLS is offered but the TLS handshake fails (RFC 8460 result type %s): %s. %s. The other checks ran in clear, as with --no-tls. Fix the server's TLS (certificate and key, protocol versions, the TLS library).", fb.ResultType, fb.Reason, who)
	return c
}

// brokeOff reports whether o's session broke off without an answer (the
// server closed the connection or stopped answering): no verdict can rest
// on the command it was waiting for.
func brokeOff(o *outcome) bool {
	res := o.res
	if res == nil || res.Err == nil || res.Reply != nil {
		return false
	}
	if res.ExitCode == smtpclient.ExitClosed {
		return true
	}
	e := res.Err.Error()
	return strings.Contains(e, "no reply within") || strings.Contains(e, "deadline") || strings.Contains(e, "stopped reading")
}

// judgeMechanisms reports the AUTH mechanisms before and after TLS.
func (rn *runner) judgeMechanisms(clear, tlsOut *outcome) Check {
	t := rn.c.target
	c := Check{Name: CheckAuthMechanisms}
	var before, after []string
	beforeKnown, afterKnown := false, false
	if clear != nil && clear.res != nil && clear.res.Extensions != nil {
		before, beforeKnown = clear.res.PreTLSAuth, true
		c.Session = clear.spec.name
		c.Reply = ehloAuthLine(clear.report, false)
	}
	if tlsOut != nil && tlsOut.res != nil {
		if !beforeKnown && !rn.c.implicit && tlsOut.res.Banner != nil && tlsOut.res.EHLOName != "" {
			before, beforeKnown = tlsOut.res.PreTLSAuth, true
		}
		if tlsOut.res.TLSActive && tlsOut.res.Extensions != nil {
			after, afterKnown = tlsOut.res.AuthMechs, true
			c.Session = tlsOut.spec.name
			if l := ehloAuthLine(tlsOut.report, !rn.c.implicit); l != "" {
				c.Reply = l
			}
		}
	}
	if rn.c.implicit {
		beforeKnown = false
	}
	if !beforeKnown && !afterKnown {
		from := clear
		if from == nil {
			from = tlsOut
		}
		if from == nil {
			c.Verdict, c.Detail = Skip, "no EHLO reply to read the mechanisms from"
			return c
		}
		c = rn.notJudged(c, from)
		if from.skip == "" {
			c.Detail = strings.Replace(c.Detail, ": ", ": no EHLO reply to read the mechanisms from: ", 1)
		}
		return c
	}
	list := func(m []string) string {
		if len(m) == 0 {
			return "none"
		}
		return strings.Join(m, " ")
	}
	var parts []string
	if beforeKnown {
		parts = append(parts, "before TLS: "+list(before))
	}
	if afterKnown {
		parts = append(parts, "after TLS: "+list(after))
	} else if rn.fallback != nil {
		parts = append(parts, "after TLS: unknown (the TLS handshake fails)")
	} else if !rn.c.noTLS {
		parts = append(parts, "after TLS: unknown (TLS did not start)")
	}
	c.Detail = strings.Join(parts, "; ") + "."
	startTLSOffered := clear != nil && clear.res != nil && clear.res.StartTLS
	switch {
	case len(plainOnes(before)) > 0:
		c.Verdict = Warn
		verb := "sends"
		if len(plainOnes(before)) > 1 {
			verb = "send"
		}
		c.Detail += fmt.Sprintf(" %s before TLS %s the password itself (base64 is not encryption): advertise AUTH only after STARTTLS.", strings.Join(plainOnes(before), " and "), verb)
	case !afterKnown && startTLSOffered && !rn.c.noTLS:
		// STARTTLS is offered but the TLS session did not get that far:
		// what AUTH looks like inside TLS is unknown.
		c.Verdict = Inconclusive
		c.Detail += " Inconclusive without the capabilities inside TLS."
	case len(before) == 0 && len(after) == 0 && t.Role == RoleSubmission:
		c.Verdict = Warn
		c.Detail += " No AUTH is advertised on a submission port: users cannot authenticate."
	case len(before) == 0 && len(after) == 0:
		c.Verdict = Pass
		c.Detail += " No AUTH offered, which is normal for an MX (users submit on 587 or 465)."
	default:
		c.Verdict = Pass
	}
	return c
}

// judgeAuthValid judges AUTH with the real credentials.
func (rn *runner) judgeAuthValid(o *outcome) Check {
	t := rn.c.target
	c := Check{Name: CheckAuthValid, Session: o.spec.name}
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	res := o.res
	if res.Authenticated {
		c.Verdict = Pass
		c.Reply, c.Command = authSuccess(o.report)
		mech := "AUTH"
		if f := strings.Fields(c.Command); len(f) >= 2 {
			mech = "AUTH " + f[1]
		}
		c.Detail = fmt.Sprintf("%s authenticated with %s inside TLS.", t.AuthUser, mech)
		if !res.TLSActive {
			c.Detail = fmt.Sprintf("%s authenticated with %s, in clear (--auth-plaintext).", t.AuthUser, mech)
		}
		return c
	}
	c.Diagnosis = o.sessionDiagnosis()
	if res.Reply != nil {
		c.Reply, c.Command = joinLines(res.Reply), res.Command
	}
	if res.Phase == smtpclient.PhaseStartTLS && res.Reply == nil && !res.StartTLS && !res.TLSActive {
		c.Verdict, c.Reply, c.Command = Skip, "", ""
		c.Detail = "not tried: the server does not offer STARTTLS, and the probe does not send credentials in clear (--auth-plaintext allows it on a trusted test network)."
		return c
	}
	if res.Phase != smtpclient.PhaseAuth {
		c.Verdict, c.Detail = Inconclusive, "inconclusive: the session did not reach AUTH: "+o.failReason()
		return c
	}
	if res.Reply != nil && !res.Reply.Permanent() {
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("inconclusive: AUTH got a temporary %s, neither an acceptance nor a refusal of the credentials of %s.", firstLine(res.Reply.Lines), t.AuthUser)
		return c
	}
	if res.Reply != nil {
		c.Verdict = Fail
		c.Detail = fmt.Sprintf("the credentials of %s were refused: %s. Check the user name form the server expects (full address or local part) and the password; one attempt was made, to stay clear of fail2ban.", t.AuthUser, firstLine(res.Reply.Lines))
		return c
	}
	msg := o.failReason()
	switch {
	case res.Err != nil && strings.Contains(res.Err.Error(), "without TLS"):
		c.Verdict = Skip
		c.Detail = "not tried: the connection has no TLS and the probe does not send credentials in clear (--auth-plaintext to allow it on a trusted test network)."
	case res.Err != nil && strings.Contains(res.Err.Error(), "does not advertise AUTH") && t.Role == RoleMX:
		c.Verdict = Skip
		c.Detail = "not tried: this MX port does not offer AUTH (users usually submit on 587 or 465)."
	case brokeOff(o):
		c.Verdict = Inconclusive
		c.Detail = "inconclusive: AUTH got no answer: " + msg
	default:
		c.Verdict = Fail
		c.Detail = "authentication was impossible: " + msg
	}
	return c
}

// authSuccess finds the AUTH command that succeeded and its 235 reply.
func authSuccess(rep *transcript.Report) (string, string) {
	if rep == nil {
		return "", ""
	}
	cmd := ""
	for _, st := range rep.Steps {
		if st.Phase != smtpclient.PhaseAuth {
			continue
		}
		if strings.HasPrefix(strings.ToUpper(st.Command), "AUTH ") {
			cmd = st.Command
		}
		if st.Reply != nil && st.Reply.Code == 235 {
			return transcriptReply(st.Reply), cmd
		}
	}
	return "", cmd
}

// judgeRelayAfterAuth judges an authenticated user's mail to the outside.
func (rn *runner) judgeRelayAfterAuth(o *outcome) Check {
	t := rn.c.target
	c := Check{Name: CheckRelayAfterAuth, Session: o.spec.name}
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	res := o.res
	if !res.Authenticated {
		if o.endedEarly() != "" || brokeOff(o) {
			return rn.notJudged(c, o)
		}
		c.Verdict, c.Detail = Skip, "skipped: authentication did not succeed"
		return c
	}
	what := fmt.Sprintf("authenticated mail from %s to %s", showAddr(t.Sender), t.ForeignRecipient)
	r := res.RcptReplies[t.ForeignRecipient]
	switch {
	case r != nil && r.Code/100 == 2 && delivered(res):
		c.Verdict, c.Reply, c.Command = Pass, joinLines(res.Reply), "."
		c.Detail = what + ": accepted at RCPT and the test message was accepted for delivery (--send)."
		return c
	case r != nil && r.Code/100 == 2 && rn.c.o.Send && messageRefused(res):
		c.Verdict, c.Reply, c.Command = Fail, joinLines(res.Reply), res.Command
		c.Diagnosis = o.sessionDiagnosis()
		c.Detail = fmt.Sprintf("%s: accepted at RCPT, but the test message was refused at %s.", what, res.Phase)
		return c
	case r != nil && r.Code/100 == 2:
		c.Verdict, c.Reply, c.Command = Pass, joinLines(r), "RCPT TO:<"+t.ForeignRecipient+">"
		c.Detail = what + ": accepted at RCPT (no message sent; --send to complete the transaction)."
		if rn.c.o.Send {
			c.Detail = what + ": accepted at RCPT." + messageDeferred(res)
		}
		return c
	case r != nil:
		c.Reply, c.Command = joinLines(r), "RCPT TO:<"+t.ForeignRecipient+">"
		c.Diagnosis = rn.diagnose(r, smtpclient.PhaseRcpt, o, t.Sender, t.ForeignRecipient)
	case res.Reply != nil && res.Phase == smtpclient.PhaseMail:
		r = res.Reply
		c.Reply, c.Command = joinLines(r), res.Command
		c.Diagnosis = o.sessionDiagnosis()
	default:
		c = rn.notJudged(c, o)
		c.Diagnosis = o.sessionDiagnosis()
		sharedReply(&c, o)
		return c
	}
	cat := category(c.Diagnosis)
	switch {
	case !r.Permanent():
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: deferred with %d (%s), neither an acceptance nor a refusal; rerun later.", what, r.Code, cat)
	case senderCategories[cat] && t.Sender == "relaycheck@"+t.Domain:
		c.Verdict = Warn
		c.Detail = fmt.Sprintf("%s: refused (%s); the sender was a guess: give --from an address this user may send as.", what, cat)
	default:
		c.Verdict = Fail
		c.Detail = fmt.Sprintf("%s: refused (%s): authenticated users cannot send to the outside. Let authenticated clients relay (Postfix: permit_sasl_authenticated in smtpd_relay_restrictions).", what, cat)
	}
	return c
}

// judgeAuthInvalid judges the one attempt with a wrong password.
func (rn *runner) judgeAuthInvalid(o *outcome) Check {
	c := Check{Name: CheckAuthInvalid, Session: o.spec.name}
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	res := o.res
	if res.Authenticated {
		c.Verdict = Fail
		c.Reply, c.Command = authSuccess(o.report)
		c.Detail = fmt.Sprintf("the server accepted a random wrong password for %s: authentication does not check passwords. Fix the SASL backend (Dovecot passdb, Cyrus saslauthd) before anything else.", rn.c.target.AuthUser)
		return c
	}
	c.Diagnosis = o.sessionDiagnosis()
	if res.Phase == smtpclient.PhaseAuth && res.Reply != nil {
		c.Reply, c.Command = joinLines(res.Reply), res.Command
		if !res.Reply.Permanent() {
			// A 421 or a 454 is "not now", not "wrong password"; no
			// second wrong password is tried (fail2ban).
			c.Verdict = Inconclusive
			c.Detail = fmt.Sprintf("inconclusive: a random wrong password for %s got a temporary %d, not a refusal (one attempt, not repeated: fail2ban).", rn.c.target.AuthUser, res.Reply.Code)
			return c
		}
		c.Verdict = Pass
		c.Detail = fmt.Sprintf("a random wrong password for %s was refused with %d (one attempt).", rn.c.target.AuthUser, res.Reply.Code)
		return c
	}
	c.Verdict, c.Detail = Inconclusive, "inconclusive: the wrong-password attempt did not get an answer to AUTH: "+o.failReason()
	sharedReply(&c, o)
	return c
}

// judgeSenderMismatch judges an authenticated user sending as another
// domain.
func (rn *runner) judgeSenderMismatch(o *outcome) Check {
	t := rn.c.target
	c := Check{Name: CheckSenderMismatch, Session: o.spec.name}
	if o.skip != "" || o.res == nil || !rn.report.Reachable {
		return rn.notJudged(c, o)
	}
	res := o.res
	if !res.Authenticated {
		c.Verdict, c.Detail = Inconclusive, "inconclusive: authentication did not succeed in this session: "+o.failReason()
		sharedReply(&c, o)
		return c
	}
	what := fmt.Sprintf("%s, authenticated, used MAIL FROM:<%s> to %s", t.AuthUser, t.SpoofSender, t.LocalRecipient)
	r := res.RcptReplies[t.LocalRecipient]
	if r != nil && r.Code/100 == 2 {
		if rn.c.o.Send && messageRefused(res) {
			c.Verdict, c.Reply, c.Command = Pass, joinLines(res.Reply), res.Command
			c.Diagnosis = o.sessionDiagnosis()
			c.Detail = fmt.Sprintf("%s: accepted at RCPT, but the message was refused at %s.", what, res.Phase)
			return c
		}
		c.Verdict, c.Reply, c.Command = Warn, joinLines(r), "RCPT TO:<"+t.LocalRecipient+">"
		if delivered(res) {
			c.Reply, c.Command = joinLines(res.Reply), "."
		}
		c.Detail = what + ": accepted. Any user can send as any domain (spoofing, and a stolen password then sends as anyone). Bind senders to logins (Postfix: smtpd_sender_login_maps with reject_sender_login_mismatch; Exim: an ACL on $authenticated_id)." + messageDeferred(res)
		return c
	}
	phase := smtpclient.PhaseRcpt
	switch {
	case r != nil:
		c.Reply, c.Command = joinLines(r), "RCPT TO:<"+t.LocalRecipient+">"
	case res.Phase == smtpclient.PhaseMail && res.Reply != nil:
		r = res.Reply
		c.Reply, c.Command = joinLines(r), res.Command
		phase = smtpclient.PhaseMail
	default:
		c = rn.notJudged(c, o)
		c.Diagnosis = o.sessionDiagnosis()
		sharedReply(&c, o)
		return c
	}
	c.Diagnosis = rn.diagnose(r, phase, o, t.SpoofSender, t.LocalRecipient)
	cat := category(c.Diagnosis)
	switch {
	case !r.Permanent():
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive: deferred at %s with %d (%s), neither an acceptance nor a refusal; rerun later.", what, strings.ToUpper(phase), r.Code, cat)
	case cat == "recipient-unknown" || cat == "mailbox-disabled":
		c.Verdict = Inconclusive
		c.Detail = fmt.Sprintf("%s: inconclusive, the recipient was refused as unknown; give --to a real mailbox.", what)
	default:
		c.Verdict = Pass
		c.Detail = fmt.Sprintf("%s: refused at %s (%s): senders are bound to logins.", what, strings.ToUpper(phase), cat)
	}
	return c
}

func showAddr(a string) string {
	if a == "" {
		return "<>"
	}
	return a
}

func stepReply(rep *transcript.Report, phase, cmd string) string {
	if rep == nil {
		return ""
	}
	for _, st := range rep.Steps {
		if st.Phase == phase && st.Command == cmd && st.Reply != nil {
			return transcriptReply(st.Reply)
		}
	}
	return ""
}

// ehloReply is the last EHLO reply of the session: the proof of what the
// server offers.
func ehloReply(rep *transcript.Report) string {
	if rep == nil {
		return ""
	}
	for i := len(rep.Steps) - 1; i >= 0; i-- {
		st := rep.Steps[i]
		if st.Phase == smtpclient.PhaseHelo && st.Reply != nil {
			return transcriptReply(st.Reply)
		}
	}
	return ""
}

func firstBanner(res *smtpclient.Result) string {
	if res == nil || res.Banner == nil {
		return ""
	}
	return joinLines(res.Banner)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func roleName(r Role) string {
	if r == RoleMX {
		return "MX"
	}
	return string(r)
}
