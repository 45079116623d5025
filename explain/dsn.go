package explain

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"
	"github.com/smtpprobe/smtpprobe/diagnose"
)

// MaxMessageBytes bounds how much of one pasted bounce message is buffered
// for the MIME parser. The parts that matter (the human text and the
// delivery-status part) come first; what is cut is the returned original.
const MaxMessageBytes = 1 << 20

// maxSkipBytes bounds how much of an over-long message is skipped while
// looking for its end, so a truncated paste cannot hide the rest of a log.
const maxSkipBytes = 16 << 20

// maxHumanBytes bounds the human-readable part kept for a nested scan.
const maxHumanBytes = 256 << 10

// headerState collects a block of "Name: value" lines that may be the
// header of a bounce message or a bare DSN field block.
type headerState struct {
	active bool
	mbox   bool // a "From " separator came first
	from   string
	first  int
	lines  []string
	size   int
	trunc  bool
}

func (h *headerState) start(line string, n int, mbox bool) {
	h.active = true
	h.mbox = mbox
	h.first = n
	h.lines = h.lines[:0]
	h.size = 0
	h.trunc = false
	h.from = ""
	if mbox {
		h.from = line
		h.first = n + 1
		return
	}
	h.lines = append(h.lines, line)
	h.size = len(line)
}

func (h *headerState) add(line string, trunc bool) bool {
	if len(h.lines) >= maxHeaderLines || h.size+len(line) > maxHeaderBytes {
		return false
	}
	h.lines = append(h.lines, line)
	h.size += len(line) + 1
	h.trunc = h.trunc || trunc
	return true
}

// abandonHeader replays a collected block through the line parsers: it was
// not a message header, so its lines are ordinary text.
func (sc *Scanner) abandonHeader() {
	h := &sc.hdr
	h.active = false
	if h.mbox {
		sc.plain(h.from, false, h.first-1)
	}
	for i, l := range h.lines {
		sc.plain(l, h.trunc, h.first+i)
	}
}

// finishHeader decides what a complete header block (ended by a blank line
// or the input's end) was: the start of a multipart/report bounce, a bare
// DSN field group, or ordinary text.
func (sc *Scanner) finishHeader() {
	h := &sc.hdr
	if len(h.lines) == 0 {
		h.active = false
		if h.mbox {
			sc.plain(h.from, false, h.first-1)
		}
		return
	}
	raw := strings.Join(h.lines, "\r\n") + "\r\n\r\n"
	hdr, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		sc.abandonHeader()
		return
	}
	mh := message.Header{Header: hdr}
	mt, params, _ := mh.ContentType()
	if sc.depth == 0 && mt == "multipart/report" && params["boundary"] != "" {
		h.active = false
		sc.msg = &messageState{start: h.first, boundary: params["boundary"]}
		sc.msg.buf.WriteString(raw)
		return
	}
	if isRecipientGroup(hdr) {
		h.active = false
		if f, ok := dsnFinding(hdr, nil); ok {
			f.Line = h.first
			f.Truncated = h.trunc
			sc.emit(f)
		}
		return
	}
	sc.abandonHeader()
}

// messageState buffers one multipart/report message, bounded.
type messageState struct {
	start    int
	boundary string
	buf      bytes.Buffer
	capped   bool
	skipped  int
}

// add takes a line of the message and reports whether it belonged to it.
// The message ends after its closing boundary; an mbox "From " line starts
// the next message.
func (m *messageState) add(line string) bool {
	if strings.HasPrefix(line, "From ") {
		return false
	}
	if m.capped {
		m.skipped += len(line) + 1
		if m.skipped > maxSkipBytes {
			return false
		}
	} else if m.buf.Len()+len(line)+2 > MaxMessageBytes {
		m.capped = true
	} else {
		m.buf.WriteString(line)
		m.buf.WriteString("\r\n")
	}
	if strings.HasPrefix(line, "--") && strings.TrimRight(line, " \t") == "--"+m.boundary+"--" {
		m.boundary = "\x00" // ended: the next line is not ours
		m.skipped = maxSkipBytes + 1
		m.capped = true
	}
	return true
}

// finishMessage parses the buffered message with the MIME parser and emits
// one finding per failed or delayed recipient.
func (sc *Scanner) finishMessage() {
	m := sc.msg
	sc.msg = nil
	for _, f := range sc.parseReport(m.buf.Bytes(), m.start) {
		sc.emit(f)
	}
}

// reportParts is what a bounce message yields.
type reportParts struct {
	groups []textproto.Header // per-recipient DSN field groups
	human  bytes.Buffer       // text/plain parts, bounded
}

// parseReport reads a multipart/report message. The delivery-status groups
// are authoritative; the human part gives the phase ("in reply to RCPT TO
// command") and is the fallback when there is no delivery-status part.
func (sc *Scanner) parseReport(raw []byte, start int) []Finding {
	// An unknown charset or transfer encoding still yields a readable
	// entity; only an unreadable header leaves none, and then the text is
	// scanned as plain lines.
	e, _ := message.Read(bytes.NewReader(raw))
	if e == nil {
		return sc.nestedScan(raw, start)
	}
	var parts reportParts
	walkEntity(e, 0, &parts)
	human := sc.nestedScan(parts.human.Bytes(), start)
	var out []Finding
	for _, g := range parts.groups {
		if f, ok := dsnFinding(g, human); ok {
			f.Line = start
			out = append(out, f)
		}
	}
	if len(out) > 0 {
		return out
	}
	return human
}

// nestedScan runs a Scanner over the human part of a bounce. Its findings
// carry the line of the enclosing message.
func (sc *Scanner) nestedScan(text []byte, start int) []Finding {
	if len(text) == 0 {
		return nil
	}
	sub := &Scanner{lr: newLineReader(bytes.NewReader(text)), depth: sc.depth + 1}
	var out []Finding
	for sub.Scan() {
		f := sub.Finding()
		f.Line = start
		out = append(out, f)
	}
	return out
}

// walkEntity collects the delivery-status groups and the human text of a
// (possibly nested) MIME entity. The returned original message is skipped.
func walkEntity(e *message.Entity, depth int, out *reportParts) {
	mt, _, _ := e.Header.ContentType()
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if depth > 4 {
			return
		}
		mr := e.MultipartReader()
		if mr == nil {
			return
		}
		for range 64 {
			// A part with an unknown charset comes with an error and is
			// still read; no part means the end or a broken multipart.
			p, _ := mr.NextPart()
			if p == nil {
				return
			}
			walkEntity(p, depth+1, out)
		}
	case mt == "message/delivery-status" || mt == "message/global-delivery-status":
		out.groups = append(out.groups, readGroups(io.LimitReader(e.Body, MaxMessageBytes))...)
	case mt == "text/plain" || mt == "":
		room := maxHumanBytes - out.human.Len()
		if room > 0 {
			_, _ = io.Copy(&out.human, io.LimitReader(e.Body, int64(room)))
			out.human.WriteString("\n\n")
		}
	}
}

// readGroups splits a delivery-status body into its field groups (RFC 3464
// §2.1: a per-message group, then one group per recipient) and returns the
// per-recipient ones.
func readGroups(r io.Reader) []textproto.Header {
	br := bufio.NewReader(r)
	var groups []textproto.Header
	for range 1000 {
		h, err := textproto.ReadHeader(br)
		if h.Len() > 0 && isRecipientGroup(h) {
			groups = append(groups, h)
		}
		if err != nil {
			break
		}
		if _, perr := br.Peek(1); perr != nil {
			break
		}
	}
	return groups
}

// isRecipientGroup says whether a field group describes one recipient.
func isRecipientGroup(h textproto.Header) bool {
	return h.Has("Final-Recipient") || h.Has("Original-Recipient") || h.Has("Diagnostic-Code") ||
		(h.Has("Action") && h.Has("Status"))
}

// dsnFinding turns a per-recipient DSN group into a finding. human holds the
// findings of the bounce's human part, used for the phase and when the
// group has no Diagnostic-Code.
func dsnFinding(h textproto.Header, human []Finding) (Finding, bool) {
	action := strings.ToLower(strings.TrimSpace(h.Get("Action")))
	status := strings.TrimSpace(h.Get("Status"))
	if i := strings.IndexAny(status, " \t("); i >= 0 {
		status = status[:i]
	}
	switch action {
	case "delivered", "relayed", "expanded":
		return Finding{}, false
	}
	_, diag := typedValue(h.Get("Diagnostic-Code"))
	failed := action == "failed" || action == "delayed" || (status != "" && (status[0] == '4' || status[0] == '5'))
	if code, _, ok := replyCode(diag); ok && isFailureCode(code) {
		failed = true
	}
	if !failed {
		return Finding{}, false
	}
	_, rcpt := typedValue(h.Get("Final-Recipient"))
	if rcpt == "" {
		_, rcpt = typedValue(h.Get("Original-Recipient"))
	}
	_, mta := typedValue(h.Get("Remote-MTA"))
	host, ip := splitHostIP(mta)
	if host == "" && ip == "" && strings.HasPrefix(mta, "[") {
		host = mta
	}
	f := Finding{Source: SourceDSN, Recipient: rcpt, Host: host, HostIP: ip, Status: action}
	if f.Status == "" {
		f.Status = "failed"
	}
	match := matchHuman(human, rcpt, diag)
	switch {
	case diag != "":
		// An "smtp;" diagnostic is the server's reply; other types
		// (X-Postfix, X-Exim) are the MTA's own words, which replyLines
		// prefixes with the Status code.
		f.Lines = replyLines(diag, status)
	case match != nil:
		f.Lines = append([]string(nil), match.Lines...)
	case status != "":
		f.Lines = []string{status}
	default:
		return Finding{}, false
	}
	f.Phase = diagnose.PhaseAny
	if match != nil {
		f.Phase = match.Phase
		if f.Host == "" {
			f.Host, f.HostIP = match.Host, match.HostIP
		}
	}
	return f, true
}

// typedValue splits a DSN "type; value" field ("rfc822; x@y", "smtp; 550
// ..."). A value without a type is returned whole.
func typedValue(v string) (typ, val string) {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 20 && !strings.ContainsAny(v[:i], " <@") {
		return strings.TrimSpace(v[:i]), strings.TrimSpace(v[i+1:])
	}
	return "", v
}

// matchHuman finds the human-part finding about the same recipient or the
// same reply.
func matchHuman(human []Finding, rcpt, diag string) *Finding {
	code := ""
	if c, _, ok := replyCode(diag); ok {
		code = c
	}
	for i := range human {
		f := &human[i]
		if rcpt != "" && strings.EqualFold(strings.Trim(f.Recipient, "<>"), rcpt) {
			return f
		}
	}
	for i := range human {
		f := &human[i]
		if code != "" && len(f.Lines) > 0 && strings.HasPrefix(f.Lines[0], code) {
			return f
		}
	}
	if len(human) == 1 && code == "" {
		return &human[0]
	}
	return nil
}
