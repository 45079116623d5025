package smtpclient

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits on what a server may send in one reply. RFC 5321 §4.5.3.1.5
// allows 512 octets per reply line; real servers exceed that, so the bound
// is generous, but it is a bound: net/textproto's ReadResponse has none,
// which is why replies are read here by hand.
const (
	maxReplyLineLen = 2000
	maxReplyLines   = 100
)

// Reply is one complete SMTP reply.
type Reply struct {
	Code     int      // basic reply code, e.g. 554
	Enhanced string   // enhanced status code (RFC 3463) from the first line, "" if none
	Lines    []string // the lines as received, without CRLF, e.g. "554-5.7.1 ..."
}

// Text is the reply text without codes, lines joined by spaces.
func (r *Reply) Text() string {
	parts := make([]string, 0, len(r.Lines))
	for _, l := range r.Lines {
		t := ""
		if len(l) > 4 {
			t = l[4:]
		}
		if r.Enhanced != "" && strings.HasPrefix(t, r.Enhanced) {
			t = strings.TrimSpace(t[len(r.Enhanced):])
		}
		parts = append(parts, t)
	}
	return strings.Join(parts, " ")
}

// Positive reports a 2xx or 3xx reply.
func (r *Reply) Positive() bool { return r.Code >= 200 && r.Code < 400 }

// Permanent reports a 5xx reply.
func (r *Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// ProtocolError is a reply the server got wrong: it explains what the
// server did, for the transcript and the exit message.
type ProtocolError struct {
	What string
}

func (e *ProtocolError) Error() string { return e.What }

// errClosed marks a connection closed by the peer (exit 6).
var errClosed = errors.New("connection closed by the server")

// readReplyLine reads one line bounded by maxReplyLineLen. A bare LF ends a
// line too: being strict here would only turn a sloppy server into a hang.
func readReplyLine(br *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf)+len(chunk) > maxReplyLineLen+2 {
			return "", &ProtocolError{What: fmt.Sprintf("server sent a reply line longer than %d bytes", maxReplyLineLen)}
		}
		buf = append(buf, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return string(buf), fmt.Errorf("%w in the middle of a reply line", errClosed)
		}
		return string(buf), err
	}
	buf = bytes.TrimSuffix(buf, []byte{'\n'})
	buf = bytes.TrimSuffix(buf, []byte{'\r'})
	return string(buf), nil
}

// parseReplyLine splits "250-text" into its code, whether more lines
// follow, and the text.
func parseReplyLine(line string) (code int, more bool, err error) {
	if len(line) < 3 || !isDigit(line[0]) || !isDigit(line[1]) || !isDigit(line[2]) {
		return 0, false, &ProtocolError{What: describeGarbage(line)}
	}
	code, _ = strconv.Atoi(line[:3])
	if line[0] < '2' || line[0] > '5' {
		return 0, false, &ProtocolError{What: fmt.Sprintf("server sent reply code %d, outside the 2xx-5xx range of RFC 5321", code)}
	}
	if len(line) == 3 {
		return code, false, nil
	}
	switch line[3] {
	case ' ':
		return code, false, nil
	case '-':
		return code, true, nil
	default:
		return 0, false, &ProtocolError{What: fmt.Sprintf("malformed reply line (no space or '-' after the code): %q", clip(line))}
	}
}

// describeGarbage names what kind of non-SMTP peer sent line, because "not
// SMTP" alone does not tell a user which port or mode to try instead.
func describeGarbage(line string) string {
	switch {
	case strings.HasPrefix(line, "HTTP/"):
		return "an HTTP server answered, not an SMTP server: check the host and port"
	case strings.HasPrefix(line, "SSH-"):
		return "an SSH server answered, not an SMTP server: check the port"
	case len(line) >= 2 && (line[0] == 0x15 || line[0] == 0x16) && line[1] == 0x03:
		return "the server answered with a TLS record: this port speaks TLS from the start, use --tls-on-connect (port 465 style)"
	case strings.HasPrefix(line, "* OK") || strings.HasPrefix(line, "+OK"):
		return "an IMAP or POP3 server answered, not an SMTP server: check the port"
	case line == "":
		return "server sent an empty line instead of a reply code"
	}
	return fmt.Sprintf("server sent a line that is not an SMTP reply (no 3-digit code): %q", clip(line))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseEnhanced returns the RFC 3463 code at the start of text when its
// class matches the basic code's first digit (RFC 2034 §4 requires that).
func parseEnhanced(code int, text string) string {
	end := 0
	dots := 0
	for end < len(text) {
		c := text[end]
		if c == '.' {
			dots++
		} else if !isDigit(c) {
			break
		}
		end++
	}
	ec := text[:end]
	if dots != 2 || end < 5 {
		return ""
	}
	if end < len(text) && text[end] != ' ' && text[end] != '\t' {
		return ""
	}
	parts := strings.Split(ec, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || parts[1] == "" || parts[2] == "" || len(parts[1]) > 3 || len(parts[2]) > 3 {
		return ""
	}
	if code != 0 && parts[0][0] != byte('0'+code/100) {
		return ""
	}
	return ec
}

// readReply reads one complete, possibly multi-line reply. Each line is
// handed to record as soon as it is read so that a reply cut short still
// shows in the transcript.
func readReply(br *bufio.Reader, record func(line string, code int)) (*Reply, error) {
	r := &Reply{}
	for {
		line, err := readReplyLine(br)
		if err != nil {
			if line != "" {
				record(line, r.Code)
			}
			if errors.Is(err, io.EOF) {
				if len(r.Lines) > 0 {
					return nil, fmt.Errorf("%w in the middle of a multi-line reply", errClosed)
				}
				return nil, errClosed
			}
			return nil, err
		}
		code, more, perr := parseReplyLine(line)
		recCode := code
		if perr != nil || (r.Code != 0 && code != r.Code) {
			recCode = 500 // show garbage as an unexpected line
		}
		record(line, recCode)
		if perr != nil {
			return nil, perr
		}
		if r.Code == 0 {
			r.Code = code
			if len(line) > 4 {
				r.Enhanced = parseEnhanced(code, line[4:])
			}
		} else if code != r.Code {
			return nil, &ProtocolError{What: fmt.Sprintf("mismatched codes in a multi-line reply: %d then %d", r.Code, code)}
		}
		r.Lines = append(r.Lines, line)
		if !more {
			return r, nil
		}
		if len(r.Lines) >= maxReplyLines {
			return nil, &ProtocolError{What: fmt.Sprintf("server sent a multi-line reply of more than %d lines", maxReplyLines)}
		}
	}
}
