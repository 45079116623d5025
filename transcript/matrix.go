package transcript

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// MXEntry is one address of one MX host in an all-MX run (--all-mx): the
// same session against each address, side by side. The first seven keys
// are the DESIGN.md contract.
type MXEntry struct {
	Host       string              `json:"host"`       // the MX host name (or the -s host)
	Preference int                 `json:"preference"` // its MX preference (0 for an implicit MX or -s)
	Address    string              `json:"address"`    // the IP probed, without port (the port is target.port)
	Result     Result              `json:"result"`
	TLS        *TLSInfo            `json:"tls"`
	Diagnosis  *diagnose.Diagnosis `json:"diagnosis"`
	DurationMS float64             `json:"duration_ms"`
	// Extensions.
	Implicit bool `json:"implicit,omitempty"` // implicit MX: the domain's own address
	// Banner is the name the server gives in its greeting (the first word
	// of the banner text), "" when no banner came.
	Banner string `json:"banner_name,omitempty"`
	// Outcome says how the session ended in the words the differences use
	// ("accepts", "refuses connections", "times out waiting for the
	// banner", "refuses at RCPT TO with 554 5.7.1 (ip-blocklisted)").
	Outcome string `json:"outcome"`
	// Failure names a failure that came without a refusing reply:
	// "refused" (connection refused), "timeout", "deadline" (the session
	// deadline), "closed", "unreachable", "unresolved", "tls",
	// "interrupted", "error"; "reply" for a refusing reply; "" on success.
	Failure     string       `json:"failure,omitempty"`
	TLSFallback *TLSFallback `json:"tls_fallback,omitempty"`
	StartedMS   float64      `json:"started_ms"` // when this session started, since the run started
	Steps       []Step       `json:"steps"`
	Events      []Event      `json:"-"` // the session's own transcript ("transcript" in JSON)
}

// MarshalJSON writes the entry with its transcript, in the shape of the
// session JSON's "transcript".
func (e MXEntry) MarshalJSON() ([]byte, error) {
	type plain MXEntry
	out := struct {
		plain
		Transcript []jsonEvent `json:"transcript"`
	}{plain: plain(e), Transcript: jsonEvents(e.Events)}
	if out.Steps == nil {
		out.Steps = []Step{}
	}
	return json.Marshal(out)
}

func jsonEvents(events []Event) []jsonEvent {
	out := make([]jsonEvent, 0, len(events))
	for _, e := range events {
		out = append(out, jsonEvent{TMS: Millis(e.At), Dir: e.Dir, TLS: e.TLS, Text: e.Text})
	}
	return out
}

// OK reports whether the entry's session succeeded.
func (e MXEntry) OK() bool { return e.Result.OK }

// Name is "host (address)", how the differences name one address.
func (e MXEntry) Name() string {
	if e.Address == "" || e.Address == e.Host {
		return e.Host
	}
	return e.Host + " (" + e.Address + ")"
}

// TLSColumn is the TLS cell of the matrix: the version, "failed" when the
// handshake broke (then the session may have gone on in clear), "none"
// when the session got past EHLO without TLS, "-" when it never got there.
func (e MXEntry) TLSColumn() string {
	switch {
	case e.TLS != nil && e.TLS.HandshakeError != "":
		if e.TLSFallback != nil {
			return "failed, clear"
		}
		return "failed"
	case e.TLS != nil && e.TLS.Version == "":
		return "none" // STARTTLS required but not offered or refused
	case e.TLS != nil:
		return e.TLS.Version
	}
	for _, s := range e.Steps {
		if s.Phase == "helo" && s.Reply != nil && s.Reply.Code/100 == 2 {
			return "none"
		}
	}
	return "-"
}

// CertColumn is the certificate verdict: "verified", the RFC 8460 result
// type of the failure, or "-" without a certificate.
func (e MXEntry) CertColumn() string {
	switch {
	case e.TLS == nil || len(e.TLS.PeerCertificates) == 0 && e.TLS.ResultType == "":
		return "-"
	case e.TLS.Verified:
		return "verified"
	case e.TLS.ResultType != "":
		return string(e.TLS.ResultType)
	}
	return "not verified"
}

// ResultColumn is the outcome cell: "ok", or the failed phase, the reply
// code (or what happened instead of a reply), the diagnosis category and
// the exit code: "banner 554 5.7.1 ip-blocklisted (exit 21)".
func (e MXEntry) ResultColumn() string {
	r := e.Result
	if r.OK {
		if len(r.RejectedRcpts) > 0 {
			return fmt.Sprintf("ok, %d recipient(s) refused", len(r.RejectedRcpts))
		}
		return "ok"
	}
	parts := []string{r.Phase}
	if r.Reply != nil && r.Reply.Code >= 400 {
		parts = append(parts, strconv.Itoa(r.Reply.Code))
		if r.Reply.EnhancedCode != "" {
			parts = append(parts, r.Reply.EnhancedCode)
		}
	} else if e.Failure != "" && e.Failure != "reply" {
		parts = append(parts, e.Failure)
	}
	// A failure without a reply is named by its kind; the category
	// (connection-failed) would repeat it.
	if d := e.Diagnosis; d != nil && d.Category != "" && d.Category != "unknown" && (e.Failure == "" || e.Failure == "reply" || e.Failure == "tls") {
		parts = append(parts, d.Category)
	}
	return fmt.Sprintf("%s (exit %d)", strings.Join(parts, " "), r.ExitCode)
}

// MatrixOptions tunes the all-MX renderers.
type MatrixOptions struct {
	TextOptions
	// Transcripts writes each address's session transcript before the
	// matrix (the CLI's verbose option).
	Transcripts bool
}

// matrixHeader names the columns of the all-MX matrix.
var matrixHeader = []string{"HOST", "PREF", "ADDRESS", "BANNER", "TLS", "CERTIFICATE", "RESULT", "TIME"}

// matrixRows is the matrix as cells, escaped for a terminal.
func matrixRows(r *Report) [][]string {
	rows := make([][]string, 0, len(r.MXMatrix))
	for _, e := range r.MXMatrix {
		banner := e.Banner
		if banner == "" {
			banner = "-"
		}
		pref := strconv.Itoa(e.Preference)
		if e.Implicit {
			pref = "implicit"
		}
		rows = append(rows, []string{
			Escape(e.Host), pref, Escape(e.Address), Escape(banner), Escape(e.TLSColumn()), Escape(e.CertColumn()),
			Escape(e.ResultColumn()), fmt.Sprintf("%.0f ms", e.DurationMS),
		})
	}
	return rows
}

// WriteMatrix writes an all-MX report as text: optionally each address's
// transcript, then the matrix as an aligned table, the differences in
// words, the summary line, and the annotation of the entry the exit code
// comes from (the most preferred address that failed).
func WriteMatrix(w io.Writer, r *Report, opts MatrixOptions) error {
	var b strings.Builder
	if opts.Transcripts {
		for _, e := range r.MXMatrix {
			fmt.Fprintf(&b, "=== Session with %s\n", Escape(e.Name()))
			for _, ev := range e.Events {
				if err := WriteEvent(&b, ev, opts.TextOptions); err != nil {
					return err
				}
			}
			b.WriteString("\n")
		}
	}
	what := "every address of " + Escape(r.Target.Host)
	if r.Target.Source != "server" && r.Target.Domain != "" {
		what = "every MX address of " + Escape(r.Target.Domain)
	}
	fmt.Fprintf(&b, "=== Probed %s, port %d, TLS mode %s\n\n", what, r.Target.Port, r.Target.TLSMode)
	rows := matrixRows(r)
	widths := make([]int, len(matrixHeader))
	for _, row := range append([][]string{matrixHeader}, rows...) {
		for i, c := range row {
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	right := map[int]bool{1: true, 7: true} // PREF and TIME are numbers
	line := func(row []string) {
		var l strings.Builder
		for i, c := range row {
			pad := strings.Repeat(" ", widths[i]-len([]rune(c)))
			if right[i] {
				l.WriteString(pad + c)
			} else {
				l.WriteString(c + pad)
			}
			if i < len(row)-1 {
				l.WriteString("  ")
			}
		}
		b.WriteString(strings.TrimRight(l.String(), " ") + "\n")
	}
	line(matrixHeader)
	for _, row := range rows {
		line(row)
	}
	if r.MXSkipped > 0 {
		fmt.Fprintf(&b, "(%d more address(es) not probed: at most %d per run)\n", r.MXSkipped, len(r.MXMatrix))
	}
	if len(r.MXDifferences) > 0 {
		b.WriteString("\nDifferences:\n")
		for _, d := range r.MXDifferences {
			fmt.Fprintf(&b, "  - %s\n", Escape(d))
		}
	} else if len(r.MXMatrix) > 1 {
		b.WriteString("\nNo differences between the addresses.\n")
	}
	marker := "*** "
	if r.Result.OK {
		marker = "=== "
	}
	fmt.Fprintf(&b, "\n%s%s\n", marker, Escape(r.MXSummary))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if r.Result.OK && len(r.Result.RejectedRcpts) == 0 {
		return nil
	}
	return WriteAnnotation(w, r, opts.TextOptions)
}

// WriteMatrixMarkdown writes an all-MX report as Markdown for a ticket: the
// matrix as a table, the differences as a list, the summary, and each
// address's transcript in a collapsed block.
func WriteMatrixMarkdown(w io.Writer, r *Report, opts MatrixOptions) error {
	var b strings.Builder
	cell := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "`", "'")
	}
	what := Escape(r.Target.Host)
	if r.Target.Source != "server" && r.Target.Domain != "" {
		what = "the MX of " + Escape(r.Target.Domain)
	}
	fmt.Fprintf(&b, "## SMTP probe of every address of %s, port %d\n\n", cell(what), r.Target.Port)
	fmt.Fprintf(&b, "Started %s by %s %s; TLS mode %s.\n\n", r.StartedAt.Format("2006-01-02 15:04:05 MST"), cell(r.Tool.Name), cell(r.Tool.Version), r.Target.TLSMode)
	b.WriteString("| " + strings.Join(matrixHeader, " | ") + " |\n")
	b.WriteString("|---|---:|---|---|---|---|---|---:|\n")
	for _, row := range matrixRows(r) {
		for i := range row {
			row[i] = cell(row[i])
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	if r.MXSkipped > 0 {
		fmt.Fprintf(&b, "\n%d more address(es) not probed (at most %d per run).\n", r.MXSkipped, len(r.MXMatrix))
	}
	if len(r.MXDifferences) > 0 {
		b.WriteString("\n### Differences\n\n")
		for _, d := range r.MXDifferences {
			fmt.Fprintf(&b, "- %s\n", cell(Escape(d)))
		}
	}
	fmt.Fprintf(&b, "\n**%s**\n", cell(Escape(r.MXSummary)))
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	// The fence must outlast any run of backticks in every transcript.
	all := &Report{Result: r.Result, Diagnosis: r.Diagnosis}
	for _, e := range r.MXMatrix {
		all.Events = append(all.Events, e.Events...)
	}
	fence := codeFence(all)
	if !r.Result.OK || len(r.Result.RejectedRcpts) > 0 {
		if _, err := io.WriteString(w, "\n### Diagnosis\n\n"+fence+"\n"); err != nil {
			return err
		}
		if err := WriteAnnotation(w, r, opts.TextOptions); err != nil {
			return err
		}
		if _, err := io.WriteString(w, fence+"\n"); err != nil {
			return err
		}
	}
	for _, e := range r.MXMatrix {
		if !opts.Transcripts && e.OK() {
			continue
		}
		if _, err := fmt.Fprintf(w, "\n<details><summary>%s: %s</summary>\n\n%s\n", cell(Escape(e.Name())), cell(Escape(e.ResultColumn())), fence); err != nil {
			return err
		}
		for _, ev := range e.Events {
			if err := WriteEvent(w, ev, opts.TextOptions); err != nil {
				return err
			}
		}
		if _, err := io.WriteString(w, fence+"\n\n</details>\n"); err != nil {
			return err
		}
	}
	return nil
}
