// Package explain implements `probe explain`: it finds SMTP replies, DSN
// bounces and MTA log lines in pasted text or whole mail logs, hands each to
// the diagnosis engine and prints the explanations, or a summary of a whole
// log by category, party and remote host.
//
// The scanner streams: it reads line by line with bounded buffers (lines
// are cut at MaxLineBytes, a bounce message is buffered up to
// MaxMessageBytes, tallies are bounded), so memory stays flat whatever the
// input size, and binary garbage is read without failing.
package explain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// Diagnoser explains one reply; *diagnose.Engine implements it.
type Diagnoser interface {
	Diagnose(diagnose.Input) diagnose.Diagnosis
}

// Options are the parsed flags of `probe explain` and its collaborators.
type Options struct {
	Phase   string // --phase: a diagnose.Phase constant, "" for any
	JSON    bool   // --json
	Summary bool   // --summary
	// TopN is how many remote hosts and reasons a summary lists; 0 means 10.
	TopN int
	// Diagnoser is the engine (diagnose.New()).
	Diagnoser Diagnoser
	// WriteText renders one diagnosis for people (diagnose.WriteText). It
	// is needed for text output of single diagnoses.
	WriteText func(io.Writer, diagnose.Diagnosis) error
}

// Exit codes of `probe explain` (DESIGN.md).
const (
	ExitOK    = 0
	ExitUsage = 1
)

// ErrNoReply is reported when the input holds nothing to explain.
var ErrNoReply = errors.New("no SMTP reply found in input")

// ValidPhases returns the values --phase accepts.
func ValidPhases() []string {
	return []string{
		diagnose.PhaseConnect, diagnose.PhaseBanner, diagnose.PhaseHelo, diagnose.PhaseStartTLS,
		diagnose.PhaseAuth, diagnose.PhaseMail, diagnose.PhaseRcpt, diagnose.PhaseData,
		diagnose.PhaseEndOfData, diagnose.PhaseQuit, diagnose.PhaseAny,
	}
}

// ValidatePhase checks a --phase value ("" means any).
func ValidatePhase(p string) error {
	if p == "" {
		return nil
	}
	if slices.Contains(ValidPhases(), p) {
		return nil
	}
	return fmt.Errorf("invalid --phase %q: want one of %s", p, strings.Join(ValidPhases(), ", "))
}

// Run performs `probe explain [--phase P] [--json] [--summary] [TEXT...]`
// and returns the exit code.
//
// With TEXT, the arguments joined by newlines are one server reply, given
// to the engine as it is. If they do not start with a reply code but
// contain log lines or bounce text (a Postfix line pasted as an argument),
// what the scanner finds there is explained instead. Without TEXT, stdin is
// scanned and every refusal found is explained, in input order, as it is
// found.
//
// Exit status: 0 when at least one diagnosis was produced (for --summary:
// when any input was read, even if it held no refusal, since "no
// refusals" is then the answer); 1 on usage errors, including an input
// in which nothing explainable was found ("no SMTP reply found in
// input"), and when reading or writing fails.
func Run(ctx context.Context, opts Options, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "probe explain: %v\n", err)
		return ExitUsage
	}
	if err := ValidatePhase(opts.Phase); err != nil {
		return fail(err)
	}
	if opts.Diagnoser == nil {
		return fail(errors.New("no diagnosis engine configured"))
	}
	if !opts.JSON && !opts.Summary && opts.WriteText == nil {
		return fail(errors.New("no text renderer configured"))
	}
	phase := opts.Phase
	if phase == "" {
		phase = diagnose.PhaseAny
	}
	out := &writer{opts: opts, w: stdout}
	if opts.Summary {
		out.sum = NewSummary()
	}

	var lines, truncated int
	if len(args) > 0 {
		findings := argFindings(args)
		out.single = len(findings) == 1 && findings[0].Source == SourceArgument
		for _, f := range findings {
			if err := out.write(f, opts.Diagnoser.Diagnose(f.Input(phase))); err != nil {
				return fail(err)
			}
		}
		lines = len(strings.Split(strings.Join(args, "\n"), "\n"))
	} else {
		if stdin == nil {
			return fail(ErrNoReply)
		}
		sc := NewScanner(ctxReader{ctx: ctx, r: stdin})
		for sc.Scan() {
			f := sc.Finding()
			if err := out.write(f, opts.Diagnoser.Diagnose(f.Input(phase))); err != nil {
				return fail(err)
			}
		}
		if err := sc.Err(); err != nil {
			return fail(err)
		}
		lines, truncated = sc.Lines(), sc.TruncatedLines()
	}

	if out.sum != nil {
		if lines == 0 {
			return fail(ErrNoReply)
		}
		out.sum.SetLines(lines, truncated)
		if err := out.writeSummary(); err != nil {
			return fail(err)
		}
		return ExitOK
	}
	if out.count == 0 {
		return fail(ErrNoReply)
	}
	return ExitOK
}

// argFindings turns the TEXT arguments into findings: one reply made of all
// their lines, unless they hold log or bounce lines the scanner recognises.
func argFindings(args []string) []Finding {
	joined := strings.Join(args, "\n")
	var lines []string
	for l := range strings.SplitSeq(joined, "\n") {
		s, _ := stripPrefix(strings.TrimRight(l, "\r"))
		if s != "" {
			lines = append(lines, cleanText(s))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	if _, _, ok := replyCode(lines[0]); !ok {
		sc := NewScanner(strings.NewReader(joined))
		var found []Finding
		for sc.Scan() {
			f := sc.Finding()
			f.Source = SourceArgument + "/" + f.Source
			found = append(found, f)
		}
		if len(found) > 0 {
			return found
		}
	}
	return []Finding{{Lines: lines, Phase: diagnose.PhaseAny, Source: SourceArgument}}
}

// ctxReader stops reading when the context is cancelled (Ctrl-C on a long
// log).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	return c.r.Read(p)
}

// writer prints diagnoses as they come: text blocks, one JSON object, or
// JSON Lines; or feeds the summary.
type writer struct {
	opts   Options
	w      io.Writer
	sum    *Summary
	single bool // the TEXT arguments gave exactly one reply
	count  int
}

// record is the JSON of one diagnosis: the Diagnosis object of DESIGN.md,
// extended with where the reply was found.
type record struct {
	FoundIn      string `json:"found_in,omitempty"` // the kind of input (dsn, postfix-log...): "source" is the rule's citation
	Line         int    `json:"line,omitempty"`
	RemoteHost   string `json:"remote_host,omitempty"`
	RemoteIP     string `json:"remote_ip,omitempty"`
	ClientHost   string `json:"client_host,omitempty"`
	ClientIP     string `json:"client_ip,omitempty"`
	Sender       string `json:"sender,omitempty"`
	Recipient    string `json:"recipient,omitempty"`
	Status       string `json:"delivery_status,omitempty"`
	Truncated    bool   `json:"truncated,omitempty"`
	Unterminated bool   `json:"unterminated,omitempty"`
}

func (o *writer) write(f Finding, d diagnose.Diagnosis) error {
	o.count++
	if o.sum != nil {
		o.sum.Add(f, d)
		return nil
	}
	if o.opts.JSON {
		b, err := encodeRecord(f, d, o.single)
		if err != nil {
			return err
		}
		if _, err := o.w.Write(b); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	if !o.single {
		if err := o.textHeader(f); err != nil {
			return err
		}
	}
	if err := o.opts.WriteText(o.w, d); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// textHeader says where a diagnosis came from, before its text block.
func (o *writer) textHeader(f Finding) error {
	var b strings.Builder
	if o.count > 1 {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "--- line %d", f.Line)
	if f.Source != "" {
		fmt.Fprintf(&b, ", %s", f.Source)
	}
	if p := f.Peer(); p != "" {
		fmt.Fprintf(&b, ", %s", p)
	}
	if f.Recipient != "" {
		fmt.Fprintf(&b, ", rcpt <%s>", f.Recipient)
	}
	if f.Status != "" {
		fmt.Fprintf(&b, ", %s", f.Status)
	}
	if f.Truncated {
		b.WriteString(", line truncated")
	}
	if f.Unterminated {
		b.WriteString(", reply unterminated")
	}
	b.WriteString(" ---\n")
	if _, err := io.WriteString(o.w, b.String()); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// encodeRecord marshals the Diagnosis and appends the finding's location
// keys. Marshalling the two separately keeps this right even if Diagnosis
// gets its own MarshalJSON.
func encodeRecord(f Finding, d diagnose.Diagnosis, indent bool) ([]byte, error) {
	if d.NextSteps == nil {
		d.NextSteps = []string{}
	}
	if d.Evidence == nil {
		d.Evidence = []string{}
	}
	db, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode diagnosis: %w", err)
	}
	src := f.Source
	if src == SourceArgument {
		src = "" // the plain contract object for a plain argument
	}
	rb, err := json.Marshal(record{FoundIn: src, Line: f.Line, RemoteHost: f.Host, RemoteIP: f.HostIP,
		ClientHost: f.ClientHost, ClientIP: f.ClientIP, Sender: f.Sender, Recipient: f.Recipient,
		Status: f.Status, Truncated: f.Truncated, Unterminated: f.Unterminated})
	if err != nil {
		return nil, fmt.Errorf("encode finding: %w", err)
	}
	var buf bytes.Buffer
	if len(db) >= 2 && db[0] == '{' && db[len(db)-1] == '}' && len(rb) > 2 {
		buf.Write(db[:len(db)-1])
		if len(db) > 2 {
			buf.WriteByte(',')
		}
		buf.Write(rb[1:])
	} else {
		buf.Write(db)
	}
	if indent {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, buf.Bytes(), "", "  "); err != nil {
			return nil, fmt.Errorf("encode diagnosis: %w", err)
		}
		buf = pretty
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func (o *writer) writeSummary() error {
	n := o.opts.TopN
	if n <= 0 {
		n = 10
	}
	r := o.sum.Report(n)
	if o.opts.JSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("encode summary: %w", err)
		}
		b = append(b, '\n')
		if _, err := o.w.Write(b); err != nil {
			return fmt.Errorf("write output: %w", err)
		}
		return nil
	}
	return WriteSummaryText(o.w, r)
}
