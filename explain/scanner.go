package explain

import (
	"io"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// Bounds that keep memory flat whatever the input.
const (
	maxReplyLines   = 100       // lines kept of one multi-line reply
	maxWrapBytes    = 8 << 10   // one wrapped bounce sentence
	maxWrapLines    = 40        // continuation lines of one wrapped bounce sentence
	maxHeaderLines  = 500       // lines of one header block
	maxHeaderBytes  = 256 << 10 // bytes of one header block
	transcriptRange = 50        // lines after which a transcript's phase is forgotten
)

// Scanner finds explainable replies in a stream of text: raw SMTP replies
// and transcripts, DSN bounce messages, the human part of bounces, and
// Postfix, Exim, Sendmail and Exchange lines. It reads line by line with
// bounded buffers, so memory does not grow with the input.
//
//	sc := NewScanner(r)
//	for sc.Scan() {
//		f := sc.Finding()
//		...
//	}
//	if err := sc.Err(); err != nil { ... }
type Scanner struct {
	lr    *lineReader
	depth int // > 0 when scanning the human part of a bounce message
	base  int // line number of the enclosing message, for nested scans

	queue []Finding
	head  int
	cur   Finding
	done  bool

	reply  replyState
	tr     transcriptState
	wrap   wrapState
	hdr    headerState
	msg    *messageState
	bounce bounceState

	// quoted is set after a bounce's "copy of the original message"
	// marker: what follows is the sender's own message, whose text may
	// quote SMTP replies that are not findings. An mbox "From " line (a
	// new message) ends it; after a marker of headers only (Exchange's
	// "Original message headers:"), so does the blank line after them.
	quoted            bool
	quotedHeadersOnly bool
	quotedSeen        bool // a non-blank line was skipped
}

// NewScanner returns a Scanner reading r.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{lr: newLineReader(r)}
}

// Scan advances to the next finding. It returns false at the end of input
// or on a read error (see Err).
func (sc *Scanner) Scan() bool {
	for sc.head >= len(sc.queue) {
		if sc.done {
			return false
		}
		sc.queue = sc.queue[:0]
		sc.head = 0
		b, trunc, ok := sc.lr.next()
		if !ok {
			sc.flush()
			sc.done = true
			continue
		}
		n := sc.lr.n
		if !hasCR(b) {
			sc.feed(string(b), trunc, n)
			continue
		}
		// A bare CR inside a line is an old Mac line end or a terminal
		// artefact; treat each piece as its own line.
		for part := range strings.SplitSeq(string(b), "\r") {
			sc.feed(part, trunc, n)
		}
	}
	sc.cur = sc.queue[sc.head]
	sc.queue[sc.head] = Finding{}
	sc.head++
	return true
}

func hasCR(b []byte) bool {
	for _, c := range b {
		if c == '\r' {
			return true
		}
	}
	return false
}

// Finding returns the finding Scan advanced to.
func (sc *Scanner) Finding() Finding { return sc.cur }

// Err returns the read error that stopped the scan, nil at a clean end.
func (sc *Scanner) Err() error { return sc.lr.readErr() }

// Lines returns how many input lines were read so far.
func (sc *Scanner) Lines() int { return sc.lr.n }

// TruncatedLines returns how many input lines were cut at MaxLineBytes.
func (sc *Scanner) TruncatedLines() int { return sc.lr.truncated }

// emit queues a finding after making its text printable.
func (sc *Scanner) emit(f Finding) {
	if len(f.Lines) == 0 {
		return
	}
	for i, l := range f.Lines {
		f.Lines[i] = cleanText(l)
	}
	if f.Phase == "" {
		f.Phase = diagnose.PhaseAny
	}
	f.Line += sc.base
	f.Host = cleanText(f.Host)
	f.Recipient = cleanText(f.Recipient)
	f.Sender = cleanText(f.Sender)
	f.Helo = cleanText(f.Helo)
	f.ClientHost = cleanText(f.ClientHost)
	sc.queue = append(sc.queue, f)
}

// flush finishes whatever is pending at the end of input.
func (sc *Scanner) flush() {
	if sc.msg != nil {
		sc.finishMessage()
	}
	if sc.hdr.active {
		sc.finishHeader()
	}
	sc.finishWrap()
	if sc.reply.active {
		sc.finishReply(true)
	}
}

// feed routes one line: into a message being buffered, into a header block
// being collected, or to the line parsers.
func (sc *Scanner) feed(line string, trunc bool, n int) {
	if sc.msg != nil {
		if sc.msg.add(line) {
			return
		}
		sc.finishMessage()
	}
	if sc.quoted {
		switch {
		case sc.depth == 0 && strings.HasPrefix(line, "From "):
			sc.quoted = false
		case endsQuotedCopy(line):
			// A log line or the start of another bounce: the copy of the
			// original message is over.
			sc.quoted = false
		case sc.quotedHeadersOnly && line == "" && sc.quotedSeen:
			sc.quoted = false
			return
		default:
			sc.quotedSeen = sc.quotedSeen || line != ""
			return
		}
	}
	if sc.hdr.active {
		switch {
		case line == "":
			sc.finishHeader()
			return
		case isHeaderLine(line) || ((line[0] == ' ' || line[0] == '\t') && len(sc.hdr.lines) > 0):
			if sc.hdr.add(line, trunc) {
				return
			}
			sc.abandonHeader()
			return
		default:
			sc.abandonHeader()
		}
	}
	if sc.depth == 0 && strings.HasPrefix(line, "From ") && !sc.reply.active {
		// An mbox separator: a message may follow. It is replayed as text
		// if no header block does.
		sc.finishWrap()
		sc.hdr.start(line, n, true)
		return
	}
	if !sc.reply.active && isHeaderLine(line) {
		sc.finishWrap()
		sc.hdr.start(line, n, false)
		sc.hdr.trunc = trunc
		return
	}
	sc.plain(line, trunc, n)
}

// isHeaderLine reports whether line starts an RFC 5322 header field
// ("Name: value"), the only shape that can begin a message or a DSN block.
func isHeaderLine(line string) bool {
	if line == "" {
		return false
	}
	c := line[0]
	if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
		return false
	}
	for i := 1; i < len(line) && i < 77; i++ {
		c := line[i]
		switch {
		case c == ':':
			return i+1 == len(line) || line[i+1] == ' ' || line[i+1] == '\t'
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return false
}

// replyState assembles a (multi-line) SMTP reply.
type replyState struct {
	active bool
	code   string
	lines  []string
	start  int
	phase  string
	source string
	status string
	host   string
	trunc  bool
}

func (r *replyState) add(s string, trunc bool) {
	if len(r.lines) < maxReplyLines {
		r.lines = append(r.lines, s)
	}
	r.trunc = r.trunc || trunc
}

// plain runs the line parsers on one line that is not part of a message or
// header block.
func (sc *Scanner) plain(raw string, trunc bool, n int) {
	if sc.wrap.active {
		if raw != "" && (raw[0] == ' ' || raw[0] == '\t') && sc.wrap.add(raw) {
			return
		}
		sc.finishWrap()
	}
	s, mk := stripPrefix(raw)
	if copyMarker, headersOnly := originalCopyMarker(s); copyMarker {
		if sc.reply.active {
			sc.finishReply(true)
		}
		sc.quoted, sc.quotedHeadersOnly, sc.quotedSeen = true, headersOnly, false
		return
	}
	if sc.reply.active {
		code, sep, ok := replyCode(s)
		if ok && code == sc.reply.code && mk != markSend && mk != markInfo {
			sc.reply.add(s, trunc)
			sc.tr.touch(n)
			if sep != '-' {
				sc.finishReply(false)
			}
			return
		}
		sc.finishReply(true)
	}
	if s == "" {
		return
	}
	switch mk {
	case markSend:
		sc.tr.sent(s, n)
		return
	case markInfo:
		sc.tr.info(s, n)
		return
	}
	if code, sep, ok := replyCode(s); ok {
		sc.startReply(s, code, sep, mk, trunc, n)
		return
	}
	if mk == markNone && sc.tr.command(s, n) {
		return
	}
	if p, ok := eximBounceContext(s); ok {
		// Exim's bounce text puts the reply on the next line: carry the
		// command it names over to it, as a transcript would.
		sc.tr.note(p, n)
		return
	}
	sc.scanText(s, trunc, n)
}

// eximBounceContext reads the line before the reply in Exim's bounce text:
// "SMTP error from remote mail server after RCPT TO:<bob@example.net>:".
func eximBounceContext(s string) (string, bool) {
	// Cheap tests first: this runs on every line of a mail log.
	t := strings.TrimSpace(s)
	if !strings.HasSuffix(t, ":") || !strings.Contains(t, "rror from remote mail server after ") {
		return "", false
	}
	l := strings.ToLower(t)
	const lead = "error from remote mail server after "
	i := strings.Index(l, lead)
	if i < 0 {
		return "", false
	}
	rest := strings.TrimPrefix(l[i+len(lead):], "pipelined ")
	switch {
	case strings.HasPrefix(rest, "end of data"):
		return diagnose.PhaseEndOfData, true
	case strings.HasPrefix(rest, "initial connection"):
		return diagnose.PhaseBanner, true
	}
	if p, ok := commandPhase(rest); ok && p != diagnose.PhaseAny {
		return p, true
	}
	return "", false
}

// startReply begins a reply whose first line is s.
func (sc *Scanner) startReply(s, code string, sep byte, mk marker, trunc bool, n int) {
	r := &sc.reply
	*r = replyState{active: true, code: code, start: n, lines: r.lines[:0], source: SourceReply}
	r.add(s, trunc)
	r.phase = sc.tr.phaseFor(n, mk != markNone)
	r.host = sc.tr.hostFor(n)
	if sc.bounce.expectsReply(n) {
		r.source = SourceBounce
		r.status = "failed"
	}
	if sep != '-' {
		sc.finishReply(false)
	}
}

// finishReply emits the assembled reply if it is a refusal, and lets the
// transcript tracker see it.
func (sc *Scanner) finishReply(unterminated bool) {
	r := &sc.reply
	if !r.active {
		return
	}
	r.active = false
	sc.tr.replied(r.code)
	if !isFailureCode(r.code) {
		return
	}
	lines := make([]string, len(r.lines))
	copy(lines, r.lines)
	sc.emit(Finding{Lines: lines, Phase: r.phase, Source: r.source, Line: r.start, Host: r.host, Status: r.status,
		Truncated: r.trunc, Unterminated: unterminated})
}

// transcriptState follows a pasted session (swaks/probe markers or a
// telnet paste) so a reply gets the phase of the command it answered.
type transcriptState struct {
	active   bool
	last     int // line of the last transcript activity
	commands int // commands sent since the connection started
	phase    string
	inBody   bool // between the 354 reply and the final dot
	host     string
}

func (t *transcriptState) touch(n int) {
	if t.active {
		t.last = n
	}
}

func (t *transcriptState) expired(n int) bool { return !t.active || n-t.last > transcriptRange }

// phaseFor returns the phase of a reply on line n. A marked reply line
// (<- or <**) means a transcript is being read even if no command was seen
// yet, and then the reply is the banner.
func (t *transcriptState) phaseFor(n int, marked bool) string {
	if t.expired(n) {
		if !marked {
			*t = transcriptState{}
			return diagnose.PhaseAny
		}
		*t = transcriptState{active: true, phase: diagnose.PhaseBanner, host: t.host}
	}
	t.last = n
	if t.commands == 0 {
		return diagnose.PhaseBanner
	}
	return t.phase
}

func (t *transcriptState) hostFor(n int) string {
	if t.expired(n) {
		return ""
	}
	return t.host
}

// replied records the reply code so DATA's 354 moves on to the message.
func (t *transcriptState) replied(code string) {
	if t.active && code == "354" {
		t.phase = diagnose.PhaseEndOfData
		t.inBody = true
	}
}

// note records the phase a text names for the replies that follow.
func (t *transcriptState) note(phase string, n int) {
	if t.expired(n) {
		*t = transcriptState{host: t.host}
	}
	t.active, t.last, t.phase = true, n, phase
	t.commands++
}

// sent records a command line from a marked transcript.
func (t *transcriptState) sent(s string, n int) {
	if t.expired(n) {
		*t = transcriptState{host: t.host}
	}
	t.active = true
	t.last = n
	if t.inBody {
		if s == "." {
			t.inBody = false
			t.phase = diagnose.PhaseEndOfData
		}
		return
	}
	if p, ok := commandPhase(s); ok {
		t.phase = p
		t.commands++
	}
}

// command recognises an unmarked SMTP command line (a telnet paste) and
// records it. It returns false for anything else.
func (t *transcriptState) command(s string, n int) bool {
	if s == "." && t.active && t.phase == diagnose.PhaseEndOfData {
		t.inBody = false
		t.last = n
		return true
	}
	p, ok := commandPhase(s)
	if !ok {
		return false
	}
	// Only a well-formed command counts, so prose is not taken for one.
	u := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(u, "MAIL FROM:"), strings.HasPrefix(u, "RCPT TO:"),
		u == "DATA", u == "STARTTLS", u == "QUIT", u == "RSET",
		strings.HasPrefix(u, "EHLO "), strings.HasPrefix(u, "HELO "), strings.HasPrefix(u, "LHLO "),
		strings.HasPrefix(u, "AUTH "), strings.HasPrefix(u, "BDAT "):
	default:
		return false
	}
	if t.expired(n) {
		*t = transcriptState{}
	}
	t.active = true
	t.last = n
	t.phase = p
	t.commands++
	return true
}

// info reads the tool's own lines: "=== Trying mx.example.com:25..."
// starts a new session and names the host.
func (t *transcriptState) info(s string, n int) {
	if rest, ok := strings.CutPrefix(s, "Trying "); ok {
		host := rest
		if i := strings.IndexAny(host, " :"); i >= 0 {
			host = host[:i]
		}
		host = strings.TrimSuffix(host, "...")
		*t = transcriptState{active: true, last: n, host: host, phase: diagnose.PhaseConnect}
		return
	}
	if t.active {
		t.last = n
	}
}

// commandPhase maps an SMTP command line to the phase its reply belongs to.
func commandPhase(s string) (string, bool) {
	verb := s
	if i := strings.IndexAny(s, " :"); i >= 0 {
		verb = s[:i]
	}
	if len(verb) > 8 {
		return "", false
	}
	switch strings.ToUpper(verb) {
	case "EHLO", "HELO", "LHLO":
		return diagnose.PhaseHelo, true
	case "STARTTLS":
		return diagnose.PhaseStartTLS, true
	case "AUTH":
		return diagnose.PhaseAuth, true
	case "MAIL":
		return diagnose.PhaseMail, true
	case "RCPT":
		return diagnose.PhaseRcpt, true
	case "DATA":
		return diagnose.PhaseData, true
	case "BDAT":
		if strings.Contains(strings.ToUpper(s), "LAST") {
			return diagnose.PhaseEndOfData, true
		}
		return diagnose.PhaseData, true
	case "QUIT":
		return diagnose.PhaseQuit, true
	case "RSET", "NOOP", "VRFY", "EXPN", "HELP":
		return diagnose.PhaseAny, true
	}
	return "", false
}

// wrapState collects a bounce sentence that Postfix wrapped over indented
// continuation lines ("<x@y>: host mx said: 550 ... (in reply to RCPT TO\n
// command)").
type wrapState struct {
	active bool
	rcpt   string
	text   strings.Builder
	lines  int
	start  int
	trunc  bool
}

func (w *wrapState) add(raw string) bool {
	if w.lines >= maxWrapLines || w.text.Len()+len(raw) > maxWrapBytes {
		return false
	}
	w.text.WriteByte(' ')
	w.text.WriteString(strings.TrimSpace(raw))
	w.lines++
	return true
}

func (sc *Scanner) startWrap(rcpt, text string, trunc bool, n int) {
	w := &sc.wrap
	w.active = true
	w.rcpt = rcpt
	w.text.Reset()
	w.text.WriteString(text)
	w.lines = 0
	w.start = n
	w.trunc = trunc
}

func (sc *Scanner) finishWrap() {
	w := &sc.wrap
	if !w.active {
		return
	}
	w.active = false
	reply, phase, host, ip := parsePostfixText(w.text.String())
	if reply == "" {
		return
	}
	sc.emit(Finding{Lines: replyLines(reply, ""), Phase: phase, Source: SourceBounce, Line: w.start,
		Host: host, HostIP: ip, Recipient: w.rcpt, Status: "failed", Truncated: w.trunc})
}

// replyLines turns reply text from a log or bounce into reply lines. Text
// without an SMTP code gets the enhanced status code the source assigned
// (dsn), so the engine still sees the class and subject of the failure.
func replyLines(text, dsn string) []string {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	if _, _, ok := replyCode(text); ok {
		return splitEmbedded(text)
	}
	if enhancedAt(text) > 0 || dsn == "" || enhancedAt(dsn) == 0 {
		return []string{text}
	}
	return []string{dsn + " " + text}
}

// bouncePreambles open the text of a new bounce.
var bouncePreambles = []string{
	"This message was created automatically by mail delivery software",
	"This is the mail system at host",
	"Delivery has failed to these recipients or groups",
	"Your message could not be delivered",
	"The original message was received at",
	"Hi. This is the qmail-send program",
	"Delivery to the following recipient",
}

// endsQuotedCopy reports a line that cannot belong to a quoted original
// message: a timestamped log line (syslog "Jan 15 10:00:00 " or Exim
// "2024-01-15 10:00:00 ") or the first line of another bounce.
func endsQuotedCopy(line string) bool {
	if len(line) >= 16 && line[3] == ' ' && line[6] == ' ' && line[9] == ':' && line[12] == ':' && line[15] == ' ' {
		return true
	}
	if len(line) >= 20 && line[4] == '-' && line[7] == '-' && (line[10] == ' ' || line[10] == 'T') && line[13] == ':' && line[16] == ':' {
		return true
	}
	for _, p := range bouncePreambles {
		if strings.HasPrefix(line, p) {
			return true
		}
	}
	return false
}

// originalCopyMarkers start the copy of the original message in the text
// of bounces (Exim, Exchange, qmail, Sendmail, Gmail, mail clients);
// headersOnly marks those followed by the header block alone.
var originalCopyMarkers = []struct {
	text        string
	headersOnly bool
}{
	{"this is a copy of the message, including all the headers", false}, // Exim
	{"original message headers:", true},                                 // Exchange NDR
	{"message header follows", true},                                    // Sendmail
	{"below this line is a copy of the message", false},                 // qmail
	{"original message follows", false},                                 // Sendmail
	{"----- original message -----", false},                             // Gmail, clients
	{"-----original message-----", false},                               // Outlook
}

func originalCopyMarker(s string) (marker, headersOnly bool) {
	if len(s) < 20 || len(s) > 120 {
		return false, false
	}
	// Every marker has one of these, in the case bounces write them.
	if !strings.Contains(s, "riginal") && !strings.Contains(s, "opy of the message") && !strings.Contains(s, "eader follows") && !strings.Contains(s, "ORIGINAL") {
		return false, false
	}
	l := strings.ToLower(strings.TrimSpace(s))
	for _, m := range originalCopyMarkers {
		if strings.Contains(l, m.text) {
			return true, m.headersOnly
		}
	}
	return false, false
}
