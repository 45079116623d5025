package relaycheck

import (
	"fmt"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/smtpclient"
)

// maxEndedInARow is how many sessions in a row the server may end (421, a
// closed connection) before answering anything before relay-check stops
// connecting: such a server refuses service, and more connections would
// only hammer it.
const maxEndedInARow = 3

// specRun is what the sessions of one spec produced.
type specRun struct {
	by  map[string]*outcome // per test (a recipient, or "" for the session): the session that decides it
	all []*outcome          // every session, in order
}

// runSpec runs one spec and reconnects when the server ends a session (a
// 421, a closed connection) before every test in it was answered, so
// that each test ends with the server's answer to it or says it could not
// get one. The tests are the recipients of a perRcpt spec (a new session
// carries only those not yet answered), else the session as a whole.
// Each test gets at most one reconnect after a session in which it was
// sent, or could have been, without an answer; a recipient the session
// never reached is carried over without using it. A test that was sent
// gets no reconnect when the spec says once.
func (rn *runner) runSpec(sp spec) specRun {
	keys := []string{""}
	if sp.perRcpt {
		keys = sp.to
	}
	type state struct {
		out     *outcome
		charged bool // its one reconnect is spent
		notes   []string
		// retried: the session and reason of the one reconnect, so that
		// a reconnect that ends the same way is not told twice.
		retriedFrom, retriedWhy string
	}
	st := make(map[string]*state, len(keys))
	for _, k := range keys {
		st[k] = &state{}
	}
	var run specRun
	pending := keys
	for n := 1; len(pending) > 0; n++ {
		cur := sp
		if n > 1 {
			cur.name = fmt.Sprintf("%s#%d", sp.name, n)
			cur.purpose = sp.purpose + " (a new session: the previous one did not answer everything)"
			cur.first = false
		}
		if sp.perRcpt {
			cur.to = pending
		}
		o := rn.session(cur)
		run.all = append(run.all, o)
		for _, k := range pending {
			st[k].out = o
		}
		if o.skip != "" || o.res == nil {
			break
		}
		if cur.first {
			if rn.implicitFailed(o) {
				rn.implicitFail = o
				rn.report.Error = "TLS failed: " + o.failReason()
				if o.res.Err != nil {
					rn.report.Error = "TLS failed: " + o.res.Err.Error()
				}
				rn.down, rn.downVerdict = "not run: the implicit-TLS handshake failed (see starttls)", Skip
				break
			}
			// No greeting, or a greeting that refuses this client (554
			// at connect): nothing about relaying can be learnt here.
			if o.res.Banner == nil || o.res.Banner.Code/100 != 2 {
				if rn.down == "" {
					rn.unreachable(o.failReason())
				}
				break
			}
		}
		if rn.retryInClear(o) {
			// Same tests, same budget: the failure was the handshake's,
			// not the server ending the session.
			for _, k := range pending {
				st[k].notes = append(st[k].notes, fmt.Sprintf("session %s failed at STARTTLS; asked again in clear in session %s#%d", o.spec.name, sp.name, n+1))
			}
			continue
		}
		why := o.endedEarly()
		if why == "" {
			break
		}
		inflight := o.inFlight(pending)
		var next []string
		for _, k := range pending {
			s := st[k]
			if sp.perRcpt {
				if r := o.res.RcptReplies[k]; r != nil && r.Code != 421 {
					continue // answered
				}
				if inflight != "" && k != inflight {
					s.notes = append(s.notes, fmt.Sprintf("not sent in session %s, which the server ended (%s); asked in session %s#%d", o.spec.name, why, sp.name, n+1))
					next = append(next, k)
					continue
				}
			}
			if s.charged || (sp.once && o.res.Phase == smtpclient.PhaseAuth) {
				continue // judged inconclusive from o
			}
			s.charged = true
			s.retriedFrom, s.retriedWhy = o.spec.name, why
			s.notes = append(s.notes, fmt.Sprintf("the server ended session %s (%s); asked again in session %s#%d", o.spec.name, why, sp.name, n+1))
			next = append(next, k)
		}
		pending = next
	}
	run.by = make(map[string]*outcome, len(keys))
	for _, k := range keys {
		s := st[k]
		if s.out == nil {
			continue
		}
		oc := *s.out
		oc.notes = s.notes
		if n := len(oc.notes); n > 0 && oc.res != nil && s.retriedWhy != "" && oc.endedEarly() == s.retriedWhy {
			oc.notes = append(oc.notes[:n-1:n-1], fmt.Sprintf("session %s ended the same way, and a check gets one reconnect", s.retriedFrom))
		}
		run.by[k] = &oc
	}
	return run
}

// last is the session that decides a spec judged as a whole.
func (r specRun) last() *outcome { return r.by[""] }

// implicitFailed reports whether the session's implicit-TLS handshake
// failed: the port answered, but not with TLS that works.
func (rn *runner) implicitFailed(o *outcome) bool {
	return rn.c.implicit && o.res != nil && o.res.Banner == nil && o.res.ExitCode == smtpclient.ExitTLS
}

// retryInClear notices an opportunistic STARTTLS that broke without
// smtpclient going on in clear (a deadline inside the handshake, a
// STARTTLS response injection): the server's TLS is broken, so later
// sessions, and this one again, go without TLS. Once per run.
func (rn *runner) retryInClear(o *outcome) bool {
	res := o.res
	if rn.fallback != nil || o.spec.auth || o.spec.tls != smtpclient.TLSOptional || res.TLSFallback != nil ||
		res.ExitCode != smtpclient.ExitTLS || res.Phase != smtpclient.PhaseStartTLS {
		return false
	}
	if why, _ := rn.stopReason(); why != "" {
		return false
	}
	fb := &TLSFallback{Session: o.spec.name, ResultType: smtpclient.ResultValidationFailure}
	if res.Err != nil {
		fb.Reason = res.Err.Error()
	}
	fb.ResultType = tlsResultType(res)
	rn.fallback, rn.fallbackOut, rn.report.TLSFallback = fb, o, fb
	return true
}

// endedEarly says how the server ended the session before it was done (a
// 421 reply, a closed connection), "" when it did not. A server that
// closes instead of answering QUIT has ended nothing early.
func (o *outcome) endedEarly() string {
	res := o.res
	if o.skip != "" || res == nil || res.Phase == smtpclient.PhaseQuit {
		return ""
	}
	switch {
	case res.Reply != nil && res.Reply.Code == 421 && res.Command != "":
		return fmt.Sprintf("%q in reply to %s", firstLine(res.Reply.Lines), res.Command)
	case res.Reply != nil && res.Reply.Code == 421:
		return fmt.Sprintf("%q as its greeting", firstLine(res.Reply.Lines))
	case res.ExitCode == smtpclient.ExitClosed && res.Command != "":
		return "it closed the connection after " + res.Command
	case res.ExitCode == smtpclient.ExitClosed:
		return "it closed the connection without a greeting"
	}
	return ""
}

// inFlight is the recipient whose RCPT the session ended on, "" when it
// did not end at RCPT.
func (o *outcome) inFlight(rcpts []string) string {
	if o.res.Phase != smtpclient.PhaseRcpt {
		return ""
	}
	for _, r := range rcpts {
		if o.res.Command == "RCPT TO:<"+r+">" || strings.HasPrefix(o.res.Command, "RCPT TO:<"+r+"> ") {
			return r
		}
	}
	return ""
}

// answeredAny reports whether the server answered a test (AUTH, MAIL,
// RCPT) before it ended the session. A working STARTTLS does not count: it
// is judged once, and a server that gives TLS and then 421 to every test
// must still run into the bound on sessions ended in a row.
func (o *outcome) answeredAny() bool {
	res := o.res
	if res == nil {
		return false
	}
	if res.Authenticated || (res.AuthProbe != nil && res.AuthProbe.Code != 421) {
		return true
	}
	for _, r := range res.RcptReplies {
		if r.Code != 421 {
			return true
		}
	}
	return false
}

// account keeps count of the sessions the server ended early, and stops
// the run when it ends too many in a row without answering.
func (rn *runner) account(o *outcome) {
	rn.sessions++
	why := o.endedEarly()
	rn.lastEnded = why != ""
	if o.res != nil && o.res.TLSActive {
		rn.answered = true // the starttls check has something to judge
	}
	if why == "" || o.answeredAny() {
		rn.answered = true
		rn.endedRow = 0
		return
	}
	rn.endedRow++
	rn.lastReason = why
	if rn.endedRow >= maxEndedInARow && rn.down == "" {
		rn.down = fmt.Sprintf("inconclusive, not run: the server ended %d sessions in a row without answering, so relay-check stopped connecting (see the summary)", rn.endedRow)
		rn.downVerdict = Inconclusive
		if rn.report.Error == "" {
			rn.report.Error = fmt.Sprintf("relay-check stopped connecting: the server ended %d sessions in a row without answering (last: %s)", rn.endedRow, why)
		}
	}
}

// pause waits d before a session that follows one the server ended, or
// until the run ends.
func (rn *runner) pause(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-rn.ctx.Done():
	}
}
