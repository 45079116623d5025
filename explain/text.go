package explain

import (
	"strings"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// marker is the transcript marker a line carried.
type marker int

const (
	markNone  marker = iota
	markRecv         // "<-" or "<~": a reply line received
	markSend         // "->" or "~>": a command sent
	markError        // "<**": an unexpected reply line
	markInfo         // "===" or "***": the tool's own information or error
)

// stripPrefix removes what transcripts and pastes put before a reply:
// leading blanks, e-mail quoting ("> "), relative or absolute timestamps and
// swaks/probe direction markers. It returns the rest and the marker seen.
func stripPrefix(s string) (string, marker) {
	mk := markNone
	for range 4 {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return s, mk
		}
		switch {
		case s[0] == '>' && (len(s) == 1 || s[1] == ' ' || s[1] == '>'):
			s = s[1:]
			continue
		case strings.HasPrefix(s, "<**") || strings.HasPrefix(s, "<~*"):
			return strings.TrimLeft(s[3:], " \t"), markError
		case strings.HasPrefix(s, "<-") || strings.HasPrefix(s, "<~"):
			return strings.TrimLeft(s[2:], " \t"), markRecv
		case strings.HasPrefix(s, "->") || strings.HasPrefix(s, "~>"):
			return strings.TrimLeft(s[2:], " \t"), markSend
		case strings.HasPrefix(s, "===") || strings.HasPrefix(s, "***"):
			return strings.TrimLeft(s[3:], " \t"), markInfo
		}
		if n := timestampLen(s); n > 0 {
			s = s[n:]
			continue
		}
		break
	}
	return s, mk
}

// timestampLen returns the length of a leading timestamp token ("[+0.123s]",
// "12:00:01.5", "2024-01-15T10:00:00Z", "2024-01-15", "+1.2s") or 0. A reply
// code ("550") or a bare enhanced code ("5.7.1") is never a timestamp.
func timestampLen(s string) int {
	if s[0] == '[' {
		end := strings.IndexByte(s, ']')
		if end < 2 || end > 40 {
			return 0
		}
		inner := s[1:end]
		if inner[0] != '+' && (inner[0] < '0' || inner[0] > '9') {
			return 0
		}
		if !timeChars(inner) {
			return 0
		}
		return end + 1
	}
	if s[0] != '+' && (s[0] < '0' || s[0] > '9') {
		return 0
	}
	if _, _, ok := replyCode(s); ok {
		return 0
	}
	end := strings.IndexAny(s, " \t")
	if end < 0 || end > 40 {
		return 0
	}
	tok := s[:end]
	if !timeChars(tok) {
		return 0
	}
	isDate := len(tok) == 10 && tok[4] == '-' && tok[7] == '-'
	isSeconds := tok[len(tok)-1] == 's' && strings.Count(tok, ".") <= 1
	if tok[0] == '+' || strings.IndexByte(tok, ':') >= 0 || isDate || isSeconds {
		return end
	}
	return 0
}

func timeChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c >= '0' && c <= '9') || strings.IndexByte(":.+-TZsm,", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

// replyCode returns the reply code that starts s ("550 ...", "550-...",
// "550") and the separator after it (' ', '-' or 0 at the end of s).
func replyCode(s string) (code string, sep byte, ok bool) {
	if len(s) < 3 || s[0] < '2' || s[0] > '5' || !isDigit(s[1]) || !isDigit(s[2]) {
		return "", 0, false
	}
	if len(s) == 3 {
		return s, 0, true
	}
	if s[3] != ' ' && s[3] != '-' && s[3] != '\t' {
		return "", 0, false
	}
	sep = s[3]
	if sep == '\t' {
		sep = ' '
	}
	return s[:3], sep, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isFailureCode says whether a reply code is a 4xx or 5xx refusal.
func isFailureCode(code string) bool { return code != "" && (code[0] == '4' || code[0] == '5') }

// enhancedAt returns the length of an enhanced status code ("5.7.1",
// "4.4.10") at the start of s, or 0.
func enhancedAt(s string) int {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return 0
	}
	i := 2
	n := 0
	for i < len(s) && isDigit(s[i]) && n < 3 {
		i++
		n++
	}
	if n == 0 || i >= len(s) || s[i] != '.' {
		return 0
	}
	i++
	n = 0
	for i < len(s) && isDigit(s[i]) && n < 3 {
		i++
		n++
	}
	if n == 0 || (i < len(s) && (isDigit(s[i]) || s[i] == '.')) {
		return 0
	}
	return i
}

// findEmbeddedReply finds an SMTP failure reply quoted inside s: a 4xx/5xx
// code followed by an enhanced code of the same class ("... failed: 550
// 5.1.1 ..."). Requiring the enhanced code keeps "took 500 ms" out. It
// returns the index of the code, or -1.
func findEmbeddedReply(s string) int {
	for i := 0; i+9 <= len(s); i++ {
		c := s[i]
		if c != '4' && c != '5' {
			continue
		}
		if i > 0 && !isReplyBoundary(s[i-1]) {
			continue
		}
		if !isDigit(s[i+1]) || !isDigit(s[i+2]) || (s[i+3] != ' ' && s[i+3] != '-') {
			continue
		}
		if s[i+4] == c && enhancedAt(s[i+4:]) > 0 {
			return i
		}
	}
	return -1
}

func isReplyBoundary(c byte) bool {
	return c == ' ' || c == '\t' || c == ':' || c == '(' || c == '"' || c == '\'' || c == '=' || c == ';' || c == '#' || c == '['
}

// splitEmbedded rebuilds the lines of a multi-line reply that a log or a
// folded header flattened into one string: "550-5.1.1 a 550-5.1.1 b 550
// 5.1.1 c" (Postfix) or "550-a\n550 b" with a literal backslash-n (Exim).
// A single-line reply is returned as it is.
func splitEmbedded(reply string) []string {
	reply = strings.TrimSpace(reply)
	code, sep, ok := replyCode(reply)
	if !ok || sep != '-' {
		return []string{reply}
	}
	var out []string
	start := 0
	for i := 4; i+4 <= len(reply); i++ {
		if reply[i:i+3] != code || (reply[i+3] != '-' && reply[i+3] != ' ') {
			continue
		}
		var cut int
		switch {
		case reply[i-1] == ' ':
			cut = i - 1
		case i >= 2 && reply[i-2:i] == `\n`:
			cut = i - 2
		default:
			continue
		}
		if line := strings.TrimSpace(reply[start:cut]); line != "" {
			out = append(out, line)
		}
		start = i
		if reply[i+3] == ' ' {
			break
		}
	}
	if line := strings.TrimSpace(reply[start:]); line != "" {
		out = append(out, line)
	}
	return out
}

// phaseFromCommand maps the words an MTA uses to name the step a reply
// answered ("in reply to RCPT TO command", "after end of data", "while
// sending MAIL FROM", "after initial connection") to a phase constant.
func phaseFromCommand(s string) string {
	u := strings.ToUpper(s)
	switch {
	case strings.Contains(u, "END OF DATA") || strings.Contains(u, "END-OF-MESSAGE") || strings.Contains(u, "END OF MESSAGE") ||
		strings.Contains(u, "MESSAGE BODY") || strings.Contains(u, "DATA END") || strings.Contains(u, "AFTER DATA"):
		return diagnose.PhaseEndOfData
	case strings.Contains(u, "RCPT"):
		return diagnose.PhaseRcpt
	case strings.Contains(u, "MAIL FROM") || strings.HasPrefix(u, "MAIL"):
		return diagnose.PhaseMail
	case strings.Contains(u, "BDAT") || strings.Contains(u, "DATA"):
		return diagnose.PhaseData
	case strings.Contains(u, "STARTTLS") || strings.Contains(u, "TLS"):
		return diagnose.PhaseStartTLS
	case strings.Contains(u, "EHLO") || strings.Contains(u, "HELO") || strings.Contains(u, "LHLO"):
		return diagnose.PhaseHelo
	case strings.Contains(u, "AUTH") || strings.Contains(u, "PASSWORD") || strings.Contains(u, "USERNAME") || strings.Contains(u, "SASL"):
		return diagnose.PhaseAuth
	case strings.Contains(u, "GREETING") || strings.Contains(u, "INITIAL CONNECTION") || strings.Contains(u, "BANNER") ||
		strings.Contains(u, "CONNECT ACL"):
		return diagnose.PhaseBanner
	case strings.Contains(u, "CONNECT"):
		return diagnose.PhaseConnect
	case strings.Contains(u, "QUIT"):
		return diagnose.PhaseQuit
	}
	return diagnose.PhaseAny
}

// splitHostIP splits "mx.example.com[192.0.2.1]:25", "mx.example.com
// [192.0.2.1]" or "[192.0.2.1]" into name and address.
func splitHostIP(s string) (host, ip string) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '[')
	if open < 0 {
		if i := strings.IndexByte(s, ' '); i >= 0 {
			s = s[:i]
		}
		return strings.TrimSuffix(strings.TrimSuffix(s, ":"), "."), ""
	}
	end := strings.IndexByte(s[open:], ']')
	if end < 0 {
		return strings.TrimSpace(s[:open]), ""
	}
	host = strings.TrimSuffix(strings.TrimSpace(s[:open]), ".")
	ip = strings.TrimPrefix(s[open+1:open+end], "IPv6:")
	return host, ip
}

// cleanText makes a finding's text safe to print: valid UTF-8, no control
// characters (a pasted NUL or escape sequence must not reach a terminal).
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return r
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			return -1
		}
		return r
	}, s)
}

// fieldValue returns the value of "key=" in a log line up to the next ", "
// (Postfix and Sendmail write "key=value, key=value"), and whether present.
func fieldValue(line, key string) (string, bool) {
	i := indexField(line, key)
	if i < 0 {
		return "", false
	}
	v := line[i+len(key):]
	if j := strings.Index(v, ", "); j >= 0 {
		v = v[:j]
	}
	return v, true
}

// indexField finds "key" (ending in '=') at a field boundary in line.
func indexField(line, key string) int {
	off := 0
	for {
		i := strings.Index(line[off:], key)
		if i < 0 {
			return -1
		}
		i += off
		if i == 0 || line[i-1] == ' ' || line[i-1] == ',' {
			return i
		}
		off = i + len(key)
	}
}

// angleAddr returns the address inside the first <...> of s, or s trimmed.
func angleAddr(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j >= 0 {
			return s[i+1 : i+j]
		}
	}
	return s
}
