package dnsreport

import (
	"encoding/json"
	"fmt"
	"github.com/smtpprobe/smtpprobe/transcript"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// labelWidth aligns the section labels of the text report.
const labelWidth = 10

// WriteText writes the report for a person: one section per record kind,
// values aligned, then the problems in words with what to fix, the
// warnings, the lookups that failed, and a last line with the exit code.
func WriteText(w io.Writer, rep *Report) error {
	tw := &textWriter{w: w}
	head := "=== DNS report for " + rep.Domain
	var extra []string
	if rep.IP != "" {
		extra = append(extra, "IP "+rep.IP)
	}
	if rep.DKIMSelector != "" {
		extra = append(extra, "DKIM selector "+rep.DKIMSelector)
	}
	if len(extra) > 0 {
		head += " (" + strings.Join(extra, ", ") + ")"
	}
	tw.line(head)
	tw.line("")

	tw.writeMX(rep)
	if rep.SPF != nil {
		s := rep.SPF
		if s.Record == "" {
			tw.field("SPF", noneOrUnknown(s.unanswered))
		} else {
			tw.field("SPF", s.Record)
			n := fmt.Sprintf("%d of %d DNS lookups, %d of %d void lookups", s.Lookups, spfMaxLookups, s.VoidLookups, spfMaxVoidLookups)
			if s.Truncated {
				n = "at least " + n + " (counting stopped)"
			}
			if len(s.Loops) > 0 {
				n += "; loop: " + strings.Join(s.Loops, "; ")
			}
			tw.field("", n)
		}
		if s.Result != nil {
			tw.field("", fmt.Sprintf("result for %s: %s%s", rep.IP, s.Result.Result, suffix(s.Result.Mechanism, " (", ")")))
		}
	}
	if d := rep.DMARC; d != nil {
		v := d.Result
		if d.Record != "" {
			v += "  " + d.Record
		}
		tw.field("DMARC", v)
	}
	if m := rep.MTASTS; m != nil {
		if m.Record == "" {
			tw.field("MTA-STS", noneOrUnknown(m.unanswered))
		} else {
			tw.field("MTA-STS", m.Record)
			switch {
			case m.Policy != nil:
				p := m.Policy
				tw.field("", fmt.Sprintf("policy: %s, mode %s, max_age %d, mx %s", p.Version, p.Mode, p.MaxAge, orDash(strings.Join(p.MX, ", "))))
			case m.ResultType != nil:
				tw.field("", "policy: unusable ("+*m.ResultType+")")
			}
		}
	}
	if t := rep.TLSRPT; t != nil {
		if t.Record == "" {
			tw.field("TLS-RPT", noneOrUnknown(t.unanswered))
		} else {
			tw.field("TLS-RPT", t.Record)
		}
	}
	if d := rep.DKIM; d != nil {
		if d.Record == "" {
			tw.field("DKIM", d.Name+": "+noneOrUnknown(d.unanswered))
		} else {
			desc := d.KeyType
			if d.KeyBits > 0 {
				desc += fmt.Sprintf(" %d bits", d.KeyBits)
			}
			if d.Testing {
				desc += ", testing (t=y)"
			}
			tw.field("DKIM", d.Name+": "+desc)
		}
	}
	if rep.PTR != nil {
		tw.field("PTR", fmt.Sprintf("%s -> %s: %s", rep.IP, orDash(strings.Join(rep.PTR.Names, ", ")), fcrdnsWord(rep.PTR.Result)))
	}
	for i, c := range rep.DNSBL {
		label := ""
		if i == 0 {
			label = "DNSBL"
		}
		v := fmt.Sprintf("%-28s %s", c.Subject, c.Result)
		if c.Result == sendercheck.ResultListed && len(c.Answers) > 0 {
			v += " (" + strings.Join(c.Answers, ", ") + ")"
		}
		tw.field(label, v)
	}

	tw.list("Problems", rep.Problems)
	tw.list("Warnings", rep.Warnings)
	tw.list("DNS could not answer", rep.DNSFailures)
	tw.line("")
	tw.line(fmt.Sprintf("=== %s, %s%s (exit %d)", plural(len(rep.Problems), "problem"), plural(len(rep.Warnings), "warning"),
		suffix(plural(len(rep.DNSFailures), "failed lookup"), ", ", ""), rep.ExitCode))
	return tw.err
}

// writeMX writes the MX hosts as a table: preference, host, address,
// reverse DNS and its forward confirmation.
func (tw *textWriter) writeMX(rep *Report) {
	kind := map[string]string{
		MXNormal:   "by preference",
		MXImplicit: "none: implicit MX, the domain's own address (RFC 5321 §5.1)",
		MXNull:     "null MX (RFC 7505): the domain accepts no mail",
		MXNone:     "none: no mail host",
		MXUnknown:  "unknown: DNS did not answer",
	}[rep.MXKind]
	tw.field("MX", kind)
	if len(rep.MX) == 0 {
		return
	}
	var b strings.Builder
	t := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, h := range rep.MX {
		if len(h.Addresses) == 0 {
			what := "(no address)"
			if h.short != "" {
				what = "(" + h.short + ")"
			}
			fmt.Fprintf(t, "%d\t%s\t%s\n", h.Preference, h.Host, what) // a last cell does not widen its column
			continue
		}
		for i, a := range h.Addresses {
			pref, host := fmt.Sprint(h.Preference), h.Host
			if i > 0 {
				pref, host = "", ""
			}
			fmt.Fprintf(t, "%s\t%s\t%s\tPTR %s\t%s\n", pref, host, a.Address, orDash(strings.Join(a.PTR, ", ")), fcrdnsWord(a.FCrDNS))
		}
	}
	t.Flush()
	for l := range strings.SplitSeq(strings.TrimRight(b.String(), "\n"), "\n") {
		tw.field("", strings.TrimRight(l, " "))
	}
}

// textWriter keeps the first write error so the writers above stay flat.
type textWriter struct {
	w   io.Writer
	err error
}

// line writes one line with the control bytes a record may hold (a
// hostile TXT record can carry ESC sequences) shown escaped, never raw.
func (tw *textWriter) line(s string) {
	if tw.err == nil {
		_, tw.err = io.WriteString(tw.w, transcript.Escape(s)+"\n")
	}
}

// maxFieldLen clips a record shown in text (a TXT record may be 60 KiB;
// --json keeps it whole).
const maxFieldLen = 400

func (tw *textWriter) field(label, value string) {
	if len(value) > maxFieldLen {
		value = fmt.Sprintf("%s... (%d bytes; --json has it whole)", value[:maxFieldLen], len(value))
	}
	tw.line(fmt.Sprintf("%-*s %s", labelWidth, label, value))
}

// list writes a numbered list of sentences, wrapped for a terminal.
func (tw *textWriter) list(title string, items []string) {
	if len(items) == 0 {
		return
	}
	tw.line("")
	tw.line(title + ":")
	for i, it := range items {
		prefix := fmt.Sprintf("  %d. ", i+1)
		for j, l := range wrap(it, 76-len(prefix)) {
			if j > 0 {
				prefix = strings.Repeat(" ", len(prefix))
			}
			tw.line(prefix + l)
		}
	}
}

// wrap breaks s into lines of at most width bytes at spaces (a longer word
// stays whole).
func wrap(s string, width int) []string {
	var lines []string
	var cur strings.Builder
	for _, word := range strings.Fields(s) {
		if cur.Len() > 0 && cur.Len()+1+len(word) > width {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(word)
	}
	if cur.Len() > 0 {
		lines = append(lines, cur.String())
	}
	return lines
}

func fcrdnsWord(result string) string {
	switch result {
	case sendercheck.ResultPass:
		return "forward-confirmed"
	case sendercheck.ResultFail:
		return "NOT forward-confirmed"
	case sendercheck.ResultNone:
		return "no PTR"
	case sendercheck.ResultTempError:
		return "reverse lookup failed"
	}
	return result
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func suffix(s, before, after string) string {
	if s == "" || strings.HasPrefix(s, "0 ") {
		return ""
	}
	return before + s + after
}

func noneOrUnknown(unanswered bool) string {
	if unanswered {
		return "unknown: DNS did not answer"
	}
	return "none"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
