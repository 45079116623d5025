package relaycheck

import (
	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// The recorder scrubs transcript events as they are recorded; these walk
// the other free-text fields (replies, errors, diagnoses) that a server or
// an error message could have filled with the password.

func scrubAll(ss []string, scrub func(string) string) []string {
	for i, s := range ss {
		ss[i] = scrub(s)
	}
	return ss
}

func scrubDiagnosis(d *diagnose.Diagnosis, scrub func(string) string) {
	if d == nil {
		return
	}
	d.Reply, d.Meaning = scrub(d.Reply), scrub(d.Meaning)
	d.NextSteps = scrubAll(d.NextSteps, scrub)
	d.Evidence = scrubAll(d.Evidence, scrub)
}

func scrubCheck(c *Check, scrub func(string) string) {
	c.Reply, c.Detail, c.Command = scrub(c.Reply), scrub(c.Detail), scrub(c.Command)
	scrubDiagnosis(c.Diagnosis, scrub)
}

func scrubReply(r *transcript.Reply, scrub func(string) string) {
	if r != nil {
		r.Lines = scrubAll(r.Lines, scrub)
	}
}

func scrubReport(r *transcript.Report, scrub func(string) string) {
	if r == nil {
		return
	}
	r.Command = scrubAll(r.Command, scrub)
	for i := range r.Events {
		r.Events[i].Text = scrub(r.Events[i].Text)
	}
	for i := range r.Steps {
		st := &r.Steps[i]
		st.Command, st.Error = scrub(st.Command), scrub(st.Error)
		scrubReply(st.Reply, scrub)
	}
	res := &r.Result
	res.Command, res.Error, res.MessageFate = scrub(res.Command), scrub(res.Error), scrub(res.MessageFate)
	scrubReply(res.Reply, scrub)
	scrubDiagnosis(r.Diagnosis, scrub)
}
