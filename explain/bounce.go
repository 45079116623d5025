package explain

import (
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// bounceState remembers context from the human part of a bounce that
// applies to the next lines: Gmail's "The error that the other server
// returned was:" announces a reply on the following lines, and Exchange
// writes the recipient address on the line before "Remote Server returned".
type bounceState struct {
	expectLine int    // line of an announcement of a reply below
	addr       string // a recipient address alone on its line
	addrLine   int
	lastKey    string // the last Exchange reply, to drop its repetition
	lastLine   int
}

func (b *bounceState) expectsReply(n int) bool { return b.expectLine > 0 && n-b.expectLine <= 3 }

func (b *bounceState) recipient(n int) string {
	if b.addr != "" && n-b.addrLine <= 4 {
		return b.addr
	}
	return ""
}

// bounceLine handles the human part of bounces. It reports true when the
// line was recognised.
func (sc *Scanner) bounceLine(s string, trunc bool, n int) bool {
	// Postfix: "<x@y>: host mx[ip] said: 550 ... (in reply to RCPT TO
	// command)", possibly wrapped over indented lines.
	if s[0] == '<' {
		// "<x@y>: ..." or "<x@y> (expanded from <z@w>): ..."
		if i := strings.Index(s, ": "); i > 0 && i < 320 && (s[i-1] == '>' || s[i-1] == ')') {
			rest := s[i+2:]
			if strings.HasPrefix(rest+" ", "host ") || strings.HasPrefix(rest, "connect to ") ||
				strings.HasPrefix(rest, "lost connection with ") || strings.HasPrefix(rest, "conversation with ") ||
				strings.HasPrefix(rest, "Host or domain name not found") || strings.HasPrefix(rest, "TLS is required") ||
				strings.HasPrefix(rest, "SASL authentication failed") || strings.HasPrefix(rest, "delivery temporarily suspended") {
				sc.startWrap(angleAddr(s[:i]), rest, trunc, n)
				return true
			}
		}
	}
	if sc.exchangeLine(s, trunc, n) {
		return true
	}
	// How bounces (Gmail, Yahoo, Microsoft 365, generic MTAs) introduce the
	// remote server's reply, on the same line or below.
	for _, a := range [...]string{
		"The error that the other server returned was:",
		"The response from the remote server was:",
		"The response was:",
		"Remote server replied:",
		"The mail server responded:",
		"Reported error:",
		"The following message to <",
	} {
		i := strings.Index(s, a)
		if i < 0 {
			continue
		}
		rest := strings.TrimSpace(s[i+len(a):])
		if a == "The following message to <" {
			// "The following message to <x@y> was undeliverable."
			sc.bounce.addr = angleAddr(s[i+len(a)-1:])
			sc.bounce.addrLine = n
			return true
		}
		if k := findReplyStart(rest); k >= 0 {
			src := SourceBounce
			if a == "Reported error:" {
				src = SourceExchange
			}
			sc.emit(Finding{Lines: replyLines(trimQuotes(rest[k:]), ""), Source: src, Line: n,
				Recipient: sc.bounce.recipient(n), Status: "failed", Truncated: trunc})
			return true
		}
		sc.bounce.expectLine = n
		return true
	}
	if isBareAddress(s) {
		sc.bounce.addr = strings.TrimSpace(s)
		if i := strings.Index(sc.bounce.addr, "<mailto:"); i > 0 {
			sc.bounce.addr = sc.bounce.addr[:i]
		}
		sc.bounce.addrLine = n
		return true
	}
	return false
}

// findReplyStart returns the index where an SMTP reply starts in s: at the
// start, or after a quote or a colon.
func findReplyStart(s string) int {
	s2 := strings.TrimLeft(s, "'\"")
	if code, _, ok := replyCode(s2); ok && isFailureCode(code) {
		return len(s) - len(s2)
	}
	return findEmbeddedReply(s)
}

// exchangeLine handles Exchange/Microsoft 365 NDR text: "Remote Server
// returned '550 5.1.1 ...'", "Remote server at mx (ip) returned '...'",
// "#550 5.1.10 RESOLVER.ADR.RecipientNotFound; ... ##" and the older
// "#< #5.0.0 smtp;554 5.7.1 ...> #SMTP#".
func (sc *Scanner) exchangeLine(s string, trunc bool, n int) bool {
	var reply, host, ip string
	switch {
	case s[0] == '#':
		body := s[1:]
		if strings.HasPrefix(body, "< #") {
			if i := strings.Index(body, "smtp;"); i >= 0 {
				body = body[i+len("smtp;"):]
				if j := strings.LastIndex(body, "> #SMTP#"); j >= 0 {
					body = body[:j]
				}
			}
		}
		body = strings.TrimSpace(body)
		if j := strings.Index(body, "##"); j >= 0 {
			body = body[:j]
		}
		code, _, ok := replyCode(body)
		if !ok || !isFailureCode(code) {
			return false
		}
		reply = body
	case strings.Contains(s, "emote Server returned") || strings.Contains(s, "emote server returned") ||
		strings.Contains(s, "emote Server at ") || strings.Contains(s, "emote server at "):
		i := strings.Index(s, " returned ")
		if i < 0 {
			return false
		}
		if at := strings.Index(s[:i], " at "); at >= 0 {
			// "Remote Server at mx.example.com (192.0.2.1) returned"
			hp := strings.TrimSpace(s[at+4 : i])
			host = hp
			if o := strings.IndexByte(hp, '('); o >= 0 {
				host = strings.TrimSpace(hp[:o])
				ip = strings.Trim(hp[o:], "() ")
			}
		}
		reply = trimQuotes(strings.TrimSpace(s[i+len(" returned "):]))
		if reply == "" {
			return false
		}
	default:
		return false
	}
	reply = strings.TrimSpace(reply)
	key := reply
	if key == sc.bounce.lastKey && n-sc.bounce.lastLine <= 40 {
		return true // the same reply again, in the NDR's other section
	}
	sc.bounce.lastKey, sc.bounce.lastLine = key, n
	sc.emit(Finding{Lines: replyLines(reply, ""), Source: SourceExchange, Line: n, Host: host, HostIP: ip,
		Recipient: sc.bounce.recipient(n), Status: "failed", Truncated: trunc})
	return true
}

// trimQuotes removes the quotes Exchange and Gmail put around a reply.
func trimQuotes(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '\'' || s[0] == '"') {
		q := s[0]
		s = s[1:]
		if j := strings.LastIndexByte(s, q); j >= 0 {
			s = s[:j]
		}
	}
	return strings.TrimSpace(s)
}

// isBareAddress reports whether s is just an e-mail address (as Exchange
// NDRs list the failed recipient), possibly followed by "<mailto:...>".
func isBareAddress(s string) bool {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "<mailto:"); i > 0 {
		s = s[:i]
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || len(s) > 254 || strings.ContainsAny(s, " \t<>()[]:;,\"") {
		return false
	}
	return strings.IndexByte(s[at+1:], '.') > 0
}

// genericLine finds an SMTP refusal quoted in any other text, such as
// application logs ("SMTP ERROR: RCPT TO command failed: 550 5.1.1 ...").
func (sc *Scanner) genericLine(s string, trunc bool, n int) {
	i := findEmbeddedReply(s)
	if i < 0 {
		return
	}
	prefix := s[:i]
	phase := diagnose.PhaseAny
	// Only words that name the step count: a host called data.example
	// must not set the phase.
	if j := strings.LastIndex(prefix, " command failed"); j >= 0 {
		// PHPMailer and friends: "RCPT TO command failed: 550 ...".
		phase = phaseFromCommand(prefix[max(0, j-12):j])
	} else {
		for _, w := range []string{"in reply to ", "in response to ", " after "} {
			if j := strings.LastIndex(prefix, w); j >= 0 {
				phase = phaseFromCommand(prefix[j+len(w):])
				break
			}
		}
	}
	reply := s[i:]
	if i > 0 && (s[i-1] == '\'' || s[i-1] == '"') {
		if j := strings.LastIndexByte(reply, s[i-1]); j > 0 {
			reply = reply[:j]
		}
	}
	sc.emit(Finding{Lines: replyLines(reply, ""), Phase: phase, Source: SourceText, Line: n,
		Recipient: sc.bounce.recipient(n), Truncated: trunc})
}
