package relaycheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// TextOptions tunes the text output.
type TextOptions struct {
	Verbose     bool // the diagnosis's next steps under each check
	Transcripts bool // every session's transcript after the table
	Timestamps  bool // relative timestamps in the transcripts
}

const (
	nameWidth = 30
	wrapWidth = 100
	indent    = "    "
)

// WriteHeader writes what is tested and the table heading; it is written
// before the first check so that rows can follow as they are decided.
func WriteHeader(w io.Writer, t Target) error {
	var b strings.Builder
	host := t.Host
	if host == "" {
		host = "the MX of " + t.Domain
	}
	tls := "STARTTLS when offered"
	switch t.TLSMode {
	case "implicit":
		tls = "implicit TLS"
	case "none":
		tls = "no TLS"
	}
	fmt.Fprintf(&b, "=== relay-check of %s port %d (%s; %s), mail domain %s\n", transcript.Escape(host), t.Port, roleName(t.Role), tls, transcript.Escape(t.Domain))
	local := t.LocalRecipient
	if t.LocalGuessed {
		local += " (guessed; --to sets it)"
	}
	fmt.Fprintf(&b, "=== local recipient %s; outside sender %s, outside recipient %s\n",
		transcript.Escape(local), transcript.Escape(t.ForeignSender), transcript.Escape(t.ForeignRecipient))
	if t.AuthUser != "" {
		fmt.Fprintf(&b, "=== AUTH user %s, sender %s, spoofed sender %s\n", transcript.Escape(t.AuthUser), transcript.Escape(showAddr(t.Sender)), transcript.Escape(t.SpoofSender))
	}
	if t.Send {
		b.WriteString("=== --send: accepted transactions are completed with a short test message\n")
	} else {
		b.WriteString("=== each session stops after RCPT: no message is sent\n")
	}
	fmt.Fprintf(&b, "\n%-*s %-7s %s\n", nameWidth, "CHECK", "VERDICT", "REPLY")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCheck writes one row: name, verdict, the proving reply's first
// line, then the detail and the diagnosis, indented.
func WriteCheck(w io.Writer, c Check, opts TextOptions) error {
	var b strings.Builder
	reply := "-"
	if c.Reply != "" {
		lines := strings.Split(c.Reply, "\n")
		reply = transcript.Escape(firstLine(lines))
	}
	fmt.Fprintf(&b, "%-*s %-7s %s\n", nameWidth, c.Name, strings.ToUpper(string(c.Verdict)), reply)
	for _, l := range wrap(transcript.Escape(c.Detail), wrapWidth-len(indent)) {
		b.WriteString(indent + l + "\n")
	}
	if d := c.Diagnosis; d != nil && d.Meaning != "" {
		why := fmt.Sprintf("diagnosis: %s (party: %s): %s", d.Category, d.Party, d.Meaning)
		for _, l := range wrap(transcript.Escape(why), wrapWidth-len(indent)) {
			b.WriteString(indent + l + "\n")
		}
		// Next steps are advice for fixing a problem; under a pass they
		// would tell the admin to change what works.
		if opts.Verbose && c.Verdict != Pass {
			for _, s := range d.NextSteps {
				for i, l := range wrap(transcript.Escape(s), wrapWidth-len(indent)-4) {
					lead := "  - "
					if i > 0 {
						lead = "    "
					}
					b.WriteString(indent + lead + l + "\n")
				}
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteSummary writes the counts and overall verdict, then (with
// Transcripts) each session's transcript.
func WriteSummary(w io.Writer, r *Report, opts TextOptions) error {
	var b strings.Builder
	b.WriteString("\n")
	switch {
	case !r.Reachable:
		fmt.Fprintf(&b, "*** the server could not be reached: %s\n", transcript.Escape(r.Error))
	case r.Error != "":
		fmt.Fprintf(&b, "*** %s\n", transcript.Escape(r.Error))
	}
	if fb := r.TLSFallback; fb != nil {
		fmt.Fprintf(&b, "=== STARTTLS is offered but its handshake fails (%s: %s): the unauthenticated checks ran in clear, as with --no-tls\n",
			transcript.Escape(fb.ResultType), transcript.Escape(fb.Reason))
	}
	if r.Interrupted {
		b.WriteString("*** interrupted: the remaining checks were skipped\n")
	}
	inconclusive := ""
	if n := r.Counts[Inconclusive]; n > 0 {
		inconclusive = fmt.Sprintf(", %d inconclusive", n)
	}
	fmt.Fprintf(&b, "=== %d checks: %d pass, %d fail, %d warn%s, %d skip; verdict %s (exit %d, %.1f s)\n",
		len(r.Checks), r.Counts[Pass], r.Counts[Fail], r.Counts[Warn], inconclusive, r.Counts[Skip], strings.ToUpper(string(r.Verdict)), r.ExitCode, r.DurationMS/1000)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if !opts.Transcripts {
		return nil
	}
	to := transcript.TextOptions{Timestamps: opts.Timestamps}
	for i, s := range r.Sessions {
		if _, err := fmt.Fprintf(w, "\n=== session %d/%d %s (%s): %s\n", i+1, len(r.Sessions), s.Name, strings.Join(s.Checks, ", "), s.Purpose); err != nil {
			return err
		}
		if s.Report == nil {
			continue
		}
		for _, e := range s.Report.Events {
			if err := transcript.WriteEvent(w, e, to); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteText writes the whole report as text.
func WriteText(w io.Writer, r *Report, opts TextOptions) error {
	if err := WriteHeader(w, r.Target); err != nil {
		return err
	}
	for _, c := range r.Checks {
		if err := WriteCheck(w, c, opts); err != nil {
			return err
		}
	}
	return WriteSummary(w, r, opts)
}

// MarshalJSON writes the session with its full session JSON (DESIGN.md:
// target, steps, tls, result, diagnosis, transcript) under "session".
func (s Session) MarshalJSON() ([]byte, error) {
	var raw json.RawMessage
	if s.Report != nil {
		var buf bytes.Buffer
		if err := transcript.WriteJSON(&buf, s.Report); err != nil {
			return nil, fmt.Errorf("session %s: %w", s.Name, err)
		}
		raw = json.RawMessage(bytes.TrimSpace(buf.Bytes()))
	} else {
		raw = json.RawMessage("null")
	}
	return json.Marshal(struct {
		Name    string          `json:"name"`
		Purpose string          `json:"purpose"`
		Checks  []string        `json:"checks"`
		Session json.RawMessage `json:"session"`
	}{s.Name, s.Purpose, s.Checks, raw})
}

// WriteJSON writes the report as one indented JSON object.
func WriteJSON(w io.Writer, r *Report) error {
	out := *r
	if out.Checks == nil {
		out.Checks = []Check{}
	}
	if out.Sessions == nil {
		out.Sessions = []Session{}
	}
	if out.Command == nil {
		out.Command = []string{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	// Addresses are full of < and >: keep them readable.
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}

// wrap breaks s into lines of at most width runes at spaces; a word longer
// than width stays whole on its own line.
func wrap(s string, width int) []string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		words := strings.Fields(para)
		line := ""
		for _, wd := range words {
			switch {
			case line == "":
				line = wd
			case len([]rune(line))+1+len([]rune(wd)) > width:
				lines = append(lines, line)
				line = wd
			default:
				line += " " + wd
			}
		}
		if line != "" {
			lines = append(lines, line)
		}
	}
	return lines
}
