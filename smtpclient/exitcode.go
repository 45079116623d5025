package smtpclient

// Exit codes, the same as swaks's so scripts can switch (DESIGN.md).
const (
	ExitOK             = 0
	ExitUsage          = 1
	ExitConnect        = 2
	ExitClosed         = 6
	ExitBanner         = 21
	ExitHelo           = 22
	ExitMail           = 23
	ExitRcpt           = 24
	ExitData           = 25
	ExitEndOfData      = 26
	ExitQuit           = 27
	ExitAuth           = 28
	ExitTLS            = 29
	ExitPRDR           = 30 // reserved: PRDR requested but not offered
	ExitHeloAfterTLS   = 32
	ExitXCLIENT        = 33 // reserved
	ExitHeloAfterXCLNT = 34 // reserved
	ExitProxy          = 35 // reserved
	// ExitInterrupted (128+SIGINT, the shell's convention) is for Ctrl-C,
	// so a script can tell an interrupted probe from a refusal.
	ExitInterrupted = 130
)

// Phases of a session (DESIGN.md).
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
)

// ExitMeaning says in words what an exit code means.
func ExitMeaning(code int) string {
	switch code {
	case ExitOK:
		return "success"
	case ExitUsage:
		return "bad option or usage"
	case ExitConnect:
		return "could not connect"
	case ExitClosed:
		return "connection closed unexpectedly"
	case ExitBanner:
		return "banner rejected"
	case ExitHelo:
		return "EHLO/HELO rejected"
	case ExitMail:
		return "MAIL FROM rejected"
	case ExitRcpt:
		return "no recipient accepted"
	case ExitData:
		return "DATA rejected"
	case ExitEndOfData:
		return "message rejected after the final dot"
	case ExitQuit:
		return "QUIT rejected"
	case ExitAuth:
		return "AUTH failed or impossible"
	case ExitTLS:
		return "TLS failed"
	case ExitPRDR:
		return "PRDR requested but not offered"
	case ExitHeloAfterTLS:
		return "EHLO after STARTTLS rejected"
	case ExitXCLIENT:
		return "XCLIENT rejected"
	case ExitHeloAfterXCLNT:
		return "EHLO after XCLIENT rejected"
	case ExitProxy:
		return "PROXY header error"
	case ExitInterrupted:
		return "interrupted"
	}
	return "unknown exit code"
}

// exitForPhase is the exit code of a failure (refusal or timeout) in phase.
func exitForPhase(phase string, afterTLS bool) int {
	switch phase {
	case PhaseConnect:
		return ExitConnect
	case PhaseBanner:
		return ExitBanner
	case PhaseHelo:
		if afterTLS {
			return ExitHeloAfterTLS
		}
		return ExitHelo
	case PhaseStartTLS:
		return ExitTLS
	case PhaseAuth:
		return ExitAuth
	case PhaseMail:
		return ExitMail
	case PhaseRcpt:
		return ExitRcpt
	case PhaseData:
		return ExitData
	case PhaseEndOfData:
		return ExitEndOfData
	case PhaseQuit:
		return ExitQuit
	}
	return ExitClosed
}
