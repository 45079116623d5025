package scenario

import (
	"bytes"
	"fmt"
	"strings"
)

// trigger says when a rule fires. Rules that depend on the message content
// let a scenario accept the probe's default message and refuse only the one
// its Args produce, which is how the real filters behave.
type trigger int

const (
	always              trigger = iota
	whenLocalPartNobody         // RCPT whose local part is "nobody"
	whenNoDateHeader            // message without a Date: header field
	whenEICAR                   // message containing the EICAR test string
	whenOverSize                // message larger than behavior.maxBytes
)

// rule is a reply template and the condition under which it is sent instead
// of the step's success reply.
type rule struct {
	reply []string // full reply lines, e.g. "554 5.7.1 {rcpt}: Relay access denied"
	when  trigger
}

// greetMode is what a raw server does after its (non-220) greeting.
type greetMode int

const (
	greetSMTP     greetMode = iota // normal SMTP dialogue
	greetWaitQuit                  // RFC 5321 §3.1: after a 554 greeting, 503 to everything but QUIT
	greetHangup                    // close right after the greeting (421)
	greetPOP3                      // answer like a POP3 server: the probe dialled the wrong port
)

// silence is the point after which a raw server stops answering. It keeps
// reading (and discarding) so the client sees a live but mute peer, which is
// what a stuck filter or a black-holing firewall looks like.
type silence int

const (
	silenceNone        silence = iota
	silenceNoBanner            // accept the connection, never greet
	silenceAfterBanner         // greet, then never answer
	silenceAfterEHLO           // answer EHLO/HELO, then never answer
	silenceAfterData           // answer up to 354, read the message, never answer the final dot
)

// behavior is how a scenario's server acts.
type behavior struct {
	raw bool // run on the raw line server rather than go-smtp

	greeting []string  // raw: sent instead of the 220 banner (nil: normal banner)
	after    greetMode // raw: what follows a replaced greeting
	silence  silence   // raw
	starttls []string  // raw: reply to STARTTLS, written in a single write (nil: 220 and handshake)
	// brokenTLS (raw): 220 to STARTTLS, then a handshake that fails on the
	// server's side, and the connection closed, as OpenSMTPD 6.8 does
	// against OpenSSL 3 ("EVP lib").
	brokenTLS bool

	offerTLS    bool     // advertise and perform STARTTLS
	offerAuth   bool     // advertise AUTH PLAIN LOGIN (inside TLS only, like Postfix smtpd_tls_auth_only)
	requireTLS  []string // reply to MAIL before STARTTLS
	requireAuth []string // reply to MAIL before AUTH
	authFail    []string // reply to any failed AUTH (nil: a Postfix-style 535)

	mail    *rule
	rcpt    *rule
	dataCmd *rule // raw: reply to the DATA command itself
	eod     *rule // reply after the final dot

	maxBytes int64 // size limit for whenOverSize (not advertised, see message-size)
}

// okReply is the final reply for an accepted message, Postfix's wording.
var okReplyTemplate = []string{"250 2.0.0 Ok: queued as {queue_id}"}

// defaultAuthFail is Postfix's reply to a failed AUTH PLAIN.
var defaultAuthFailTemplate = []string{"535 5.7.8 Error: authentication failed: authentication failure"}

// queueID renders the n-th accepted message's queue id. It is a counter, not
// random, so transcripts of a fresh server are reproducible.
func queueID(n uint64) string {
	return fmt.Sprintf("4Xyz%05d", n)
}

// fires reports whether r applies to a recipient address.
func (r *rule) firesForAddress(addr string) bool {
	if r == nil {
		return false
	}
	switch r.when {
	case always:
		return true
	case whenLocalPartNobody:
		return strings.EqualFold(localPartOf(addr), "nobody")
	}
	return false
}

// firesForMessage reports whether r applies to a message of total size n
// whose first bytes (up to the capture limit) are msg.
func (r *rule) firesForMessage(msg []byte, n int64, maxBytes int64) bool {
	if r == nil {
		return false
	}
	switch r.when {
	case always:
		return true
	case whenNoDateHeader:
		return !hasHeaderField(msg, "Date")
	case whenEICAR:
		return bytes.Contains(msg, eicarSignature())
	case whenOverSize:
		return maxBytes > 0 && n > maxBytes
	}
	return false
}

// captureLimit bounds how much of a message is kept for the content checks;
// the rest is counted and discarded, so a large probe message costs no memory.
const captureLimit = 1 << 20
