package explain

import (
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// Source kinds: where in the input a finding came from.
const (
	SourceArgument = "argument"     // the command-line TEXT
	SourceReply    = "reply"        // a raw SMTP reply or a probe/swaks/telnet transcript
	SourceDSN      = "dsn"          // an RFC 3464 message/delivery-status part or field block
	SourceBounce   = "bounce"       // the human-readable part of a bounce (Postfix, Gmail, generic)
	SourceExchange = "exchange-ndr" // Microsoft Exchange / Microsoft 365 non-delivery report text
	SourcePostfix  = "postfix-log"  // a Postfix log line
	SourceExim     = "exim-log"     // an Exim main log or reject log line
	SourceSendmail = "sendmail-log" // a Sendmail log line
	SourceText     = "text"         // an SMTP reply quoted inside any other text (application logs, ...)
)

// Finding is one explainable reply found in the input, with what the input
// says around it. Only Lines is always set.
type Finding struct {
	// Lines are the reply lines, e.g. "550-5.7.1 ..." then "550 5.7.1 ...".
	// When the source gives no SMTP reply (a timeout, a refused connection)
	// it is the source's own text, prefixed by the enhanced status code the
	// source assigned (Postfix dsn=, a DSN Status:) when it has one.
	Lines []string
	// Phase is the phase the input states (a diagnose.Phase constant), or
	// diagnose.PhaseAny when the input does not say.
	Phase  string
	Source string // one of the Source constants
	Line   int    // 1-based input line where the finding starts
	// Host and HostIP name the server that replied (outgoing delivery).
	Host   string
	HostIP string
	// ClientHost and ClientIP name the client that was refused, for
	// receiving-side log lines (Postfix smtpd, Exim reject log, Sendmail
	// check_* rulesets).
	ClientHost string
	ClientIP   string
	Helo       string // the HELO name the refused client used, when logged
	Sender     string // envelope sender, when stated
	Recipient  string // the refused recipient, when stated
	// Status is the delivery status the source states: bounced, deferred,
	// failed, delayed, reject, ... Empty for raw replies.
	Status string
	// Truncated says a line of this finding was cut at MaxLineBytes.
	Truncated bool
	// Unterminated says a multi-line reply ended without its final line.
	Unterminated bool
}

// Peer is the remote side this finding is about, for grouping: the server
// that replied, or else the refused client (prefixed "client ").
func (f Finding) Peer() string {
	switch {
	case f.Host != "" && f.HostIP != "":
		return f.Host + "[" + f.HostIP + "]"
	case f.Host != "":
		return f.Host
	case f.HostIP != "":
		return "[" + f.HostIP + "]"
	case f.ClientHost != "" && f.ClientIP != "" && f.ClientHost != "unknown":
		// Postfix logs "unknown[ip]" for a client without reverse DNS, and
		// Exim just "[ip]": both are the same client.
		return "client " + f.ClientHost + "[" + f.ClientIP + "]"
	case f.ClientIP != "":
		return "client [" + f.ClientIP + "]"
	case f.ClientHost != "":
		return "client " + f.ClientHost
	}
	return ""
}

// Input turns the finding into a diagnose.Input. defaultPhase (from
// --phase) is used when the text does not state the phase itself, because a
// phase written in the input is evidence while the flag is a hint.
func (f Finding) Input(defaultPhase string) diagnose.Input {
	phase := f.Phase
	if phase == "" || phase == diagnose.PhaseAny {
		phase = defaultPhase
	}
	if phase == "" {
		phase = diagnose.PhaseAny
	}
	lines := make([]string, len(f.Lines))
	copy(lines, f.Lines)
	return diagnose.Input{
		Lines: lines,
		Phase: phase,
		Context: diagnose.Context{
			ServerHost:      f.Host,
			SenderDomain:    domainOf(f.Sender),
			RecipientDomain: domainOf(f.Recipient),
			ClientIP:        f.ClientIP,
			HeloName:        f.Helo,
			RecipientMX:     f.deliveryReport(),
		},
	}
}

// deliveryReport tells a report of an outgoing delivery (a bounce, a DSN,
// an NDR, or a log line of the sending MTA naming the server that replied)
// from a receiving server's own log: the sending MTA looked up the
// recipient domain's MX, so the server that refused receives mail for that
// domain, and a refused recipient there is not a refusal to relay. A
// receiving server's reject line says nothing of whose domain it was.
func (f Finding) deliveryReport() bool {
	switch f.Source {
	case SourceDSN, SourceBounce, SourceExchange:
		return true
	}
	return f.Host != "" && f.ClientIP == "" && f.ClientHost == ""
}

// domainOf returns the domain of an address such as "<a@b.example>".
func domainOf(addr string) string {
	addr = strings.Trim(addr, "<> ")
	i := strings.LastIndexByte(addr, '@')
	if i < 0 || i == len(addr)-1 {
		return ""
	}
	return strings.ToLower(addr[i+1:])
}
