// Package diagnose classifies SMTP replies: given the reply lines, the phase
// they answered and what is known of the session, it says what the refusal
// means, who must act and what to do next. Its knowledge lives in an embedded
// rules file, not in code.
package diagnose

// Phases of an SMTP session (DESIGN.md). PhaseAny is only used by
// `probe explain` when the text does not fix the phase.
const (
	PhaseConnect   = "connect"
	PhaseBanner    = "banner"
	PhaseHelo      = "helo"
	PhaseStartTLS  = "starttls"
	PhaseAuth      = "auth"
	PhaseMail      = "mail"
	PhaseRcpt      = "rcpt"
	PhaseData      = "data"
	PhaseEndOfData = "end-of-data"
	PhaseQuit      = "quit"
	PhaseAny       = "any"
)

// Parties: who must act (DESIGN.md).
const (
	PartySender          = "sender"
	PartyRecipient       = "recipient"
	PartyMessage         = "message"
	PartyReceivingServer = "receiving-server"
	PartyUnknown         = "unknown"
)

// Context is what the session knew when the reply came. Every field is
// optional; explain on pasted text usually has none of them.
type Context struct {
	Port            int    // TCP port of the server (25, 465, 587, ...)
	TLS             bool   // the reply came inside TLS
	Authenticated   bool   // AUTH had succeeded before this reply
	AuthOffered     bool   // the server advertised AUTH
	StartTLSOffered bool   // the server advertised STARTTLS
	ServerName      string // host name from the banner or EHLO reply
	Banner          string // the banner text
	ServerHost      string // host name the client connected to (MX or -s)
	SenderDomain    string // domain of MAIL FROM
	RecipientDomain string // domain of the refused (or first) RCPT TO
	ClientIP        string // local address of the connection, when known
	HeloName        string // the name the client sent in EHLO/HELO

	// RecipientMX is true when the server was found by an MX lookup of
	// RecipientDomain (or is otherwise known to receive mail for it), so
	// that domain is its own: a refused recipient is then not a refusal to
	// relay. False means "not known", as for a server named with --server.
	RecipientMX bool
}

// Input is one reply to explain.
type Input struct {
	Lines   []string // the reply lines as received, e.g. "550-5.7.1 ..." and "550 5.7.1 ..."; a single line may lack its code
	Phase   string   // one of the Phase constants; "" or PhaseAny when unknown
	Context Context
}

// Diagnosis is the explain object of DESIGN.md; the JSON keys are a contract.
type Diagnosis struct {
	Reply         string   `json:"reply"`
	Code          int      `json:"code"`
	EnhancedCode  string   `json:"enhanced_code"`
	Phase         string   `json:"phase"`
	PhaseInferred bool     `json:"phase_inferred"`
	Category      string   `json:"category"`
	Permanent     bool     `json:"permanent"`
	Party         string   `json:"party"`
	Meaning       string   `json:"meaning"`
	NextSteps     []string `json:"next_steps"`
	Confidence    float64  `json:"confidence"`
	Evidence      []string `json:"evidence"`
	// Extensions beyond the DESIGN.md minimum.
	CodeMeaning     string `json:"code_meaning,omitempty"`     // RFC 5321 meaning of the basic code in this phase
	EnhancedMeaning string `json:"enhanced_meaning,omitempty"` // RFC 3463/5248 registry meaning of the enhanced code
	RuleID          string `json:"rule_id,omitempty"`          // id of the rule that decided the category
	Source          string `json:"source,omitempty"`           // RFC section or provider documentation behind that rule
	// Confirmation is what the sender checks (PTR, SPF, DMARC, DNSBL...)
	// made of the cause: confirmed, contradicted, inconclusive or
	// not-checked (DESIGN.md); "" where no session could check (explain).
	Confirmation string `json:"confirmation,omitempty"`
}
