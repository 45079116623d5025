package diagnose

import (
	"strconv"
	"strings"
)

// Bounds that keep Diagnose's work linear and small whatever the input:
// a hostile server (or a pasted log) may send megabytes in one line.
const (
	maxLines     = 64   // reply lines looked at
	maxLineBytes = 2048 // bytes of each line looked at
	maxMatchText = 4096 // bytes of normalised text the rules are matched against
	maxReplyEcho = 8192 // bytes of the reply echoed back in Diagnosis.Reply
)

// parsedReply is one reply taken apart: its basic code, its enhanced code and
// the text the rules are matched against.
type parsedReply struct {
	code        int    // basic reply code, 0 when none was found
	codeWhere   string // how the code was found, for the evidence
	enhanced    string // "5.7.1", "" when none
	enhWhere    string // how the enhanced code was found
	text        string // reply text without codes, lines joined by a space
	norm        string // text normalised for matching (see normalize)
	reply       string // the lines joined by newlines, bounded, for Diagnosis.Reply
	multiCodeOK bool   // every line carried the same code
}

// parseReply splits the lines of one reply (or one log line that quotes a
// reply) into code, enhanced code and text.
func parseReply(lines []string) parsedReply {
	var p parsedReply
	p.multiCodeOK = true
	if len(lines) > maxLines {
		lines = lines[:maxLines]
	}
	var text strings.Builder
	var echo strings.Builder
	single := len(lines) == 1 && len(lines[0]) <= maxReplyEcho
	for i, raw := range lines {
		ln := raw
		if len(ln) > maxLineBytes {
			ln = ln[:maxLineBytes]
		}
		ln = strings.TrimRight(ln, "\r\n")
		if single {
			// The common case: one line, echoed as is without copying.
			p.reply = strings.TrimRight(raw, "\r\n")
		} else if echo.Len() < maxReplyEcho {
			if i > 0 {
				echo.WriteByte('\n')
			}
			room := maxReplyEcho - echo.Len()
			if len(raw) > room {
				echo.WriteString(raw[:room])
				echo.WriteString("…[truncated]")
			} else {
				echo.WriteString(strings.TrimRight(raw, "\r\n"))
			}
		}
		code, prefix, rest, where := lineCode(ln)
		if code != 0 {
			if p.code == 0 {
				p.code = code
				p.codeWhere = where
			} else if code != p.code {
				p.multiCodeOK = false
			}
		}
		// The enhanced code normally opens the text of the first line
		// (RFC 2034 section 4); later lines repeat it.
		if enh, after, ok := leadingEnhanced(rest); ok {
			if p.enhanced == "" {
				p.enhanced = enh
				if i == 0 {
					p.enhWhere = "at the start of the first line"
				} else {
					p.enhWhere = "at the start of line " + strconv.Itoa(i+1)
				}
			}
			rest = after
		}
		rest = strings.TrimSpace(rest)
		// Text before a quoted code ("... after RCPT TO:<x>: 550 ...",
		// "(in reply to ...)") tells the phase and sometimes the provider.
		if prefix = strings.TrimSpace(prefix); prefix != "" {
			rest = prefix + " " + rest
		}
		if rest == "" {
			continue
		}
		if single {
			p.text = rest
			break
		}
		if text.Len() > 0 {
			text.WriteByte(' ')
		}
		text.WriteString(rest)
	}
	if !single {
		p.text = text.String()
	}
	if strings.Contains(p.text, `\n`) {
		// Exim and others log a multi-line reply with escaped newlines.
		p.text = strings.ReplaceAll(p.text, `\n`, " ")
	}
	if p.code != 0 {
		// Log lines often fold a multi-line reply into one line, leaving
		// "550-5.7.1 " continuation prefixes inside the text; drop them so
		// phrases split across the fold still match.
		p.text = stripContinuations(p.text, p.code, p.enhanced)
	}
	if p.enhanced == "" {
		if enh, ok := findEnhanced(p.text, p.code); ok {
			p.enhanced = enh
			p.enhWhere = "inside the text"
		}
	}
	if !single {
		p.reply = echo.String()
	}
	p.norm = normalize(p.text, maxMatchText)
	return p
}

// lineCode finds the basic reply code of one line: at its start ("550 ...",
// "550-..." or a bare "550"), or quoted inside a log or DSN line after a
// colon, semicolon or "<<<" ("... said: 550 5.1.1 ...", "smtp; 550 ...").
// It returns the code, the text before and after it and how it was found.
func lineCode(ln string) (int, string, string, string) {
	if c, ok := codeAt(ln, 0); ok {
		return c, "", ln[min(4, len(ln)):], "at the start of the line"
	}
	for i := 1; i+3 <= len(ln); i++ {
		c, ok := codeAt(ln, i)
		if !ok {
			continue
		}
		j := i - 1
		for j >= 0 && ln[j] == ' ' {
			j--
		}
		if j < 0 {
			return c, "", ln[min(i+4, len(ln)):], "at the start of the line"
		}
		switch ln[j] {
		case ':', ';', '<', '(', '[', '>':
			return c, ln[:i], ln[min(i+4, len(ln)):], "quoted inside the line"
		}
	}
	return 0, "", ln, ""
}

// codeAt reports whether a valid reply code (RFC 5321 section 4.2: first
// digit 2-5, second 0-5) starts at ln[i] and is followed by a space, a hyphen
// or the end of the line.
func codeAt(ln string, i int) (int, bool) {
	if i+3 > len(ln) {
		return 0, false
	}
	a, b, c := ln[i], ln[i+1], ln[i+2]
	if a < '2' || a > '5' || b < '0' || b > '5' || c < '0' || c > '9' {
		return 0, false
	}
	if i > 0 && (isDigit(ln[i-1]) || ln[i-1] == '.' || ln[i-1] == '-') {
		return 0, false
	}
	if i+3 < len(ln) && ln[i+3] != ' ' && ln[i+3] != '-' && ln[i+3] != '\t' {
		return 0, false
	}
	return int(a-'0')*100 + int(b-'0')*10 + int(c-'0'), true
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// leadingEnhanced parses an enhanced status code at the start of s (after
// optional spaces) and returns it with the rest of s.
func leadingEnhanced(s string) (string, string, bool) {
	t := strings.TrimLeft(s, " \t")
	n, ok := enhancedAt(t, 0)
	if !ok {
		return "", s, false
	}
	return t[:n], t[n:], true
}

// enhancedAt reports the length of an enhanced status code (RFC 3463 section
// 2: class "." subject "." detail, subject up to 3 digits, detail up to 3)
// starting at s[i], which must not continue into more digits or dots.
func enhancedAt(s string, i int) (int, bool) {
	if i+5 > len(s) {
		return 0, false
	}
	if c := s[i]; c != '2' && c != '4' && c != '5' {
		return 0, false
	}
	if s[i+1] != '.' {
		return 0, false
	}
	j := i + 2
	k := j
	for k < len(s) && isDigit(s[k]) && k-j < 4 {
		k++
	}
	if k == j || k-j > 3 || k >= len(s) || s[k] != '.' {
		return 0, false
	}
	k++
	l := k
	for l < len(s) && isDigit(s[l]) && l-k < 4 {
		l++
	}
	if l == k || l-k > 3 {
		return 0, false
	}
	if l < len(s) && (isDigit(s[l]) || (s[l] == '.' && l+1 < len(s) && isDigit(s[l+1]))) {
		return 0, false
	}
	return l - i, true
}

// findEnhanced looks for an enhanced code anywhere in the text, as qmail
// writes it ("(#5.1.1)") or as a bare token. A code whose class contradicts
// the basic code's class is still returned: the evidence reports the clash.
func findEnhanced(text string, code int) (string, bool) {
	for i := 0; i+5 <= len(text); i++ {
		c := text[i]
		if c != '2' && c != '4' && c != '5' {
			continue
		}
		if i > 0 {
			p := text[i-1]
			if isDigit(p) || p == '.' || (p >= 'a' && p <= 'z') || (p >= 'A' && p <= 'Z') {
				continue
			}
		}
		n, ok := enhancedAt(text, i)
		if !ok {
			continue
		}
		// An IPv4 address such as 5.9.12.7 is not an enhanced code:
		// enhancedAt already refuses a fourth ".digits" group.
		if code != 0 && code/100 != int(c-'0') && code/100 >= 4 && c == '2' {
			continue
		}
		return text[i : i+n], true
	}
	return "", false
}

// stripContinuations removes "550-5.7.1 " and "550 5.7.1 " prefixes that log
// writers leave inside a folded multi-line reply.
func stripContinuations(text string, code int, enh string) string {
	cs := strconv.Itoa(code)
	if !strings.Contains(text, cs) {
		return text
	}
	pats := make([]string, 0, 4)
	if enh != "" {
		pats = append(pats, " "+cs+"-"+enh+" ", " "+cs+" "+enh+" ")
	}
	pats = append(pats, " "+cs+"-")
	for _, p := range pats {
		if strings.Contains(text, p) {
			text = strings.ReplaceAll(text, p, " ")
		}
	}
	return text
}

// normalize lowercases ASCII letters, maps typographic quotes to ASCII ones,
// turns control characters into spaces and collapses runs of white space, so
// that keywords and patterns written once match the many spellings servers
// (and copy-pasting users) produce. The result is at most limit bytes.
func normalize(s string, limit int) string {
	if len(s) > limit {
		s = s[:limit]
	}
	b := make([]byte, 0, len(s))
	space := true // drop leading spaces
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80:
			switch s[i+2] {
			case 0x98, 0x99: // ‘ ’
				c = '\''
				i += 2
			case 0x9C, 0x9D: // “ ”
				c = '"'
				i += 2
			case 0x93, 0x94: // – —
				c = '-'
				i += 2
			}
		case c < 0x20 || c == 0x7F:
			c = ' '
		}
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	for len(b) > 0 && b[len(b)-1] == ' ' {
		b = b[:len(b)-1]
	}
	return string(b)
}
