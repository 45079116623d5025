package transcript

import (
	"encoding/json"
	"fmt"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// TextOptions tunes the text renderer.
type TextOptions struct {
	Timestamps bool // prefix each line with the time since the start, e.g. "[+0.012s]"
	// NoMarkers leaves out the direction marker of these kinds of lines
	// (swaks's --no-hints family).
	NoMarkers map[Direction]bool
	// Diagnosis writes the diagnosis block after the annotation (the CLI
	// passes diagnose.WriteText); nil leaves it out.
	Diagnosis func(io.Writer, diagnose.Diagnosis) error
}

// Escape makes s safe for a terminal: control bytes (NUL, ESC, CR ...),
// DEL and invalid UTF-8 are shown as \xNN so a hostile server cannot drive
// the user's terminal. Tabs are kept.
func Escape(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError && r >= 0xa0 {
				b.WriteString(s[i : i+size])
				i += size
				continue
			}
			fmt.Fprintf(&b, `\x%02x`, c)
			i++
			continue
		}
		if (c < 0x20 && c != '\t') || c == 0x7f {
			fmt.Fprintf(&b, `\x%02x`, c)
		} else {
			b.WriteByte(c)
		}
		i++
	}
	return b.String()
}

// WriteEvent writes one event as a swaks-like text line.
func WriteEvent(w io.Writer, e Event, opts TextOptions) error {
	marker := e.Marker()
	if opts.NoMarkers[e.Dir] {
		marker = ""
	}
	var err error
	if opts.Timestamps {
		_, err = fmt.Fprintf(w, "[+%7.3fs] %s%s\n", e.At.Seconds(), marker, Escape(e.Text))
	} else {
		_, err = fmt.Fprintf(w, "%s%s\n", marker, Escape(e.Text))
	}
	return err
}

// WriteText writes the whole transcript followed by the annotation block.
func WriteText(w io.Writer, r *Report, opts TextOptions) error {
	for _, e := range r.Events {
		if err := WriteEvent(w, e, opts); err != nil {
			return err
		}
	}
	return WriteAnnotation(w, r, opts)
}

// WriteAnnotation writes the block that says where the session stopped,
// what the reply means and what to do. It writes nothing for a session
// that succeeded without any refusal worth noting.
func WriteAnnotation(w io.Writer, r *Report, opts TextOptions) error {
	if err := writeAnnotation(w, r, opts); err != nil {
		return err
	}
	return writeChecks(w, r.Checks)
}

// writeChecks lists the sender checks, one line each, after the diagnosis
// that their verdict is part of.
func writeChecks(w io.Writer, checks []sendercheck.Check) error {
	if len(checks) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("\nSender checks:\n")
	for _, c := range checks {
		subject := c.Subject
		if c.IP != "" && c.IP != c.Subject {
			subject += " (IP " + c.IP + ")"
		}
		fmt.Fprintf(&b, "  %-13s %-10s %s: %s\n", c.Name, c.Result, Escape(subject), Escape(c.Detail))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeAnnotation(w io.Writer, r *Report, opts TextOptions) error {
	res := r.Result
	if fb := r.TLSFallback; fb != nil {
		how := "a new connection without STARTTLS finished the session in clear, as MTAs do (--tls-optional-strict stops instead)"
		if fb.Action == "same-connection" {
			how = "the session went on in clear on the same connection (--tls-optional, as swaks does)"
		}
		if _, err := fmt.Fprintf(w, "\n*** TLS finding: STARTTLS was offered but the handshake failed (RFC 8460 %s): %s\n    %s\n", fb.ResultType, Escape(fb.Reason), how); err != nil {
			return err
		}
	}
	if res.OK && len(res.RejectedRcpts) == 0 {
		what := res.MessageFate
		switch {
		case res.Dropped && res.MessageFate != "":
			what = res.MessageFate + "; then the connection was dropped without QUIT (--drop-after " + res.StoppedAfter + ")"
		case res.Dropped:
			what = "connection dropped without QUIT after " + res.StoppedAfter + " as asked (--drop-after); no message sent"
		case res.StoppedAfter != "":
			what = "stopped after " + res.StoppedAfter + " as asked (--quit-after); no message sent"
		}
		if what == "" {
			return nil
		}
		_, err := fmt.Fprintf(w, "\n=== Session succeeded (exit 0): %s\n", Escape(what))
		return err
	}
	var b strings.Builder
	b.WriteString("\n")
	if res.OK {
		fmt.Fprintf(&b, "=== Session succeeded, but %d recipient(s) were refused\n", len(res.RejectedRcpts))
	} else {
		if h := tlsHeadline(res); h != "" {
			fmt.Fprintf(&b, "*** %s (exit %d: %s)\n", h, res.ExitCode, res.ExitMeaning)
		} else if res.Reply != nil && res.Reply.Code >= 400 {
			fmt.Fprintf(&b, "*** Session failed at %s (exit %d: %s)\n", phaseLabel(res.Phase), res.ExitCode, res.ExitMeaning)
		} else {
			// No refusal: the exit code is the step's (swaks's rule), its
			// name would mislead ("EHLO rejected" for a silent server).
			fmt.Fprintf(&b, "*** Session failed at %s (exit %d)\n", phaseLabel(res.Phase), res.ExitCode)
		}
	}
	field := func(name, value string) {
		if value == "" {
			return
		}
		fmt.Fprintf(&b, "    %-10s %s\n", name+":", Escape(value))
	}
	field("command", res.Command)
	if res.Reply != nil {
		for i, l := range res.Reply.Lines {
			if i == 0 {
				field("reply", l)
			} else {
				field("", l)
			}
		}
	}
	field("error", res.Error)
	field("message", res.MessageFate)
	if len(res.AcceptedRcpts) > 0 && len(res.RejectedRcpts) > 0 {
		field("accepted", strings.Join(res.AcceptedRcpts, ", "))
		field("refused", strings.Join(res.RejectedRcpts, ", "))
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Diagnosis != nil && opts.Diagnosis != nil {
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
		return opts.Diagnosis(w, *r.Diagnosis)
	}
	return nil
}

// tlsHeadline names a failed TLS handshake by where it happened: at
// connect (implicit TLS) no STARTTLS was sent, and "failed at CONNECT"
// would read as a TCP problem.
func tlsHeadline(res Result) string {
	const exitTLS = 29
	if res.ExitCode != exitTLS || res.Reply != nil {
		return ""
	}
	switch {
	case res.Phase == "connect":
		return "TLS handshake at connect (implicit TLS) failed"
	case res.Phase == "starttls" && strings.Contains(res.Error, "TLS handshake"):
		return "TLS handshake after STARTTLS failed"
	}
	return ""
}

func phaseLabel(p string) string {
	switch p {
	case "helo":
		return "EHLO/HELO"
	case "end-of-data":
		return "end of DATA (reply after the final dot)"
	case "":
		return "an unknown step"
	default:
		return strings.ToUpper(p)
	}
}

type jsonEvent struct {
	TMS  float64   `json:"t_ms"`
	Dir  Direction `json:"dir"`
	TLS  bool      `json:"tls"`
	Text string    `json:"text"`
}

// WriteJSON writes the session JSON of DESIGN.md.
func WriteJSON(w io.Writer, r *Report) error {
	type plain Report // drops methods, keeps fields and tags
	out := struct {
		*plain
		Transcript []jsonEvent `json:"transcript"`
	}{plain: (*plain)(r), Transcript: make([]jsonEvent, 0, len(r.Events))}
	for _, e := range r.Events {
		out.Transcript = append(out.Transcript, jsonEvent{TMS: Millis(e.At), Dir: e.Dir, TLS: e.TLS, Text: e.Text})
	}
	if out.Steps == nil {
		out.Steps = []Step{}
	}
	if out.Checks == nil {
		out.Checks = []sendercheck.Check{}
	}
	if out.DNS == nil {
		out.DNS = []dnsclient.Query{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // "<bob@example.com>" reads better than "\u003cbob..."
	return enc.Encode(out)
}

// WriteMarkdown writes the session as Markdown for a support ticket.
func WriteMarkdown(w io.Writer, r *Report, opts TextOptions) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## SMTP probe of %s port %d\n\n", strings.ReplaceAll(Escape(r.Target.Host), "`", "'"), r.Target.Port)
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, strings.ReplaceAll(Escape(v), "|", `\|`))
		}
	}
	row("started", r.StartedAt.Format("2006-01-02 15:04:05 MST"))
	row("tool", r.Tool.Name+" "+r.Tool.Version)
	row("target", fmt.Sprintf("%s:%d", r.Target.Host, r.Target.Port))
	row("address", r.Target.Address)
	row("TLS mode", r.Target.TLSMode)
	switch {
	case r.TLS != nil && r.TLS.HandshakeError != "":
		row("TLS", "handshake failed ("+string(r.TLS.ResultType)+"): "+r.TLS.HandshakeError)
	case r.TLS != nil && r.TLS.Version == "" && r.TLS.ResultType != "":
		row("TLS", "not started ("+string(r.TLS.ResultType)+"): "+r.TLS.VerifySummary)
	case r.TLS != nil:
		v := "verified"
		if !r.TLS.Verified {
			v = "NOT verified: " + r.TLS.VerifyError
		}
		row("TLS", r.TLS.Version+", "+r.TLS.Cipher+", certificate "+v)
	}
	if fb := r.TLSFallback; fb != nil {
		row("TLS fallback", "went on in clear ("+fb.Action+") after: "+fb.Reason)
	}
	if r.Result.OK {
		row("result", fmt.Sprintf("success (exit %d)", r.Result.ExitCode))
	} else {
		row("result", fmt.Sprintf("failed at %s (exit %d: %s)", r.Result.Phase, r.Result.ExitCode, r.Result.ExitMeaning))
	}
	// A server's text may hold backticks: the fence must be longer than
	// any run of them, or the reply would close the code block.
	fence := codeFence(r)
	b.WriteString("\n### Transcript\n\n" + fence + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	for _, e := range r.Events {
		if err := WriteEvent(w, e, opts); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, fence+"\n"); err != nil {
		return err
	}
	if r.Result.OK && len(r.Result.RejectedRcpts) == 0 {
		if len(r.Checks) == 0 {
			return nil
		}
		// A session that succeeded has no diagnosis, but the checks the
		// user asked for (--check-sender, --dkim-key) are still its
		// findings.
		if _, err := io.WriteString(w, "\n### Sender checks\n\n"+fence); err != nil {
			return err
		}
		if err := writeChecks(w, r.Checks); err != nil {
			return err
		}
		_, err := io.WriteString(w, fence+"\n")
		return err
	}
	if _, err := io.WriteString(w, "\n### Diagnosis\n\n"+fence+"\n"); err != nil {
		return err
	}
	if err := WriteAnnotation(w, r, opts); err != nil {
		return err
	}
	_, err := io.WriteString(w, fence+"\n")
	return err
}

// codeFence is a run of backticks longer than any in the report's text.
func codeFence(r *Report) string {
	longest := 0
	count := func(s string) {
		run := 0
		for i := 0; i < len(s); i++ {
			if s[i] == '`' {
				run++
				longest = max(longest, run)
			} else {
				run = 0
			}
		}
	}
	for _, e := range r.Events {
		count(e.Text)
	}
	if d := r.Diagnosis; d != nil {
		count(d.Reply)
		count(d.Meaning)
		for _, s := range d.NextSteps {
			count(s)
		}
		for _, s := range d.Evidence {
			count(s)
		}
	}
	count(r.Result.Error)
	for _, c := range r.Checks {
		count(c.Subject)
		count(c.Detail)
	}
	return strings.Repeat("`", max(3, longest+1))
}

// Millis converts a duration to fractional milliseconds for JSON.
func Millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}
