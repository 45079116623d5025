package explain

import (
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// scanText tries the log and bounce parsers on a line that is neither a
// reply nor a transcript command, most specific first.
func (sc *Scanner) scanText(s string, trunc bool, n int) {
	if strings.Contains(s, "postfix") && sc.postfixLine(s, trunc, n) {
		return
	}
	if (strings.Contains(s, "sm-mta[") || strings.Contains(s, "sendmail[") || strings.Contains(s, "sm-msp-queue[")) &&
		sc.sendmailLine(s, trunc, n) {
		return
	}
	if sc.eximLine(s, trunc, n) {
		return
	}
	if sc.bounceLine(s, trunc, n) {
		return
	}
	sc.genericLine(s, trunc, n)
}

// postfixProgram returns what follows "postfix/NAME[pid]: " (also
// "postfix-out/smtp[1]:" multi-instance names) and the program NAME.
func postfixProgram(s string) (prog, rest string, ok bool) {
	i := strings.Index(s, "postfix")
	if i < 0 {
		return "", "", false
	}
	s = s[i+len("postfix"):]
	slash := strings.IndexByte(s, '/')
	if slash < 0 || slash > 30 {
		return "", "", false
	}
	s = s[slash+1:]
	end := strings.Index(s, "]: ")
	open := strings.IndexByte(s, '[')
	if end < 0 || open < 0 || open > end {
		return "", "", false
	}
	return s[:open], s[end+3:], true
}

// postfixLine parses a Postfix log line. It reports true when the line is
// a Postfix line, whether or not it carried a failure.
func (sc *Scanner) postfixLine(s string, trunc bool, n int) bool {
	prog, rest, ok := postfixProgram(s)
	if !ok {
		return false
	}
	if i := indexField(rest, "status="); i >= 0 {
		sc.postfixDelivery(rest, i, trunc, n)
		return true
	}
	if i := strings.Index(rest, "reject: "); i >= 0 {
		sc.postfixReject(prog, rest[i+len("reject: "):], trunc, n)
		return true
	}
	return true
}

// postfixDelivery handles "to=<x>, relay=..., dsn=5.7.1, status=bounced
// (host ... said: ...)".
func (sc *Scanner) postfixDelivery(rest string, at int, trunc bool, n int) {
	st := rest[at+len("status="):]
	word, text, _ := strings.Cut(st, " ")
	switch word {
	case "bounced", "deferred", "undeliverable", "SOFTBOUNCE":
	default:
		return // sent, deliverable, expired (the bounce line says why)
	}
	text = strings.TrimSpace(text)
	if strings.HasPrefix(text, "(") && strings.HasSuffix(text, ")") {
		text = text[1 : len(text)-1]
	}
	reply, phase, host, ip := parsePostfixText(text)
	if reply == "" {
		return
	}
	to, _ := fieldValue(rest, "to=")
	dsn, _ := fieldValue(rest, "dsn=")
	if host == "" && ip == "" {
		if relay, ok := fieldValue(rest, "relay="); ok && relay != "none" {
			host, ip = splitHostIP(relay)
		}
	}
	sc.emit(Finding{Lines: replyLines(reply, dsn), Phase: phase, Source: SourcePostfix, Line: n,
		Host: host, HostIP: ip, Recipient: angleAddr(to), Status: word, Truncated: trunc})
}

// postfixReject handles the receiving side: "RCPT from h[ip]: 554 5.7.1
// ...; from=<a> to=<b> proto=ESMTP helo=<h>" (smtpd, postscreen) and
// cleanup's "header Subject: ... from h[ip]; from=<a> ...: 5.7.1 text".
func (sc *Scanner) postfixReject(prog, s string, trunc bool, n int) {
	verb, after, _ := strings.Cut(s, " ")
	f := Finding{Source: SourcePostfix, Line: n, Status: "reject", Truncated: trunc}
	var reply, trailer string
	switch verb {
	case "header", "body":
		// cleanup: the reply follows the "helo=<...>: " trailer.
		f.Phase = diagnose.PhaseEndOfData
		k := strings.Index(after, " from ")
		semi := strings.Index(after, "; from=<")
		if semi < 0 {
			return
		}
		if k >= 0 && k < semi {
			f.ClientHost, f.ClientIP = splitHostIP(after[k+len(" from ") : semi])
		}
		trailer = after[semi:]
		j := strings.LastIndex(trailer, ">: ")
		if j < 0 {
			return
		}
		reply = trailer[j+3:]
		trailer = trailer[:j+1]
	default:
		f.Phase = phaseFromCommand(verb)
		if verb == "CONNECT" {
			f.Phase = diagnose.PhaseBanner
		}
		client, msg, ok := strings.Cut(strings.TrimPrefix(after, "from "), ": ")
		if !ok {
			return
		}
		f.ClientHost, f.ClientIP = splitHostIP(client)
		reply = msg
		for _, cut := range [...]string{"; from=<", "; proto="} {
			if j := strings.Index(msg, cut); j >= 0 {
				reply, trailer = msg[:j], msg[j:]
				break
			}
		}
	}
	if v, ok := fieldValue(strings.ReplaceAll(trailer, "; ", ", "), "from="); ok {
		f.Sender = angleAddr(v)
	}
	if v, ok := fieldValue(strings.ReplaceAll(trailer, "; ", ", "), "to="); ok {
		f.Recipient = angleAddr(strings.TrimSuffix(v, ","))
	}
	if i := strings.Index(trailer, "helo=<"); i >= 0 {
		f.Helo = angleAddr(trailer[i+len("helo="):])
	}
	if prog == "cleanup" && f.Phase == diagnose.PhaseAny {
		f.Phase = diagnose.PhaseEndOfData
	}
	f.Lines = replyLines(reply, "")
	sc.emit(f)
}

// parsePostfixText reads the explanation Postfix gives in a status=
// parenthesis or a bounce: the server's reply and the command it answered,
// or Postfix's own words for failures without a reply.
func parsePostfixText(text string) (reply, phase, host, ip string) {
	text = strings.TrimSpace(text)
	phase = diagnose.PhaseAny
	if rest, ok := strings.CutPrefix(text, "delivery temporarily suspended: "); ok {
		text = rest
	}
	if i := strings.Index(text, " said: "); i >= 0 {
		prefix := text[:i]
		reply = text[i+len(" said: "):]
		if k := strings.LastIndex(reply, "(in reply to "); k >= 0 {
			cmd := strings.TrimSuffix(strings.TrimSpace(reply[k+len("(in reply to "):]), ")")
			phase = phaseFromCommand(strings.TrimSuffix(cmd, " command"))
			reply = strings.TrimSpace(reply[:k])
		}
		if strings.Contains(prefix, "SASL authentication failed") {
			phase = diagnose.PhaseAuth
		}
		host, ip = hostAfter(prefix, "host ", "server ")
		return reply, phase, host, ip
	}
	if i := strings.Index(text, " refused to talk to me: "); i >= 0 {
		host, ip = hostAfter(text[:i], "host ")
		return text[i+len(" refused to talk to me: "):], diagnose.PhaseBanner, host, ip
	}
	for _, p := range []string{"lost connection with ", "conversation with "} {
		if i := strings.Index(text, p); i >= 0 {
			host, ip = splitHostIP(text[i+len(p):])
			if w := strings.Index(text, " while "); w >= 0 {
				phase = phaseFromCommand(text[w+len(" while "):])
			}
			return text, phase, host, ip
		}
	}
	if rest, ok := strings.CutPrefix(text, "connect to "); ok {
		host, ip = splitHostIP(rest)
		return text, diagnose.PhaseConnect, host, ip
	}
	if i := strings.Index(text, "TLS is required, but"); i >= 0 {
		host, ip = hostAfter(text, "host ")
		return text, diagnose.PhaseStartTLS, host, ip
	}
	if strings.Contains(text, "Host or domain name not found") || strings.Contains(text, "Name service error") ||
		strings.Contains(text, "mail for ") && strings.Contains(text, "loops back to myself") {
		return text, diagnose.PhaseConnect, "", ""
	}
	return text, phase, "", ""
}

// hostAfter finds "host NAME[IP]" after one of the given words.
func hostAfter(s string, words ...string) (host, ip string) {
	for _, w := range words {
		if i := strings.LastIndex(s, w); i >= 0 {
			return splitHostIP(s[i+len(w):])
		}
	}
	return "", ""
}

// eximLine parses Exim main log and reject log lines. It reports true when
// it recognised the line.
func (sc *Scanner) eximLine(s string, trunc bool, n int) bool {
	if i := eximFlag(s, " ** "); i >= 0 {
		sc.eximDelivery(s[i+4:], "failed", trunc, n)
		return true
	}
	if i := eximFlag(s, " == "); i >= 0 {
		sc.eximDelivery(s[i+4:], "deferred", trunc, n)
		return true
	}
	if i := strings.Index(s, "authenticator failed for "); i >= 0 {
		rest := s[i+len("authenticator failed for "):]
		f := Finding{Source: SourceExim, Line: n, Phase: diagnose.PhaseAuth, Status: "reject", Truncated: trunc}
		if k := findCodeAfterColon(rest); k >= 0 {
			f.ClientHost, f.ClientIP, f.Helo = eximClient(rest[:k])
			f.Lines = replyLines(rest[k:], "")
			sc.emit(f)
		}
		return true
	}
	h := strings.Index(s, "H=")
	if h < 0 {
		return false
	}
	r := strings.Index(s[h:], " rejected ")
	if r < 0 {
		return false
	}
	sc.eximReject(s, h, h+r+len(" rejected "), trunc, n)
	return true
}

// eximFlag finds an Exim delivery flag (" ** ", " == ") right after a
// message id such as "1rP3xY-0001Ab-Cd", so prose with "**" is not taken.
func eximFlag(s, flag string) int {
	i := strings.Index(s, flag)
	if i < 14 {
		return -1
	}
	id := s[:i]
	if j := strings.LastIndexByte(id, ' '); j >= 0 {
		id = id[j+1:]
	}
	if len(id) < 14 || len(id) > 26 || strings.Count(id, "-") != 2 {
		return -1
	}
	return i
}

// eximDelivery handles "x@y R=router T=transport H=mx [ip]: SMTP error from
// remote mail server after RCPT TO:<x@y>: 550 ...", deferrals ("defer
// (-44) H=...: ...") and router failures ("x@y: Unrouteable address").
func (sc *Scanner) eximDelivery(rest, status string, trunc bool, n int) {
	f := Finding{Source: SourceExim, Line: n, Status: status, Truncated: trunc, Phase: diagnose.PhaseAny}
	rcpt := rest
	if i := strings.IndexAny(rest, " :"); i >= 0 {
		rcpt = rest[:i]
	}
	f.Recipient = strings.Trim(rcpt, "<>")
	if i := strings.Index(rest, " H="); i >= 0 {
		f.Host, f.HostIP = splitHostIP(rest[i+3:])
		if strings.HasPrefix(f.Host, "[") {
			f.Host = ""
		}
	}
	var text string
	switch {
	case strings.Contains(rest, "retry time not reached"):
		return // no new attempt, nothing new to explain
	case strings.Contains(rest, "SMTP error from remote mail"):
		i := strings.Index(rest, "SMTP error from remote mail")
		tail := rest[i:]
		k := findCodeAfterColon(tail)
		if k < 0 {
			return
		}
		if a := strings.Index(tail, " after "); a >= 0 && a < k {
			f.Phase = phaseFromCommand(tail[a+len(" after ") : k])
		}
		text = tail[k:]
		if f.Host == "" {
			// Older Exim: "... after RCPT TO:<x>: host mx [ip]: 550 ..."
			if h := strings.Index(tail, ": host "); h >= 0 && h < k {
				f.Host, f.HostIP = splitHostIP(tail[h+len(": host "):])
			}
		}
	default:
		// "... H=mx [ip]: Remote host closed connection in response to
		// end of data", "defer (111): Connection refused",
		// "x@y: Unrouteable address".
		text = rest
		if i := strings.LastIndex(rest, "]: "); i >= 0 {
			text = rest[i+3:]
		} else if i := strings.Index(rest, ": "); i >= 0 {
			text = rest[i+2:]
		}
		for _, w := range []string{" in response to ", "SMTP timeout after ", " after "} {
			if i := strings.Index(text, w); i >= 0 {
				f.Phase = phaseFromCommand(text[i+len(w):])
				break
			}
		}
		if f.Phase == diagnose.PhaseAny && (strings.Contains(text, "Connection refused") || strings.Contains(text, "Connection timed out") ||
			strings.Contains(text, "No route to host") || strings.Contains(text, "Network is unreachable")) {
			f.Phase = diagnose.PhaseConnect
		}
	}
	f.Lines = replyLines(text, "")
	sc.emit(f)
}

// findCodeAfterColon finds ": NNN" (a 4xx/5xx code after a colon) and
// returns the index of the code, or -1.
func findCodeAfterColon(s string) int {
	off := 0
	for {
		i := strings.Index(s[off:], ": ")
		if i < 0 {
			return -1
		}
		k := off + i + 2
		if code, _, ok := replyCode(s[k:]); ok && isFailureCode(code) {
			return k
		}
		off = k
	}
}

// eximReject handles the receiving side: "H=(helo) [ip] F=<a> rejected
// RCPT <x>: text", "rejected MAIL <a>: text", "rejected after DATA: text",
// "rejected EHLO from [ip]: text", "rejected connection in "connect" ACL".
func (sc *Scanner) eximReject(s string, h, r int, trunc bool, n int) {
	f := Finding{Source: SourceExim, Line: n, Status: "reject", Truncated: trunc}
	f.ClientHost, f.ClientIP, f.Helo = eximClient(s[h+2 : r])
	if i := strings.Index(s[h:r], " F=<"); i >= 0 {
		f.Sender = angleAddr(s[h+i+3 : r])
	}
	what := s[r:]
	var text string
	switch {
	case strings.HasPrefix(what, "RCPT "):
		f.Phase = diagnose.PhaseRcpt
		f.Recipient = angleAddr(what[5:])
		text = afterColon(what, ">: ")
	case strings.HasPrefix(what, "MAIL "):
		f.Phase = diagnose.PhaseMail
		f.Sender = angleAddr(what[5:])
		text = afterColon(what, ">: ")
	case strings.HasPrefix(what, "after DATA"), strings.HasPrefix(what, "after MIME"), strings.HasPrefix(what, "after DKIM"):
		// Exim's DATA/MIME/DKIM ACLs run once the message is received.
		f.Phase = diagnose.PhaseEndOfData
		text = afterColon(what, ": ")
	case strings.HasPrefix(what, "DATA"):
		f.Phase = diagnose.PhaseData
		text = afterColon(what, ": ")
	case strings.HasPrefix(what, "EHLO"), strings.HasPrefix(what, "HELO"):
		f.Phase = diagnose.PhaseHelo
		text = afterColon(what, ": ")
	case strings.HasPrefix(what, "connection"):
		f.Phase = diagnose.PhaseBanner
		text = afterColon(what, ": ")
	default:
		f.Phase = phaseFromCommand(what)
		text = afterColon(what, ": ")
	}
	f.Lines = replyLines(text, "")
	sc.emit(f)
}

func afterColon(s, sep string) string {
	if i := strings.Index(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}

// eximClient reads Exim's host field: "(helo) [ip]:port", "name (helo)
// [ip]", "name [ip]".
func eximClient(s string) (host, ip, helo string) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " F=<"); i >= 0 {
		s = s[:i]
	}
	if o := strings.IndexByte(s, '('); o >= 0 {
		if c := strings.IndexByte(s[o:], ')'); c >= 0 {
			helo = s[o+1 : o+c]
			s = s[:o] + s[o+c+1:]
		}
	}
	host, ip = splitHostIP(s)
	return host, ip, helo
}

// sendmailLine parses a Sendmail log line: delivery results ("to=<x>,
// relay=mx. [ip], dsn=5.0.0, stat=Service unavailable", optionally with
// reply=) and check_* ruleset rejections ("reject=550 5.7.1 ...").
func (sc *Scanner) sendmailLine(s string, trunc bool, n int) bool {
	end := strings.Index(s, "]: ")
	if end < 0 {
		return false
	}
	rest := s[end+3:]
	f := Finding{Source: SourceSendmail, Line: n, Truncated: trunc, Phase: diagnose.PhaseAny}
	if i := indexField(rest, "reject="); i >= 0 {
		f.Status = "reject"
		reply := rest[i+len("reject="):]
		ruleset, _ := fieldValue(rest, "ruleset=")
		arg1, _ := fieldValue(rest, "arg1=")
		switch ruleset {
		case "check_rcpt":
			f.Phase = diagnose.PhaseRcpt
			f.Recipient = angleAddr(arg1)
		case "check_mail":
			f.Phase = diagnose.PhaseMail
			f.Sender = angleAddr(arg1)
		case "check_relay":
			f.Phase = diagnose.PhaseBanner
		case "check_data", "check_eom":
			f.Phase = diagnose.PhaseEndOfData
		}
		if strings.Contains(rest, "milter=") {
			f.Phase = diagnose.PhaseEndOfData
		}
		if relay, ok := fieldValue(rest, "relay="); ok {
			f.ClientHost, f.ClientIP = splitHostIP(relay)
		}
		f.Lines = replyLines(reply, "")
		sc.emit(f)
		return true
	}
	dsn, hasDSN := fieldValue(rest, "dsn=")
	si := indexField(rest, "stat=")
	if !hasDSN && si < 0 {
		return true
	}
	stat := ""
	if si >= 0 {
		stat = rest[si+len("stat="):]
	}
	deferred := strings.HasPrefix(stat, "Deferred")
	if !deferred && (dsn == "" || (dsn[0] != '4' && dsn[0] != '5')) {
		return true
	}
	f.Status = "bounced"
	if deferred {
		f.Status = "deferred"
	}
	to, _ := fieldValue(rest, "to=")
	f.Recipient = angleAddr(to)
	if relay, ok := fieldValue(rest, "relay="); ok {
		f.Host, f.HostIP = splitHostIP(relay)
	}
	text := strings.TrimPrefix(strings.TrimPrefix(stat, "Deferred"), ": ")
	if ri := indexField(rest, "reply="); ri >= 0 {
		reply := rest[ri+len("reply="):]
		if k := strings.Index(reply, ", stat="); k >= 0 {
			reply = reply[:k]
		}
		text = reply
	}
	if text == "" {
		text = stat
	}
	f.Lines = replyLines(text, dsn)
	if f.Phase == diagnose.PhaseAny && (strings.Contains(text, "Connection refused") || strings.Contains(text, "Connection timed out")) {
		f.Phase = diagnose.PhaseConnect
	}
	sc.emit(f)
	return true
}
