package transcript

import (
	"encoding/json"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// SchemaVersion is the version of the session JSON; it grows when keys are
// added and never changes the meaning of existing ones.
const SchemaVersion = 1

// Report is a whole probe session: the session JSON of DESIGN.md and the
// input of every renderer.
type Report struct {
	Version   int                 `json:"version"`
	Tool      Tool                `json:"tool"`
	Command   []string            `json:"command"` // argv, secrets redacted
	StartedAt time.Time           `json:"started_at"`
	Target    Target              `json:"target"`
	Events    []Event             `json:"-"`
	Steps     []Step              `json:"steps"`
	TLS       *TLSInfo            `json:"tls"`
	Result    Result              `json:"result"`
	Diagnosis *diagnose.Diagnosis `json:"diagnosis"`
	// Extensions beyond DESIGN.md.
	RoundTrips int         `json:"round_trips"` // command/reply exchanges that waited for the server
	Candidates []Candidate `json:"candidates,omitempty"`
	// TLSFallback is set when opportunistic TLS failed and the session
	// went on in clear.
	TLSFallback *TLSFallback `json:"tls_fallback,omitempty"`
	Duration    float64      `json:"duration_ms"`
	// MXMatrix (--all-mx) has one entry per MX address probed, in MX
	// order; the top-level target, steps, tls, result and diagnosis are
	// then those of the most preferred address that failed (or of the
	// first when all succeeded). MXDifferences says in words how the
	// addresses differ ([] when they do not), MXSummary counts the
	// failures, MXSkipped the addresses left out by the cap. All absent
	// without --all-mx (see matrix.go).
	MXMatrix      []MXEntry `json:"mx_matrix,omitzero"`
	MXDifferences []string  `json:"mx_differences,omitzero"`
	MXSummary     string    `json:"mx_summary,omitempty"`
	MXSkipped     int       `json:"mx_skipped,omitempty"`
	// Checks are the sender checks made (PTR, HELO, SPF, DMARC, DNSBL,
	// DKIM key, sender domain); DNS is every DNS query of the session.
	Checks []sendercheck.Check `json:"checks"`
	DNS    []dnsclient.Query   `json:"dns"`
	// Warnings are findings that did not fail the session but weaken it
	// (TLS downgrades, AUTH offered only in clear, a peer certificate
	// file that could not be written); absent when there are none.
	Warnings []Warning `json:"warnings,omitempty"`
	// Message identifies the message sent (size, SHA-256, Message-ID);
	// absent when no message was transferred (see ticket.go).
	Message *MessageInfo `json:"message,omitempty"`
}

// Warning is a finding that did not end the session, with its evidence.
type Warning struct {
	// Kind names the finding: starttls-dropped-on-reconnect,
	// starttls-refused-went-on-in-clear, auth-only-in-clear,
	// peer-cert-file.
	Kind     string   `json:"kind"`
	Message  string   `json:"message"`
	Evidence []string `json:"evidence,omitempty"`
}

// Tool names the program that made the report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Target is the server the session ran against.
type Target struct {
	Host    string `json:"host"`
	Port    int    `json:"port"`
	Address string `json:"address"`  // the IP:port connected to, "" when no connection was made
	TLSMode string `json:"tls_mode"` // none, optional, required, implicit
	// Extensions.
	Source string `json:"source,omitempty"` // "server" (-s), "mx", "implicit-mx"
	Domain string `json:"domain,omitempty"` // the recipient domain whose MX was used
}

// Candidate is one host:address tried while looking for a server that
// answers, in the order tried.
type Candidate struct {
	Host       string `json:"host"`
	Preference int    `json:"preference,omitempty"`
	Address    string `json:"address,omitempty"`
	Outcome    string `json:"outcome"` // "used", or why it was passed over
}

// Step is one command and its reply (the banner is a step without command).
type Step struct {
	Phase      string  `json:"phase"`
	Command    string  `json:"command"` // as sent, secrets redacted; "" for the banner
	Reply      *Reply  `json:"reply"`   // nil when no complete reply came
	StartedMS  float64 `json:"started_ms"`
	DurationMS float64 `json:"duration_ms"`
	Error      string  `json:"error,omitempty"` // timeout, closed connection, malformed reply...
}

// Reply is a server reply.
type Reply struct {
	Code         int      `json:"code"`
	EnhancedCode string   `json:"enhanced_code"`
	Lines        []string `json:"lines"` // as received, without CRLF
}

// TLSInfo describes the TLS connection.
type TLSInfo struct {
	Version          string     `json:"version"`
	Cipher           string     `json:"cipher"`
	Verified         bool       `json:"verified"`
	VerifyError      string     `json:"verify_error"`
	PeerCertificates []CertInfo `json:"peer_certificates"`
	ServerName       string     `json:"server_name"` // SNI and the name verified
	ALPN             string     `json:"alpn,omitempty"`
	// ResultType names what failed the RFC 8460 way (certificate-expired,
	// certificate-host-mismatch, certificate-not-trusted,
	// validation-failure); null when the certificate verified.
	ResultType NullString `json:"result_type"`
	// HandshakeError is why the handshake itself failed ("" when TLS
	// started).
	HandshakeError string `json:"handshake_error,omitempty"`
	// SNI is the server name sent in the ClientHello ("" when none was
	// sent: an IP address is never sent as SNI).
	SNI string `json:"sni"`
	// NameChecked is the host name connected to (the MX or server name,
	// not its address); NameMatches says whether the leaf certificate is
	// valid for it, whatever the rest of the verification says (null
	// when no certificate came).
	NameChecked string `json:"name_checked,omitempty"`
	NameMatches *bool  `json:"name_matches"`
	// VerifySummary says in one sentence what the verification found
	// ("certificate expired on 2021-01-01", "the certificate is for
	// mx.other.example, not mx.example.org"...).
	VerifySummary string `json:"verify_summary,omitempty"`
}

// TLSFallback records an opportunistic STARTTLS whose handshake failed
// and the session that went on in clear, as MTAs do (Exim's
// tls_tempfail_tryclear): the TLS failure is a finding, the outcome is the
// server's answer to the mail.
type TLSFallback struct {
	Reason     string `json:"reason"`      // the handshake error
	ResultType string `json:"result_type"` // RFC 8460 name
	// Action is how the session went on: "reconnected" (a new connection
	// without STARTTLS) or "same-connection" (swaks's --tls-optional).
	Action string `json:"action"`
}

// NullString is a string that is JSON null when empty.
type NullString string

// MarshalJSON writes "" as null.
func (s NullString) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

// CertInfo describes one certificate of the peer's chain, leaf first, in
// the order the server sent them.
type CertInfo struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	DNSNames []string  `json:"dns_names"`
	// Extensions.
	NotBefore   time.Time `json:"not_before"`
	IPAddresses []string  `json:"ip_addresses"`
	// SHA256 is the SHA-256 fingerprint of the whole certificate (DER),
	// lowercase hex: what `openssl x509 -fingerprint -sha256` prints
	// without colons, and a DANE "3 0 1" TLSA record holds.
	SHA256 string `json:"sha256"`
	// SPKISHA256 is the SHA-256 of the public key (SubjectPublicKeyInfo),
	// lowercase hex: a DANE "3 1 1" TLSA record.
	SPKISHA256 string `json:"spki_sha256"`
	// Key is the public key in words ("RSA 2048", "ECDSA P-256",
	// "Ed25519"); KeyType and KeyBits the same for scripts.
	Key                string `json:"key"`
	KeyType            string `json:"key_type"`
	KeyBits            int    `json:"key_bits"`
	SignatureAlgorithm string `json:"signature_algorithm"`
	Serial             string `json:"serial"` // hex
	SelfSigned         bool   `json:"self_signed"`
	IsCA               bool   `json:"is_ca"`
}

// Result is how the session ended.
type Result struct {
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	Phase    string `json:"phase"` // the failed phase, or the last phase reached when OK
	Reply    *Reply `json:"reply"` // the failing reply (or the final reply when OK)
	// Extensions.
	Command       string   `json:"command,omitempty"` // the command that failed
	Error         string   `json:"error,omitempty"`   // what went wrong when it was not a reply (timeout, garbage...)
	MessageFate   string   `json:"message_fate,omitempty"`
	QueueID       string   `json:"queue_id,omitempty"`
	AcceptedRcpts []string `json:"accepted_recipients,omitempty"`
	RejectedRcpts []string `json:"rejected_recipients,omitempty"`
	StoppedAfter  string   `json:"stopped_after,omitempty"` // the --quit-after or --drop-after point
	Dropped       bool     `json:"dropped,omitempty"`       // closed without QUIT (--drop-after)
	ExitMeaning   string   `json:"exit_meaning,omitempty"`
	// Interrupted is set when the user stopped the run (Ctrl-C): the
	// outputs are what was recorded until then (exit 130).
	Interrupted bool   `json:"interrupted"`
	CodeMeaning string `json:"code_meaning,omitempty"`
}
