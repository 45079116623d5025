// Package smtpclient drives one SMTP probe session: dial (trying candidate
// hosts in order, as an MTA does), banner, EHLO/HELO, STARTTLS or implicit
// TLS, AUTH, MAIL, RCPT, DATA, the message, QUIT. Every line sent and
// received goes to a transcript.Recorder, every command/reply pair becomes
// a step with its timing, and the first refusal ends the session with the
// exit code swaks would give. It knows nothing of rendering.
//
// Replies are read by hand (reply.go) rather than with go-smtp's Client:
// the client discards the banner, sends "localhost" as its first EHLO name
// and has no bound on reply size, and a probe must show all of that.
package smtpclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// TLSMode is how the session uses TLS.
type TLSMode int

const (
	TLSNone     TLSMode = iota // never (--no-tls)
	TLSOptional                // STARTTLS when offered (default on port 25)
	TLSRequired                // STARTTLS or fail (--tls; default on 587)
	TLSImplicit                // TLS from the first byte (--tls-on-connect; default on 465)
	// TLSOptionalStrict uses STARTTLS when offered, and fails when it is
	// offered but refused or broken (--tls-optional-strict).
	TLSOptionalStrict
)

func (m TLSMode) String() string {
	switch m {
	case TLSNone:
		return "none"
	case TLSOptional:
		return "optional"
	case TLSRequired:
		return "required"
	case TLSImplicit:
		return "implicit"
	case TLSOptionalStrict:
		return "optional-strict"
	}
	return fmt.Sprintf("TLSMode(%d)", int(m))
}

// Resolver resolves host names to addresses; mxlookup.Resolver satisfies it.
type Resolver interface {
	LookupIP(ctx context.Context, network, host string) ([]net.IP, error)
}

// Host is a candidate server, tried in order.
type Host struct {
	Name       string // host name or IP literal
	Preference int    // MX preference, for the report
	Implicit   bool   // implicit MX (the domain itself)
}

// Config describes one session.
type Config struct {
	Hosts     []Host
	Port      int
	Network   string // "tcp" (default), "tcp4" or "tcp6"
	LocalAddr string // source address, "IP" or "IP:port" (--local-interface)
	Resolver  Resolver

	EHLOName string // "" = this host's FQDN, else an address literal
	Protocol string // "esmtp" (EHLO, HELO fallback; default), "smtp" (HELO only), "lmtp" (LHLO)

	TLSMode       TLSMode
	TLSVerify     bool        // abort on an unverifiable certificate
	TLSServerName string      // SNI and verification name; "" = the host name
	TLSConfig     *tls.Config // base config (RootCAs, versions, client certificate); cloned
	// TLSFailSameConnection is swaks's --tls-optional: after a failed
	// STARTTLS handshake the session goes on in clear on the same
	// connection, whatever state the server is in. Without it a failed
	// opportunistic handshake is followed by a new connection without
	// STARTTLS, as MTAs do.
	TLSFailSameConnection bool
	// TLSProtocol restricts the TLS versions (--tls-protocol, swaks
	// syntax: "tlsv1_2,tlsv1_3" or "no_tlsv1,no_tlsv1_1"); TLSCipher the
	// TLS 1.2 and earlier cipher suites (--tls-cipher, OpenSSL syntax).
	// "" = no restriction. Check them with ParseTLSProtocol and
	// ParseTLSCipher before connecting; Run refuses bad values with
	// ExitUsage before it connects.
	TLSProtocol string
	TLSCipher   string
	// TLSPeerCertFile receives the certificate chain the server sent, leaf
	// first, in PEM (--tls-get-peer-cert FILE), written atomically; a
	// failure to write is a warning, not the session's end (check the
	// path early with CheckWritableFile). TLSShowPeerCert puts the PEM in
	// the transcript instead (--tls-get-peer-cert without a file).
	TLSPeerCertFile string
	TLSShowPeerCert bool
	// HELOAfterAnyEHLORefusal is swaks's rule: any reply to EHLO but 250,
	// after STARTTLS too, is followed by HELO. Without it HELO follows only
	// the replies that mean "EHLO not understood" (500, 502, 550, 554),
	// and never after STARTTLS, where a refusal is the finding (exit 32).
	HELOAfterAnyEHLORefusal bool
	// FirstConnectionFinal is swaks's candidate rule: the next address is
	// tried only when a connection cannot be made; once one is made, a
	// silent or refusing greeting ends the session there (exit 21) instead
	// of moving on to the next address, as an MTA would.
	FirstConnectionFinal bool

	Auth          bool
	AuthMechs     []string // "" = choose among advertised
	AuthUser      string
	AuthPassword  string
	AuthPlaintext bool // allow credentials over a connection without TLS
	// AuthOptional goes on unauthenticated when AUTH is not offered, cannot
	// be tried or is refused (--auth-optional); AuthOptionalStrict only
	// when it is not offered or cannot be tried (--auth-optional-strict).
	AuthOptional, AuthOptionalStrict bool
	// AuthProbe tests whether the server would start an AUTH exchange
	// without sending any credential: "AUTH <mech>" with no initial
	// response, then "*" to cancel a 334 (RFC 4954 §4). The outcome is in
	// Result.AuthProbe; the session goes on unauthenticated.
	AuthProbe bool

	From string   // envelope sender, "" = null sender
	To   []string // envelope recipients

	// OpenMessage opens the message just before MAIL (its size goes into
	// SIZE=). size < 0 means unknown.
	OpenMessage func() (r io.ReadCloser, size int64, err error)
	// EightBitMessage says the message may hold 8-bit bytes: MAIL FROM
	// then declares BODY=8BITMIME when the server offers it (RFC 6152).
	EightBitMessage bool
	// UTF8Message says the message's header holds UTF-8: MAIL FROM then
	// asks for SMTPUTF8 (RFC 6531) when the server offers it.
	UTF8Message bool

	QuitAfter string // "", connect, banner, first-helo, tls, helo, auth, mail, rcpt
	// DropAfter closes the connection without QUIT at that point
	// (--drop-after): the quit-after points and "dot".
	DropAfter string

	Timeout        time.Duration // each connect and each reply (default 30 s)
	SessionTimeout time.Duration // the whole session (default 5 min)

	Recorder *transcript.Recorder

	// OnEgress, when set, is called once, when the first connection is
	// made (before the banner), with its local IP and the EHLO name: the
	// sender checks (PTR, SPF, DMARC...) start there and run while the
	// session goes on. It must not block.
	OnEgress func(localIP, ehloName string)
	// OnRefusal, when set, is called with the lines of every 4xx/5xx
	// reply as it arrives: checks that depend on what a refusal says
	// (the client address the server saw, the block list it names) start
	// there, while QUIT is still being exchanged. It must not block.
	OnRefusal func(lines []string)
}

// QuitAfter values (swaks names; aliases are mapped by NormalizeQuitAfter).
var quitAfterNames = map[string]string{
	"connect": "connect", "banner": "connect",
	"first-helo": "first-helo", "first-ehlo": "first-helo", "first-lhlo": "first-helo",
	"tls":  "tls",
	"helo": "helo", "ehlo": "helo", "lhlo": "helo",
	"auth": "auth",
	"mail": "mail", "from": "mail",
	"rcpt": "rcpt", "to": "rcpt",
}

// NormalizeDropAfter maps a --drop-after value to its canonical name: the
// --quit-after points, "data" (after the 354 reply) and "dot" (after the
// reply to the final dot).
func NormalizeDropAfter(v string) (string, error) {
	if v == "dot" || v == "data" {
		return v, nil
	}
	c, err := NormalizeQuitAfter(v)
	if err != nil {
		return "", fmt.Errorf("--drop-after %q: want one of connect, banner, first-helo, tls, helo, auth, mail, rcpt, data, dot", v)
	}
	return c, nil
}

// NormalizeQuitAfter maps a --quit-after value to its canonical name.
func NormalizeQuitAfter(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	if c, ok := quitAfterNames[v]; ok {
		return c, nil
	}
	if v == "xclient" || v == "proxy" {
		return "", fmt.Errorf("--quit-after %s: XCLIENT and PROXY are not supported yet", v)
	}
	return "", fmt.Errorf("--quit-after %q: want one of connect, banner, first-helo, tls, helo, auth, mail, rcpt", v)
}

func (c *Config) defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 5 * time.Minute
	}
	if c.Network == "" {
		c.Network = "tcp"
	}
	if c.Protocol == "" {
		c.Protocol = "esmtp"
	}
	if c.Recorder == nil {
		c.Recorder = transcript.NewRecorder(transcript.RecorderOptions{})
	}
	if c.Resolver == nil {
		c.Resolver = net.DefaultResolver
	}
}
