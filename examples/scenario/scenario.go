// Package scenario runs small SMTP servers on loopback that reproduce real
// rejections: a Spamhaus 554 instead of the banner, Postfix's "Relay access
// denied", Gmail's DMARC 5.7.26, a DATA command refused, a server that goes
// silent, a STARTTLS reply with injected plaintext, and the 554 variants
// collected in the seed articles. `probe demo` and the tests start one, point
// the probe at it and check that the session failed exactly where the
// scenario says it does.
//
// Most scenarios run on github.com/emersion/go-smtp's server with a policy
// session; the few things go-smtp cannot do (refuse instead of greeting,
// refuse the DATA command, stop answering, send garbage or an injected
// STARTTLS reply) run on a small line-based server in this package.
package scenario

// Scenario describes one reproducible server behaviour and what the probe
// must report when it meets it.
type Scenario struct {
	Name        string   // e.g. "blocklisted-ip"
	Title       string   // one line
	Description string   // what it reproduces, which seed cause or real server text
	Args        []string // extra probe args, swaks long-option form, e.g. {"--to=bob@example.net"}

	ExpectExit     int    // the probe's exit code (DESIGN.md / swaks)
	ExpectPhase    string // failing phase (DESIGN.md phases), "" when ExpectExit == 0
	ExpectCode     int    // reply code of the failing step (0 for timeouts and unparsable replies)
	ExpectCategory string // diagnosis category the engine should give, "" when none

	// ExpectReply is the exact reply (one string per line, as sent, without
	// CRLF) at the failing step, for a client at 127.0.0.1 using Args. For a
	// successful scenario it is the reply that makes it notable: the final
	// "250 ... queued as" or, for partial-rcpt, the refused RCPT. Nil for
	// timeouts.
	ExpectReply []string

	// Source says where the reply text comes from (server software,
	// provider, RFC, or the seed article under /work/shared/seeds).
	Source string
}

// Phases used in the catalogue (DESIGN.md).
const (
	phaseBanner    = "banner"
	phaseHelo      = "helo"
	phaseStartTLS  = "starttls"
	phaseAuth      = "auth"
	phaseMail      = "mail"
	phaseRcpt      = "rcpt"
	phaseData      = "data"
	phaseEndOfData = "end-of-data"
)

// Exit codes (DESIGN.md, swaks).
const (
	exitOK        = 0
	exitBanner    = 21
	exitHelo      = 22
	exitMail      = 23
	exitRcpt      = 24
	exitData      = 25
	exitEndOfData = 26
	exitAuth      = 28
	exitTLS       = 29
)

// Demo credentials accepted by the scenarios that offer AUTH.
const (
	DemoUser     = "demo"
	DemoPassword = "demo-password"
)

// canonicalVars are the values the catalogue's ExpectReply is computed with:
// the client is 127.0.0.1 and uses the sender and recipient in Args.
func canonicalVars(host string, s Scenario) vars {
	v := vars{IP: "127.0.0.1", Host: host, QueueID: queueID(1)}
	for _, a := range s.Args {
		switch {
		case len(a) > len("--from=") && a[:len("--from=")] == "--from=":
			v.From = a[len("--from="):]
		case len(a) > len("--to=") && a[:len("--to=")] == "--to=":
			v.Rcpt = a[len("--to="):]
		}
	}
	return v
}

// All returns every scenario in a stable order: the main ones first, then
// the 554 variants of the seed articles.
func All() []Scenario {
	cat := catalogue()
	out := make([]Scenario, len(cat))
	for i, e := range cat {
		out[i] = e.public()
	}
	return out
}

// Lookup finds a scenario by name.
func Lookup(name string) (Scenario, bool) {
	e, ok := lookupEntry(name)
	if !ok {
		return Scenario{}, false
	}
	return e.public(), true
}

func lookupEntry(name string) (entry, bool) {
	for _, e := range catalogue() {
		if e.s.Name == name {
			return e, true
		}
	}
	return entry{}, false
}
