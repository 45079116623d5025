package scenario

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// vars holds what a reply template may mention about the live session. Every
// value comes from the peer or the options and is cleaned before it is put in a
// reply, so a client cannot inject CR/LF (and so extra replies) through its
// own RCPT or MAIL argument.
type vars struct {
	IP      string // client address, without port
	Host    string // banner host name
	From    string // envelope sender, without angle brackets
	Rcpt    string // recipient being answered, without angle brackets
	QueueID string // queue id of the accepted message
}

// maxValueLen bounds how much of a peer-supplied value is echoed back: real
// servers echo the address, but a reply line must stay under RFC 5321's 512
// octets even for a hostile client.
const maxValueLen = 256

// cleanValue keeps printable ASCII only and bounds the length.
func cleanValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < maxValueLen; i++ {
		c := s[i]
		if c >= 0x20 && c < 0x7f {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// domainOf returns the part after the last '@' of an address, or "" when
// there is none (the null sender, a bare local part).
func domainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// localPartOf returns the part before the last '@' (the whole string when
// there is no '@').
func localPartOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return addr
	}
	return addr[:i]
}

// expand replaces the placeholders {ip}, {host}, {from}, {from_domain},
// {rcpt}, {rcpt_domain} and {queue_id} in t. Unknown or unterminated braces
// are copied as they are, so a literal '{' in a real server's text survives.
func expand(t string, v vars) string {
	if !strings.Contains(t, "{") {
		return t
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(t, '{')
		if i < 0 {
			b.WriteString(t)
			return b.String()
		}
		b.WriteString(t[:i])
		t = t[i:]
		j := strings.IndexByte(t, '}')
		if j < 0 {
			b.WriteString(t)
			return b.String()
		}
		name := t[1:j]
		val, ok := lookupVar(name, v)
		if !ok {
			// Not a placeholder: emit the brace and rescan after it.
			b.WriteByte('{')
			t = t[1:]
			continue
		}
		b.WriteString(cleanValue(val))
		t = t[j+1:]
	}
}

func lookupVar(name string, v vars) (string, bool) {
	switch name {
	case "ip":
		return v.IP, true
	case "host":
		return v.Host, true
	case "from":
		return v.From, true
	case "from_domain":
		return domainOf(v.From), true
	case "rcpt":
		return v.Rcpt, true
	case "rcpt_domain":
		return domainOf(v.Rcpt), true
	case "queue_id":
		return v.QueueID, true
	}
	return "", false
}

// expandAll expands every line of a reply template.
func expandAll(lines []string, v vars) []string {
	if lines == nil {
		return nil
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = expand(l, v)
	}
	return out
}

// replyLine is one parsed reply line: "554-5.7.1 text" gives code 554,
// more true, enhanced "5.7.1" and text "text".
type replyLine struct {
	Code     int
	More     bool   // '-' separator: more lines follow
	Enhanced string // "" when the line carries none
	Text     string // after the enhanced code (one separating space removed)
}

var errBadReplyLine = errors.New("malformed reply line")

// parseReplyLine splits a full reply line as written in the catalogue. It is
// used to turn catalogue replies into go-smtp's SMTPError and by the tests
// to read what the server sent.
func parseReplyLine(line string) (replyLine, error) {
	if len(line) < 3 {
		return replyLine{}, fmt.Errorf("%w: %q is shorter than a code", errBadReplyLine, line)
	}
	for i := 0; i < 3; i++ {
		if line[i] < '0' || line[i] > '9' {
			return replyLine{}, fmt.Errorf("%w: %q does not start with a 3-digit code", errBadReplyLine, line)
		}
	}
	code, _ := strconv.Atoi(line[:3])
	r := replyLine{Code: code}
	rest := line[3:]
	switch {
	case rest == "":
		return r, nil
	case rest[0] == '-':
		r.More = true
	case rest[0] == ' ':
	default:
		return replyLine{}, fmt.Errorf("%w: %q has %q after the code", errBadReplyLine, line, rest[0])
	}
	rest = rest[1:]
	if ec, n := enhancedPrefix(rest); n > 0 {
		r.Enhanced = ec
		rest = rest[n:]
		rest = strings.TrimPrefix(rest, " ")
	}
	r.Text = rest
	return r, nil
}

// enhancedPrefix recognises an RFC 3463 status code (class.subject.detail,
// class 2/4/5, up to 3 digits each part) at the start of s and returns it
// with its length, or "", 0. The code must end the string or be followed by
// a space, so "5.7.1x" is not one.
func enhancedPrefix(s string) (string, int) {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return "", 0
	}
	i := 2
	for part := 0; part < 2; part++ {
		start := i
		for i < len(s) && i-start < 3 && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == start {
			return "", 0
		}
		if part == 0 {
			if i >= len(s) || s[i] != '.' {
				return "", 0
			}
			i++
		}
	}
	if i < len(s) && s[i] != ' ' {
		return "", 0
	}
	return s[:i], i
}

// errLineTooLong reports a command line over the limit.
var errLineTooLong = errors.New("line too long")

// readLine reads one line ending in LF (CR optional) of at most max bytes,
// without the line ending. A longer line is consumed to its end and reported
// as errLineTooLong, so the connection stays in sync with the client.
func readLine(r *bufio.Reader, max int) (string, error) {
	var buf []byte
	tooLong := false
	for {
		chunk, err := r.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(chunk) > max+2 {
				tooLong = true
				buf = nil
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		break
	}
	if tooLong {
		return "", errLineTooLong
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return string(buf), nil
}

// parseCommand splits an SMTP command line into its upper-cased verb and its
// argument ("MAIL FROM:<a@b>" gives "MAIL", "FROM:<a@b>").
func parseCommand(line string) (verb, arg string) {
	line = strings.TrimLeft(line, " \t")
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), strings.TrimSpace(arg)
}

// parsePathArg extracts the address from a MAIL or RCPT argument
// ("FROM:<a@b> SIZE=10" gives "a@b", true). prefix is "FROM:" or "TO:",
// matched case-insensitively; a space after the colon is tolerated, as
// most servers do. The null path "<>" gives "", true.
func parsePathArg(arg, prefix string) (string, bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return "", false
		}
		return rest[1:end], true
	}
	// Bare address without brackets (tolerated by Postfix with
	// strict_rfc821_envelopes=no): up to the first space.
	addr, _, _ := strings.Cut(rest, " ")
	return addr, addr != ""
}

// hasHeaderField reports whether the header section of msg (up to the first
// empty line) has a field named name (case-insensitive). Continuation lines
// of folded fields are skipped. A message without an empty line is all
// header, as RFC 5322 allows.
func hasHeaderField(msg []byte, name string) bool {
	for len(msg) > 0 {
		var line []byte
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			line, msg = msg, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			return false // end of the header section
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // folded continuation
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue // not a field: real servers tolerate such junk here
		}
		field := bytes.TrimRight(line[:colon], " \t")
		if bytes.EqualFold(field, []byte(name)) {
			return true
		}
	}
	return false
}

// eicarSignature returns the EICAR anti-virus test string. It is assembled
// at run time so that this source file is not itself flagged by scanners
// that look for the string on disk.
func eicarSignature() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)
}
