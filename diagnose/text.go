package diagnose

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// categoryWords and partyWords describe the vocabulary for people; they
// mirror rules/categories.json so that WriteText needs no Engine.
func categoryWords(c string) string {
	switch c {
	case "relay-denied":
		return "the server will not relay for this client/recipient"
	case "auth-required":
		return "authentication is required before this step"
	case "auth-failed":
		return "credentials or mechanism rejected"
	case "tls-required":
		return "the server requires TLS (STARTTLS) first"
	case "recipient-unknown":
		return "no such mailbox / user / domain at the recipient"
	case "mailbox-disabled":
		return "mailbox exists but is disabled, suspended, inactive"
	case "mailbox-full":
		return "over quota"
	case "sender-rejected":
		return "the envelope sender address is refused by policy"
	case "sender-domain-invalid":
		return "sender domain does not resolve / not found"
	case "ip-blocklisted":
		return "client IP listed on a DNSBL or a provider's block list"
	case "ip-reputation":
		return "client IP/network refused for reputation, volume, residential/dynamic ranges"
	case "rdns-ptr":
		return "missing or mismatched reverse DNS / FCrDNS / HELO name"
	case "spf-fail":
		return "SPF check failed"
	case "dkim-fail":
		return "DKIM missing or invalid"
	case "dmarc-policy":
		return "DMARC policy rejection or authentication/alignment required"
	case "spam-content":
		return "content classified as spam / URL / attachment policy"
	case "virus":
		return "malware found"
	case "message-size":
		return "message too large"
	case "malformed-message":
		return "not RFC 5322/5321 compliant"
	case "rate-limit":
		return "too many messages/connections/recipients; throttling"
	case "greylisting":
		return "temporary deferral to test retry behaviour"
	case "policy-generic":
		return "refused by a local policy without a more specific reason"
	case "no-service":
		return "the server provides no mail service here"
	case "protocol-error":
		return "bad command sequence, syntax, pipelining"
	case "temporary-server":
		return "the server's own temporary trouble"
	case "accepted":
		return "a positive reply: nothing was refused"
	case "unknown":
		return "nothing better can be said honestly"
	}
	return ""
}

func partyWords(p string) string {
	switch p {
	case PartySender:
		return "you, the sender (sending system, its IP, DNS, authentication or client settings)"
	case PartyRecipient:
		return "the recipient (their address or mailbox)"
	case PartyMessage:
		return "the message content (change the message, then resend)"
	case PartyReceivingServer:
		return "the receiving server's administrator, or time (its temporary state)"
	}
	return "unknown: the reply does not say"
}

// printable makes server-supplied text safe for a terminal: control
// characters (escape sequences above all) and invalid UTF-8 are shown
// escaped instead of being interpreted.
func printable(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7F || c >= 0x80 {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteByte('\t')
		case r < 0x20 || r == 0x7F || (r >= 0x80 && r < 0xA0):
			b.WriteString(strconv.QuoteRune(r)[1 : len(strconv.QuoteRune(r))-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// WriteText renders a diagnosis for people: what happened, who must act,
// whether retrying can help, the codes and their registered meanings, the
// numbered next steps and the evidence behind the verdict. It is used by
// `probe explain` and by the annotation after a failed session.
func WriteText(w io.Writer, d Diagnosis) error {
	bw := bufio.NewWriter(w)
	line := func(label, value string) {
		fmt.Fprintf(bw, "%-12s %s\n", label+":", value)
	}
	cat := d.Category
	if desc := categoryWords(cat); desc != "" {
		cat += " (" + desc + ")"
	}
	line("Category", printable(cat))
	line("Who acts", partyWords(d.Party))
	if d.Meaning != "" {
		line("Meaning", printable(d.Meaning))
	}
	switch {
	case d.Category == categoryAccepted:
		line("Permanent", "no (positive reply)")
	case d.Permanent:
		line("Permanent", "yes: resending unchanged will fail the same way; fix the cause first")
	case d.Code >= 400 || (d.EnhancedCode != "" && d.EnhancedCode[0] == '4'):
		line("Permanent", "no: transient; a normal MTA retries on its own")
	default:
		line("Permanent", "unknown (no reply code)")
	}
	if d.Code != 0 {
		v := strconv.Itoa(d.Code)
		if d.CodeMeaning != "" {
			v += " - " + d.CodeMeaning
		}
		line("Reply code", printable(v))
	}
	if d.EnhancedCode != "" {
		v := d.EnhancedCode
		if d.EnhancedMeaning != "" {
			v += " - " + d.EnhancedMeaning
		}
		line("Enhanced", printable(v))
	}
	ph := d.Phase
	switch {
	case ph == PhaseAny || ph == "":
		ph = "unknown (nothing says which command this answered)"
	case d.PhaseInferred:
		ph += " (inferred)"
	}
	line("Phase", printable(ph))
	line("Confidence", strconv.FormatFloat(d.Confidence, 'f', 2, 64))
	if d.Confirmation != "" {
		v := d.Confirmation
		switch v {
		case "confirmed", "contradicted":
			v += " by the sender checks (see the evidence)"
		case "inconclusive":
			v += ": a check that matters could not be made or gave no clear answer"
		case "not-checked":
			v = "not checked (the evidence says why)"
		}
		line("Checks", printable(v))
	}
	if d.Source != "" {
		line("Source", printable(d.Source))
	}
	if len(d.NextSteps) > 0 {
		fmt.Fprintln(bw, "Next steps:")
		for i, s := range d.NextSteps {
			fmt.Fprintf(bw, "  %d. %s\n", i+1, printable(s))
		}
	}
	if len(d.Evidence) > 0 {
		fmt.Fprintln(bw, "Evidence:")
		for _, s := range d.Evidence {
			fmt.Fprintf(bw, "  - %s\n", printable(s))
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing diagnosis: %w", err)
	}
	return nil
}
