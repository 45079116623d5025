package probe

import (
	"errors"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/smtpclient"
)

// Two categories extend the DESIGN.md vocabulary for failures that carry
// no server reply at all, where forcing one of the reply categories would
// mislead.
const (
	CategoryConnectionFailed = "connection-failed" // no TCP connection, silence, or a closed connection
	CategoryTLSFailed        = "tls-failed"        // TLS handshake, certificate or STARTTLS trouble
)

// localDiagnosis explains a failure that has no reply to classify: the
// diagnosis engine works on replies, these come from the session itself.
func localDiagnosis(res *smtpclient.Result, ctx diagnose.Context) *diagnose.Diagnosis {
	msg := errString(res.Err)
	d := &diagnose.Diagnosis{Phase: res.Phase, Category: "unknown", Party: diagnose.PartyUnknown, Confidence: 0.6, Permanent: false}
	switch {
	case errors.Is(res.Err, mxlookup.ErrNullMX):
		d.Category, d.Party, d.Permanent, d.Confidence = "no-service", diagnose.PartyRecipient, true, 0.95
		d.Meaning = "The recipient domain publishes a null MX (RFC 7505): it declares that it accepts no mail at all."
		d.NextSteps = []string{"Check the recipient address for a typo in the domain.", "If the domain should receive mail, its owner must replace the \"0 .\" MX record with real mail servers."}
	case errors.Is(res.Err, mxlookup.ErrNoMailHost):
		d.Category, d.Party, d.Permanent, d.Confidence = "recipient-unknown", diagnose.PartyRecipient, true, 0.9
		d.Meaning = "The recipient domain has no MX and no address record: mail cannot be delivered to it."
		d.NextSteps = []string{"Check the recipient domain for a typo.", "dig +short MX " + ctx.RecipientDomain + " ; dig +short A " + ctx.RecipientDomain}
	case errors.Is(res.Err, mxlookup.ErrTemporary):
		d.Category, d.Party = "temporary-server", diagnose.PartyReceivingServer
		d.Meaning = "DNS lookups for the recipient domain failed temporarily (SERVFAIL or timeout); an MTA would retry later."
		d.NextSteps = []string{"Retry later; check the domain's DNS servers: dig +trace MX " + ctx.RecipientDomain}
	case res.Phase == smtpclient.PhaseConnect && res.ExitCode == smtpclient.ExitTLS:
		d.Category, d.Party = CategoryTLSFailed, diagnose.PartyReceivingServer
		d.Meaning = "The TLS handshake at connect (implicit TLS, the port-465 way) failed, so no SMTP was spoken: " + msg
		d.NextSteps = []string{"Check the server's TLS setup on this port (certificate and key, protocol versions, ciphers): openssl s_client -connect HOST:PORT", "If the port expects STARTTLS instead (587, 25), use --tls rather than --tls-on-connect."}
		if strings.Contains(msg, "does not look like a TLS handshake") {
			// The server answered in clear: it speaks plain SMTP on this
			// port, so the client's TLS mode is what is wrong.
			d.Party, d.Confidence = diagnose.PartySender, 0.9
			d.Meaning = "The probe started TLS at connect (--tls-on-connect, or port 465), but this port speaks plain SMTP first: the server sent a greeting in clear where a TLS handshake was expected."
			d.NextSteps = []string{"Use STARTTLS on this port (--tls), or connect to the implicit-TLS port (465).", "If this port should be implicit TLS, the server's TLS wrapper (Postfix smtpd_tls_wrappermode=yes) is not enabled on it."}
		}
	case res.Phase == smtpclient.PhaseConnect:
		d.Category, d.Party = CategoryConnectionFailed, diagnose.PartyUnknown
		d.Meaning = "No TCP connection could be made: the server is down, the port is closed or filtered, or your own network blocks outgoing connections to it (many ISPs and clouds block port 25)."
		d.NextSteps = []string{"Check that the host and port are right.", "Test from another network; if only yours fails, ask your provider whether outbound port 25 is blocked, or submit through your provider on 587.", "If this is your server, check that the MTA listens on that address and port and that the firewall allows it."}
	case res.ExitCode == smtpclient.ExitTLS:
		d.Category, d.Party = CategoryTLSFailed, diagnose.PartyReceivingServer
		d.Meaning = "The TLS part of the session failed: " + msg
		switch {
		case strings.Contains(msg, "injection"):
			d.Category = "protocol-error"
			d.Meaning = "The server sent data behind its 220 reply to STARTTLS, before TLS began: this is the STARTTLS command-injection flaw (CVE-2011-0411 family) or a man in the middle. The probe stopped."
			d.NextSteps = []string{"Upgrade or fix the server's STARTTLS implementation (it must discard pipelined input at STARTTLS).", "Check for a middlebox rewriting the SMTP session."}
		case strings.Contains(msg, "does not advertise STARTTLS"):
			d.Meaning = "TLS was required but the server does not offer STARTTLS, so nothing was sent in clear."
			d.NextSteps = []string{"If this is a submission port, the server must offer STARTTLS (Postfix: smtpd_tls_security_level=may or encrypt, with a certificate).", "A middlebox that strips STARTTLS (some firewalls' SMTP inspection) shows the same symptom: compare from another network.", "Port 465 expects TLS from the first byte: use --tls-on-connect there."}
		case strings.Contains(msg, "verification"):
			d.Party = diagnose.PartyReceivingServer
			d.NextSteps = []string{"Install a certificate valid for the host name you connect to, with its full chain.", "Check with: openssl s_client -starttls smtp -connect HOST:587 -servername HOST"}
		default:
			d.NextSteps = []string{"Check the server's TLS configuration (certificate, protocol versions, ciphers).", "Try: openssl s_client -starttls smtp -connect HOST:PORT (or without -starttls on 465)."}
		}
	case res.ExitCode == smtpclient.ExitAuth && strings.Contains(msg, "without TLS"):
		d.Category, d.Party, d.Confidence = "tls-required", diagnose.PartySender, 0.9
		d.Meaning = "The probe refused to send your credentials over an unencrypted connection."
		d.NextSteps = []string{"Use --tls (STARTTLS, port 587) or --tls-on-connect (port 465).", "Only on a trusted test network: --auth-plaintext sends them in clear."}
	case res.ExitCode == smtpclient.ExitAuth && (strings.Contains(msg, "does not offer") || strings.Contains(msg, "offers no mechanism the probe supports") || strings.Contains(msg, "is not supported")):
		// The client asked for what the server does not have: the remedy
		// is the sender's choice of mechanism.
		d.Category, d.Party, d.Confidence = "auth-failed", diagnose.PartySender, 0.85
		d.Meaning = "Authentication was not attempted: " + msg + "."
		d.NextSteps = []string{"Choose a mechanism the server advertises (--auth with one of them, or --auth alone to pick one).", "Check which mechanisms the server advertises after STARTTLS: probe ... --quit-after tls"}
	case res.ExitCode == smtpclient.ExitAuth && strings.Contains(msg, "does not advertise AUTH"):
		d.Category, d.Confidence = "auth-failed", 0.8
		d.Meaning = "Authentication was impossible: " + msg + "."
		if !res.TLSActive && res.StartTLS || ctx.Port == 25 {
			// AUTH hidden before STARTTLS, or AUTH asked of an MX port:
			// the client's choice of port or TLS mode is what to change.
			d.Party = diagnose.PartySender
			d.NextSteps = []string{"Use STARTTLS first (--tls): most servers advertise AUTH only inside TLS.", "Submit on 587 (STARTTLS) or 465 (implicit TLS): port 25 of an MX takes mail from other servers and usually offers no AUTH."}
		} else {
			d.Party = diagnose.PartyReceivingServer
			d.NextSteps = []string{"Check that this is the submission port of your provider (587 or 465).", "If this is your server, enable SMTP AUTH on this port (Postfix: smtpd_sasl_auth_enable=yes on the submission service)."}
		}
	case res.ExitCode == smtpclient.ExitAuth:
		d.Category, d.Party = "auth-failed", diagnose.PartyReceivingServer
		d.Meaning = "Authentication was impossible: " + msg
		d.NextSteps = []string{"Check which AUTH mechanisms the server advertises after STARTTLS (probe ... --quit-after tls).", "On port 25 of an MX, AUTH is often not offered at all: submit on 587."}
	case res.Phase == smtpclient.PhaseBanner && strings.Contains(msg, "within"):
		d.Category, d.Party = CategoryConnectionFailed, diagnose.PartyReceivingServer
		d.Meaning = "The connection opened but no banner came: the server is overloaded or tarpitting, or the port expects TLS from the first byte (port 465)."
		d.NextSteps = []string{"On port 465 use --tls-on-connect.", "Raise --timeout: some servers delay the banner on purpose (postscreen greet pause, sendmail greet_pause)."}
	case strings.Contains(msg, "stopped reading"):
		d.Category, d.Party = "temporary-server", diagnose.PartyReceivingServer
		d.Meaning = "The server stopped taking the message in the middle of DATA: it is overloaded, its disk is full, or a filter in front of it stalled."
		d.NextSteps = []string{"Retry with a longer --timeout; if it repeats, look at the server's log and disk space at that time."}
	case strings.Contains(msg, "within") || strings.Contains(msg, "deadline"):
		d.Category, d.Party = "temporary-server", diagnose.PartyReceivingServer
		d.Meaning = "The server stopped answering during " + phaseName(res.Phase) + ": it sent nothing within the time allowed. Servers go silent when they are overloaded, tarpit a suspected spammer, or wait on a slow DNS or content check."
		d.NextSteps = []string{"Retry with a longer --timeout (RFC 5321 §4.5.3.2 allows servers minutes at some steps)."}
		if res.Phase == smtpclient.PhaseEndOfData {
			d.NextSteps = append(d.NextSteps, "The whole message was sent: it may have been accepted anyway. Check the recipient or the server's log before resending, or it may arrive twice.")
		} else {
			d.NextSteps = append(d.NextSteps, "If it repeats, look at the server's log for this connection: a slow DNS lookup or policy service is the usual cause.")
		}
	case res.ExitCode == smtpclient.ExitClosed:
		d.Category, d.Party = CategoryConnectionFailed, diagnose.PartyReceivingServer
		d.Meaning = "The server closed the connection without a reply during " + phaseName(res.Phase) + "; servers do this when they drop suspected abusers, when a middlebox cuts the session, or when they crash."
		d.NextSteps = []string{"Retry once; if it repeats, look at the server's log for the connection from your IP at that time.", "Check DNSBLs for your IP: some servers drop listed clients without a reply."}
	default:
		var pe *smtpclient.ProtocolError
		if errors.As(res.Err, &pe) {
			d.Category, d.Party = "protocol-error", diagnose.PartyReceivingServer
			d.Meaning = "The server did not speak SMTP correctly: " + pe.What
			d.NextSteps = []string{"Check that this host and port run an SMTP server.", "If a firewall or proxy does SMTP inspection, try without it."}
		} else {
			d.Meaning = msg
			d.Confidence = 0.3
		}
	}
	d.Evidence = append(d.Evidence, "the session failed without an SMTP reply to classify")
	return d
}

// phaseName names a phase the way users know the command.
func phaseName(p string) string {
	switch p {
	case smtpclient.PhaseHelo:
		return "EHLO/HELO"
	case smtpclient.PhaseEndOfData:
		return "the wait for the reply to the final dot"
	case smtpclient.PhaseMail:
		return "MAIL FROM"
	case smtpclient.PhaseRcpt:
		return "RCPT TO"
	case smtpclient.PhaseBanner:
		return "the greeting"
	}
	return strings.ToUpper(p)
}
