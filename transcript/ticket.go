package transcript

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// MessageInfo identifies the message sent (DESIGN.md "Additions":
// `message`): what the receiver got, to find it in its logs or mailbox.
type MessageInfo struct {
	// Size is the number of bytes transferred after DATA, line endings
	// made CRLF and before dot-stuffing (the message as the receiver
	// stores it), without the final ".".
	Size int64 `json:"size"`
	// SHA256 is the SHA-256 of those bytes, lowercase hex.
	SHA256 string `json:"sha256"`
	// MessageID is the Message-ID header's value ("" when the message has
	// none).
	MessageID string `json:"message_id"`
}

// Capabilities are the EHLO keywords the server advertised in clear and
// inside TLS, each as advertised ("SIZE 10240000", "AUTH PLAIN LOGIN"),
// in the server's order.
type Capabilities struct {
	BeforeTLS []string // nil when no EHLO was answered in clear
	AfterTLS  []string // nil when no EHLO was answered inside TLS
	// Greeting is HELO (or a refused EHLO): the server was greeted
	// without extensions.
	HELOOnly bool
}

// EHLOCapabilities reads the EHLO keywords out of the session's steps: the
// last EHLO (or LHLO) answered in clear, and the last answered inside TLS
// (after the STARTTLS handshake, or on an implicit-TLS connection).
func EHLOCapabilities(steps []Step) Capabilities {
	var c Capabilities
	inTLS := insideTLS(steps)
	for i, s := range steps {
		switch {
		case s.Phase == "helo" && s.Reply != nil && s.Reply.Code == 250:
			verb, _, _ := strings.Cut(strings.ToUpper(s.Command), " ")
			if verb == "HELO" {
				c.HELOOnly = true
				continue
			}
			kw := []string{}
			for i, l := range s.Reply.Lines {
				if i == 0 {
					continue // the greeting line
				}
				if len(l) >= 4 && (l[3] == '-' || l[3] == ' ') {
					l = l[4:]
				}
				if l = strings.TrimSpace(l); l != "" {
					kw = append(kw, l)
				}
			}
			if inTLS[i] {
				c.AfterTLS = kw
			} else {
				c.BeforeTLS = kw
			}
		}
	}
	return c
}

// insideTLS says for each step whether it ran inside TLS: after a
// STARTTLS handshake that succeeded, or on a connection whose handshake
// came at connect (implicit TLS). A banner without such a handshake just
// before it starts a new connection in clear (the reconnection after a
// failed opportunistic handshake).
func insideTLS(steps []Step) []bool {
	out := make([]bool, len(steps))
	in, atConnect := false, false
	for i, s := range steps {
		switch {
		case strings.HasPrefix(s.Command, "(TLS handshake"):
			in = s.Error == ""
			atConnect = in && s.Phase == "connect"
		case s.Phase == "banner":
			in, atConnect = atConnect, false
		}
		out[i] = in
	}
	return out
}

// WriteReport writes the ticket-ready Markdown report: the verdict as its
// first line, then the diagnosis, the environment, TLS, the EHLO
// capabilities, the timings, the message sent and the whole timestamped
// transcript, each under its own heading. Everything that came from the
// server is escaped (control bytes, Markdown syntax, table pipes), and the
// transcript sits in a fence longer than any run of backticks in it. The
// report holds nothing the Report does not: secrets were scrubbed when it
// was recorded.
func WriteReport(w io.Writer, r *Report, opts TextOptions) error {
	var b strings.Builder
	b.WriteString("# " + verdict(r) + "\n")
	sections := []func(*strings.Builder, *Report){
		ticketDiagnosis, ticketEveryMX, ticketEnvironment, ticketTLS, ticketCapabilities, ticketTiming, ticketMessage,
	}
	for _, s := range sections {
		s(&b, r)
	}
	fence := codeFence(r)
	b.WriteString("\n## Transcript\n\n" + fence + "\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	opts.Timestamps = true
	for _, e := range r.Events {
		if err := WriteEvent(w, e, opts); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, fence+"\n")
	return err
}

// ticketEveryMX is the --all-mx matrix, its differences and summary; the
// sections after it describe the chosen address (the most preferred that
// failed).
func ticketEveryMX(b *strings.Builder, r *Report) {
	if len(r.MXMatrix) == 0 {
		return
	}
	cell := func(s string) string {
		return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "`", "'")
	}
	b.WriteString("\n## Every MX address\n\n")
	b.WriteString("| " + strings.Join(matrixHeader, " | ") + " |\n")
	b.WriteString("|---|---:|---|---|---|---|---|---:|\n")
	for _, row := range matrixRows(r) {
		for i := range row {
			row[i] = cell(row[i])
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	for _, d := range r.MXDifferences {
		fmt.Fprintf(b, "- %s\n", mdText(d))
	}
	if r.MXSummary != "" {
		fmt.Fprintf(b, "\n%s; the sections below are the session of %s.\n", mdText(r.MXSummary), mdText(r.Target.Address))
	}
}

// --- the verdict ---

var timeoutRe = regexp.MustCompile(`^no reply within (\S+) \(--timeout\) during`)

// verdict says in one line how the session ended, in words.
func verdict(r *Report) string {
	res := r.Result
	exit := fmt.Sprintf(" (exit %d)", res.ExitCode)
	switch {
	case res.Interrupted:
		return "Interrupted during " + stepName(res.Phase, res.Command) + exit + ": the report holds what happened until then"
	case res.OK:
		var s string
		switch {
		case res.QueueID != "":
			s = "Accepted for delivery: queued as " + code(res.QueueID, false)
		case res.StoppedAfter != "" && !strings.HasPrefix(res.MessageFate, "accepted"):
			s = "Stopped after " + strings.ToUpper(res.StoppedAfter) + " as asked: no message sent"
		case strings.HasPrefix(res.MessageFate, "accepted"):
			s = "Accepted for delivery"
			if res.Reply != nil {
				s += ": " + code(replyText(res.Reply), false)
			}
		default:
			s = "Succeeded"
		}
		if n := len(res.RejectedRcpts); n > 0 {
			s += fmt.Sprintf("; %d of %d recipients refused", n, n+len(res.AcceptedRcpts))
		}
		return s + exit
	}
	if r.TLS != nil && res.ExitCode == 29 && res.Reply == nil && (r.TLS.HandshakeError != "" || r.TLS.ResultType != "") {
		s := "TLS failed: " + mdText(tlsReason(r.TLS))
		if r.TLS.ResultType != "" {
			s += " (" + string(r.TLS.ResultType) + ")"
		}
		return s + exit
	}
	if m := timeoutRe.FindStringSubmatch(res.Error); m != nil && res.Reply == nil {
		if res.Phase == "banner" {
			return "No greeting (banner) within " + seconds(m[1]) + exit
		}
		step := stepName(res.Phase, res.Command)
		if res.Phase == "end-of-data" {
			step = "the message (after the final dot)"
		}
		return "No reply to " + step + " within " + seconds(m[1]) + exit
	}
	if rp := res.Reply; rp != nil && rp.Code >= 400 {
		how := "Rejected"
		if rp.Code < 500 {
			how = "Temporarily refused"
		}
		s := fmt.Sprintf("%s at %s with %d", how, stepName(res.Phase, res.Command), rp.Code)
		if rp.EnhancedCode != "" {
			s += " " + rp.EnhancedCode
		}
		if t := replyText(rp); t != "" {
			s += ": " + code(shorten(t, 100), false)
		}
		return s + exit
	}
	what := res.Error
	if what == "" {
		what = res.ExitMeaning
	}
	switch res.ExitCode {
	case 2:
		return "Could not connect: " + mdText(shorten(what, 140)) + exit
	case 6:
		return "Connection closed unexpectedly during " + stepName(res.Phase, res.Command) + exit
	}
	return "Failed at " + stepName(res.Phase, res.Command) + ": " + mdText(shorten(what, 140)) + exit
}

// tlsReason is why the TLS handshake failed, as a person says it.
func tlsReason(t *TLSInfo) string {
	var leaf *CertInfo
	if len(t.PeerCertificates) > 0 {
		leaf = &t.PeerCertificates[0]
	}
	switch {
	case t.ResultType == "certificate-expired" && leaf != nil && !leaf.NotAfter.IsZero():
		return "certificate expired on " + leaf.NotAfter.UTC().Format("2006-01-02")
	case t.VerifySummary != "":
		return t.VerifySummary
	case t.ResultType == "certificate-host-mismatch" && leaf != nil:
		return "the certificate is not valid for " + t.ServerName
	case t.ResultType == "certificate-not-trusted":
		return "certificate not trusted"
	}
	s := t.HandshakeError
	if s == "" {
		s = t.VerifyError
	}
	if s == "" {
		s = string(t.ResultType)
	}
	if i := strings.Index(s, " failed: "); i >= 0 {
		s = s[i+len(" failed: "):]
	}
	return shorten(s, 140)
}

// stepName names a phase by its command, as the transcript shows it.
func stepName(phase, command string) string {
	verb, _, _ := strings.Cut(strings.ToUpper(command), " ")
	switch phase {
	case "connect":
		return "connect"
	case "banner":
		return "the greeting (banner)"
	case "helo":
		if verb == "HELO" || verb == "LHLO" {
			return verb
		}
		return "EHLO"
	case "starttls":
		return "STARTTLS"
	case "auth":
		return "AUTH"
	case "mail":
		return "MAIL FROM"
	case "rcpt":
		return "RCPT TO"
	case "data":
		return "DATA"
	case "end-of-data":
		return "end of DATA (after the final dot)"
	case "quit":
		return "QUIT"
	case "":
		return "an unknown step"
	}
	return strings.ToUpper(phase)
}

// replyText is the text of a reply without its codes, its lines joined.
func replyText(rp *Reply) string {
	var parts []string
	for _, l := range rp.Lines {
		if len(l) >= 4 && l[:3] == strconv.Itoa(rp.Code) && (l[3] == ' ' || l[3] == '-') {
			l = l[4:]
		} else if len(l) == 3 {
			l = ""
		}
		if rp.EnhancedCode != "" {
			l = strings.TrimPrefix(l, rp.EnhancedCode+" ")
		}
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, " ")
}

func seconds(d string) string {
	dur, err := time.ParseDuration(d)
	if err != nil {
		return d
	}
	return strconv.FormatFloat(dur.Seconds(), 'f', -1, 64) + " s"
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// --- Diagnosis ---

func ticketDiagnosis(b *strings.Builder, r *Report) {
	b.WriteString("\n## Diagnosis\n")
	res, d := r.Result, r.Diagnosis
	item := func(k, v string) {
		if v == "" {
			fmt.Fprintf(b, "- **%s:**\n", k)
		} else {
			fmt.Fprintf(b, "- **%s:** %s\n", k, v)
		}
	}
	if rp := res.Reply; rp != nil && !res.OK && (len(rp.Lines) > 1 || len([]rune(replyText(rp))) > 100) {
		item("Reply", "")
		for _, l := range rp.Lines {
			b.WriteString("  - " + code(l, false) + "\n")
		}
	}
	if res.OK && d != nil && d.Reply != "" {
		// The session succeeded: the refusal explained is a
		// recipient's, which the verdict does not quote.
		item("Refused", code(strings.ReplaceAll(d.Reply, "\n", " / "), false))
	}
	if res.Error != "" && d == nil {
		item("Error", mdText(res.Error))
	}
	if fb := r.TLSFallback; fb != nil {
		item("TLS finding", "STARTTLS was offered but the handshake failed ("+code(fb.ResultType, false)+"); the session went on in clear ("+mdText(fb.Action)+")")
	}
	if d == nil {
		switch {
		case res.Interrupted:
			item("Outcome", mdText(orDash(res.ExitMeaning))+": nothing to explain")
		case res.OK:
			item("Outcome", mdText(orDash(res.MessageFate))+": nothing was refused")
		default:
			item("Outcome", "no diagnosis was made")
		}
	} else {
		meaning := mdText(d.Meaning)
		if d.Category != "" {
			meaning += " (" + code(d.Category, false) + ")"
		}
		item("Meaning", meaning)
		who := partyText(d.Party)
		switch {
		case d.Permanent:
			who += "; permanent: resending unchanged fails the same way"
		case d.Code >= 400 && d.Code < 500:
			who += "; temporary: a normal MTA retries on its own"
		}
		who += fmt.Sprintf(" · **Confidence:** %.2f", d.Confidence)
		if d.Confirmation != "" {
			who += " · **Confirmation:** " + mdText(d.Confirmation)
		}
		item("Who must act", who)
		if len(d.NextSteps) > 0 {
			item("Next steps", "")
			for i, s := range d.NextSteps {
				fmt.Fprintf(b, "  %d. %s\n", i+1, mdText(s))
			}
		}
		if len(d.Evidence) > 0 {
			item("Evidence", "")
			for _, s := range d.Evidence {
				b.WriteString("  - " + mdText(s) + "\n")
			}
		}
	}
	if len(res.AcceptedRcpts) > 0 && len(res.RejectedRcpts) > 0 {
		item("Recipients", "accepted "+mdText(strings.Join(res.AcceptedRcpts, ", "))+"; refused "+mdText(strings.Join(res.RejectedRcpts, ", ")))
	}
	if res.MessageFate != "" && !res.OK && (res.Phase == "data" || res.Phase == "end-of-data") {
		item("Message", mdText(res.MessageFate))
	}
	for _, wn := range r.Warnings {
		item("Warning", mdText(wn.Message))
	}
	if len(r.Checks) > 0 {
		b.WriteString("\n| sender check | subject | result | detail |\n|---|---|---|---|\n")
		for _, c := range r.Checks {
			subject := c.Subject
			if c.IP != "" && c.IP != c.Subject {
				subject += " (IP " + c.IP + ")"
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s |\n", cell(c.Name), cell(subject), cell(c.Result), cell(checkDetail(c)))
		}
	}
}

func checkDetail(c sendercheck.Check) string {
	d := c.Detail
	if c.DelistURL != "" && !strings.Contains(d, c.DelistURL) {
		d += " Delisting: " + c.DelistURL
	}
	return d
}

func partyText(p string) string {
	switch p {
	case diagnose.PartySender:
		return "the sender (this side: its IP, DNS, authentication or client settings)"
	case diagnose.PartyRecipient:
		return "the recipient (their address or mailbox)"
	case diagnose.PartyMessage:
		return "the message content"
	case diagnose.PartyReceivingServer:
		return "the receiving server's administrator (or time: its temporary state)"
	}
	return "unknown: the reply does not say"
}

// --- Environment ---

var connectedRe = regexp.MustCompile(`^Connected to .* from (\S+) in `)

func ticketEnvironment(b *strings.Builder, r *Report) {
	// The first row is the table's header: a key-value table needs none,
	// and an empty one costs a line of the screen.
	b.WriteString("\n## Environment\n")
	header := true
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "| %s | %s |\n", k, v)
			if header {
				b.WriteString("|---|---|\n")
				header = false
			}
		}
	}
	tool := strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version)
	when := r.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	row("Tool, time", cell(orDash(tool))+", "+when)
	if len(r.Command) > 0 {
		row("Command", code(shellJoin(r.Command), true))
	}
	server := r.Target.Host
	if r.Target.Port != 0 {
		server += " port " + strconv.Itoa(r.Target.Port)
	}
	conn := cell(server)
	if r.Target.Address != "" {
		conn = cell(localAddress(r)+" → "+r.Target.Address) + " (" + cell(server) + ")"
	}
	row("Connection", conn+", TLS mode "+cell(orDash(r.Target.TLSMode)))
	if ip := reportedIP(r); ip != "" {
		row("Client IP the server saw", cell(ip))
	}
	row("DNS", cell(dnsSummary(r)))
	if mx := mxSummary(r); mx != "" {
		row("MX "+cell(r.Target.Domain), cell(mx))
	}
	if tried := candidateSummary(r); tried != "" {
		row("Tried", cell(tried))
	}
}

// localAddress is the address this side connected from, as the
// transcript's "Connected to" line says.
func localAddress(r *Report) string {
	local := ""
	for _, e := range r.Events {
		if e.Dir == Info {
			if m := connectedRe.FindStringSubmatch(e.Text); m != nil {
				local = m[1]
			}
		}
	}
	if local == "" {
		return "?"
	}
	return local
}

// reportedIP is the client address a server reply names, if any.
func reportedIP(r *Report) string {
	for _, s := range r.Steps {
		if s.Reply == nil {
			continue
		}
		if ip := sendercheck.ReportedIP(s.Reply.Lines); ip != "" {
			return ip
		}
		// The EHLO greeting line: "250-mx.example Hello [203.0.113.9]",
		// "250-mx Hello client.example [203.0.113.9], pleased to meet
		// you" (Exchange, Sendmail, OpenSMTPD, the scenario server).
		if s.Phase == "helo" && len(s.Reply.Lines) > 0 {
			if ip := bracketedIP(s.Reply.Lines[0]); ip != "" {
				return ip
			}
		}
	}
	return ""
}

// bracketedIP is the first "[address]" of line that parses as an IP.
func bracketedIP(line string) string {
	for {
		i := strings.IndexByte(line, '[')
		if i < 0 {
			return ""
		}
		j := strings.IndexByte(line[i:], ']')
		if j < 0 {
			return ""
		}
		cand := strings.TrimPrefix(line[i+1:i+j], "IPv6:")
		if ip := net.ParseIP(cand); ip != nil {
			return ip.String()
		}
		line = line[i+j+1:]
	}
}

func dnsSummary(r *Report) string {
	if len(r.DNS) == 0 {
		if net.ParseIP(r.Target.Host) != nil {
			return "not used: the server was given as an address"
		}
		return "no query logged"
	}
	var servers []string
	for _, q := range r.DNS {
		if q.Server != "" && !slices.Contains(servers, q.Server) {
			servers = append(servers, q.Server)
		}
	}
	s := fmt.Sprintf("%d queries", len(r.DNS))
	if len(servers) > 0 {
		s += " to " + strings.Join(servers, ", ")
	}
	var failed []string
	for _, q := range r.DNS {
		if q.RCode != "" && !slices.Contains([]string{dnsclient.RCodeNoError, dnsclient.RCodeNoData, dnsclient.RCodeNXDomain}, q.RCode) {
			failed = append(failed, q.Name+" "+q.Type+" "+q.RCode)
		}
	}
	if len(failed) > 0 {
		s += "; failed: " + strings.Join(failed, ", ")
	}
	return s
}

// mxSummary is the MX answer of the recipient domain, by preference.
func mxSummary(r *Report) string {
	if r.Target.Source == "" || r.Target.Source == "server" {
		return ""
	}
	if r.Target.Source == "implicit-mx" {
		return "none: implicit MX (the domain's own address records)"
	}
	for _, q := range r.DNS {
		if q.Type == "MX" && len(q.Answers) > 0 && strings.EqualFold(strings.TrimSuffix(q.Name, "."), r.Target.Domain) {
			var ans []string
			for _, a := range q.Answers {
				f := strings.Fields(a)
				if len(f) >= 2 {
					a = f[len(f)-2] + " " + strings.TrimSuffix(f[len(f)-1], ".")
				}
				ans = append(ans, a)
			}
			return strings.Join(ans, ", ")
		}
	}
	var ans []string
	for _, c := range r.Candidates {
		a := fmt.Sprintf("%d %s", c.Preference, c.Host)
		if !slices.Contains(ans, a) {
			ans = append(ans, a)
		}
	}
	return strings.Join(ans, ", ")
}

// candidateSummary lists the addresses tried when there was more than one.
func candidateSummary(r *Report) string {
	if len(r.Candidates) < 2 {
		return ""
	}
	var parts []string
	for _, c := range r.Candidates {
		s := c.Host
		if c.Address != "" {
			s += " (" + c.Address + ")"
		}
		parts = append(parts, s+": "+c.Outcome)
	}
	return strings.Join(parts, "; ")
}

// shellJoin writes argv as a shell would read it back.
func shellJoin(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t'\"\\$`!*?;&|<>()[]{}#~") {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}

// --- TLS ---

func ticketTLS(b *strings.Builder, r *Report) {
	b.WriteString("\n## TLS\n")
	t := r.TLS
	if t == nil {
		caps := EHLOCapabilities(r.Steps)
		switch {
		case r.Target.TLSMode == "none":
			b.WriteString("- Not used: TLS was turned off for this session.\n")
		case caps.BeforeTLS != nil && !hasKeyword(caps.BeforeTLS, "STARTTLS"):
			b.WriteString("- Not used: the server did not offer STARTTLS (RFC 8460 `starttls-not-supported`).\n")
		default:
			b.WriteString("- Not used: the session ended before TLS started.\n")
		}
		return
	}
	header := true // the first row is the header, as in the environment
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "| %s | %s |\n", k, v)
			if header {
				b.WriteString("|---|---|\n")
				header = false
			}
		}
	}
	proto := "none (TLS did not start)"
	if t.HandshakeError != "" {
		proto = "none (the handshake failed)"
	}
	if t.Version != "" {
		proto = cell(t.Version + ", " + t.Cipher)
		if t.ALPN != "" {
			proto += ", ALPN " + cell(t.ALPN)
		}
	}
	sni := "none"
	if t.SNI != "" {
		sni = cell(t.SNI)
	} else if net.ParseIP(strings.Trim(t.ServerName, "[]")) != nil {
		sni = "none (" + cell(t.ServerName) + " is an IP address)"
	} else if t.ServerName != "" && t.SNI == "" && t.NameChecked == "" {
		sni = cell(t.ServerName) // a report from before the SNI field
	}
	row("Protocol", proto+"; SNI sent: "+sni)
	var verify string
	switch {
	case t.HandshakeError != "":
		verify = "**handshake failed:** "
		if t.VerifySummary != "" {
			verify += cell(t.VerifySummary) + "; "
		}
		verify += code(t.HandshakeError, true)
		if t.VerifyError != "" && !strings.Contains(t.HandshakeError, t.VerifyError) {
			verify += "; certificate: " + code(t.VerifyError, true)
		}
	case t.Version == "":
		verify = "TLS did not start: " + cell(orDash(t.VerifySummary))
	case t.Verified:
		verify = "verified for " + cell(t.ServerName)
		if t.VerifySummary != "" {
			verify += " (" + cell(t.VerifySummary) + ")"
		}
	default:
		verify = "**not verified:** "
		if t.VerifySummary != "" {
			verify += cell(t.VerifySummary) + "; "
		}
		verify += code(orDash(t.VerifyError), true)
	}
	if t.ResultType != "" {
		verify += "; RFC 8460 result " + code(string(t.ResultType), true)
	}
	row("Verification", verify)
	row("Name matches", nameMatches(t))
	if fb := r.TLSFallback; fb != nil {
		row("Fallback", "went on in clear ("+cell(fb.Action)+") after "+code(fb.ResultType, true))
	}
	for i, c := range t.PeerCertificates {
		label := fmt.Sprintf("Certificate %d", i+1)
		if i == 0 {
			label += " (leaf)"
		}
		row(label, certCell(c))
	}
}

func nameMatches(t *TLSInfo) string {
	name := t.NameChecked
	if name == "" {
		name = t.ServerName
	}
	switch {
	case t.NameMatches != nil && *t.NameMatches:
		return "yes, for " + cell(name)
	case t.NameMatches != nil:
		return "**no**: the certificate is not valid for " + cell(name)
	case len(t.PeerCertificates) == 0:
		return ""
	case t.Verified:
		return "yes, for " + cell(name)
	case t.ResultType == "certificate-host-mismatch":
		return "**no**: the certificate is not valid for " + cell(name)
	}
	return ""
}

func certCell(c CertInfo) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	add("subject", code(c.Subject, true))
	if c.Issuer == c.Subject && c.Subject != "" {
		add("issuer", "itself (self-signed)")
	} else {
		add("issuer", code(c.Issuer, true))
	}
	sans := append(append([]string{}, c.DNSNames...), c.IPAddresses...)
	if len(sans) > 0 {
		add("SANs", cell(strings.Join(sans, ", ")))
	}
	valid := ""
	if !c.NotBefore.IsZero() {
		valid = c.NotBefore.UTC().Format("2006-01-02") + " to "
	} else {
		valid = "until "
	}
	if !c.NotAfter.IsZero() {
		add("valid", valid+c.NotAfter.UTC().Format("2006-01-02 15:04 UTC"))
	}
	add("key", cell(c.Key))
	if c.SHA256 != "" {
		add("SHA-256", code(c.SHA256, true))
	}
	return strings.Join(parts, "; ")
}

// --- Capabilities ---

func ticketCapabilities(b *strings.Builder, r *Report) {
	b.WriteString("\n## Capabilities\n")
	c := EHLOCapabilities(r.Steps)
	switch {
	case c.BeforeTLS == nil && c.AfterTLS == nil && c.HELOOnly:
		b.WriteString("- Greeted with HELO: no extensions.\n")
		return
	case c.BeforeTLS == nil && c.AfterTLS == nil:
		b.WriteString("- No EHLO was answered.\n")
		return
	case c.AfterTLS == nil || c.BeforeTLS == nil:
		where, kws := "In clear (no TLS after it)", c.BeforeTLS
		if c.BeforeTLS == nil {
			where, kws = "Inside TLS (implicit TLS)", c.AfterTLS
		}
		list := "none"
		if len(kws) > 0 {
			list = mdText(strings.Join(kws, ", "))
		}
		b.WriteString("- **" + where + ":** " + list + "\n")
		return
	}
	b.WriteString("| EHLO keyword | before STARTTLS | after STARTTLS | change |\n|---|---|---|---|\n")
	type kw struct{ name, before, after string }
	var rows []kw
	index := map[string]int{}
	add := func(lines []string, after bool) {
		for _, l := range lines {
			name, params, _ := strings.Cut(l, " ")
			name = strings.ToUpper(name)
			if params == "" {
				params = "yes"
			}
			i, ok := index[name]
			if !ok {
				i = len(rows)
				index[name] = i
				rows = append(rows, kw{name: name})
			}
			if after {
				rows[i].after = params
			} else {
				rows[i].before = params
			}
		}
	}
	add(c.BeforeTLS, false)
	add(c.AfterTLS, true)
	var same []string
	for _, k := range rows {
		switch {
		case k.before == k.after:
			name := k.name
			if k.before != "yes" {
				name += " " + k.before
			}
			same = append(same, name)
		case k.before == "":
			fmt.Fprintf(b, "| %s | — | %s | only after TLS |\n", cell(k.name), cell(k.after))
		case k.after == "" && k.name == "STARTTLS":
			// Never offered again inside TLS (RFC 3207): no change.
		case k.after == "":
			fmt.Fprintf(b, "| %s | %s | — | only before TLS |\n", cell(k.name), cell(k.before))
		default:
			fmt.Fprintf(b, "| %s | %s | %s | differs |\n", cell(k.name), cell(k.before), cell(k.after))
		}
	}
	if len(same) > 0 {
		fmt.Fprintf(b, "| %s | yes | yes | |\n", cell(strings.Join(same, ", ")))
	}
}

func hasKeyword(lines []string, kw string) bool {
	for _, l := range lines {
		name, _, _ := strings.Cut(l, " ")
		if strings.EqualFold(name, kw) {
			return true
		}
	}
	return false
}

// --- Timing ---

// ticketTiming is one table row of milliseconds: DNS, connect, the banner
// wait, the TLS handshake, each command's round trip (grouped by command,
// so many recipients do not widen it) and the total.
func ticketTiming(b *strings.Builder, r *Report) {
	type col struct {
		name  string
		sum   float64
		max   float64
		n     int
		error bool
	}
	var cols []*col
	at := map[string]*col{}
	add := func(name string, ms float64, failed bool) {
		c, ok := at[name]
		if !ok {
			c = &col{name: name}
			at[name] = c
			cols = append(cols, c)
		}
		c.sum += ms
		c.max = max(c.max, ms)
		c.n++
		c.error = c.error || failed
	}
	for _, q := range r.DNS {
		add("DNS", q.MS, q.Error != "")
	}
	var trying *Event
	for i, e := range r.Events {
		switch {
		case e.Dir == Info && strings.HasPrefix(e.Text, "Trying "):
			trying = &r.Events[i]
		case trying != nil && (e.Dir == Info && strings.HasPrefix(e.Text, "Connected to ") || e.Dir == Error && strings.HasPrefix(e.Text, "cannot connect")):
			add("connect", Millis(e.At-trying.At), e.Dir == Error)
			trying = nil
		}
	}
	inTLS := insideTLS(r.Steps)
	implicit := r.Target.TLSMode == "implicit" // every EHLO is inside TLS
	for i, s := range r.Steps {
		name := stepName(s.Phase, s.Command)
		switch {
		case s.Phase == "banner":
			name = "banner wait"
		case strings.HasPrefix(s.Command, "(TLS handshake"):
			name = "TLS handshake"
		case s.Phase == "helo" && inTLS[i] && !implicit:
			name += " (TLS)"
		case s.Phase == "end-of-data" && strings.HasPrefix(s.Command, "(LMTP"):
			name = "LMTP reply"
		case s.Phase == "end-of-data":
			name = "message + final reply"
		}
		add(name, s.DurationMS, s.Error != "")
	}
	b.WriteString("\n## Timing (ms)\n")
	var head, sep, vals []string
	for _, c := range cols {
		h := c.name
		if c.n > 1 {
			h += fmt.Sprintf(" ×%d", c.n)
		}
		v := ms(c.sum)
		if c.n > 1 {
			v += " (max " + ms(c.max) + ")"
		}
		if c.error {
			v += " ✗"
		}
		head, sep, vals = append(head, cell(h)), append(sep, "---:"), append(vals, v)
	}
	head, sep, vals = append(head, "total"), append(sep, "---:"), append(vals, ms(r.Duration))
	fmt.Fprintf(b, "| %s |\n|%s|\n| %s |\n", strings.Join(head, " | "), strings.Join(sep, "|"), strings.Join(vals, " | "))
	if slices.ContainsFunc(cols, func(c *col) bool { return c.error }) {
		b.WriteString("\n✗ the step failed (timeout, refused connection, broken handshake): its time is how long it was waited for.\n")
	}
}

func ms(v float64) string {
	if v < 10 {
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// --- Message ---

func ticketMessage(b *strings.Builder, r *Report) {
	m := r.Message
	if m == nil {
		return
	}
	b.WriteString("\n## Message\n")
	fmt.Fprintf(b, "| Size | %d bytes |\n|---|---|\n", m.Size)
	fmt.Fprintf(b, "| SHA-256 | %s |\n", code(m.SHA256, true))
	if m.MessageID != "" {
		fmt.Fprintf(b, "| Message-ID | %s |\n", code(m.MessageID, true))
	}
	if r.Result.QueueID != "" {
		fmt.Fprintf(b, "| Queue ID | %s |\n", code(r.Result.QueueID, true))
	}
	if r.Result.MessageFate != "" {
		fmt.Fprintf(b, "| Fate | %s |\n", cell(r.Result.MessageFate))
	}
}

// --- Markdown escaping ---

// mdText makes s safe as Markdown text outside code: control bytes are
// shown as \xNN and every character that could start Markdown or HTML
// syntax (emphasis, links, autolinks, raw HTML, code, tables) is
// backslash-escaped, so a server's text renders as the text it is.
func mdText(s string) string {
	s = Escape(s)
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\', '`', '*', '[', ']', '<', '>', '|':
			b.WriteByte('\\')
		case '#':
			if i == 0 {
				b.WriteByte('\\') // would start a heading in a list item
			}
		case '_':
			// Inside a word an underscore is no emphasis (CommonMark);
			// at a word's edge it may be.
			if i == 0 || i == len(s)-1 || !isWordByte(s[i-1]) || !isWordByte(s[i+1]) {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// cell is mdText for a table cell (pipes escaped too, which mdText does).
func cell(s string) string { return mdText(s) }

// code is s as an inline code span: control bytes escaped, delimited by
// more backticks than any run in s; in a table cell the pipes are
// escaped, which GFM undoes inside code.
func code(s string, inCell bool) string {
	s = Escape(s)
	if inCell {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	longest, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || strings.HasPrefix(s, " ") && strings.HasSuffix(s, " ") {
		s = " " + s + " "
	}
	if s == "" {
		return ""
	}
	return fence + s + fence
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
