package scenario

import "strings"

// entry pairs a scenario with the behaviour of its server.
type entry struct {
	s      Scenario
	expect []string // template of ExpectReply
	b      behavior
}

// defaultHostname is the banner name when Options.Hostname is empty.
const defaultHostname = "mx.scenario.test"

// public returns the scenario with ExpectReply filled in for a client at
// 127.0.0.1 and the default host name.
func (e entry) public() Scenario {
	s := e.s
	s.Args = append([]string(nil), e.s.Args...)
	v := canonicalVars(defaultHostname, s)
	// With several --to addresses the notable reply is for the last one
	// (partial-rcpt lists the refused address last).
	if i := strings.LastIndexByte(v.Rcpt, ','); i >= 0 {
		v.Rcpt = v.Rcpt[i+1:]
	}
	s.ExpectReply = expandAll(e.expect, v)
	return s
}

// Addresses used by every scenario, so replies that echo them are fixed.
const (
	argFrom = "--from=alice@example.com"
	argTo   = "--to=bob@example.net"
)

// args prepends the fixed sender and recipient to extra.
func args(extra ...string) []string {
	return append([]string{argFrom, argTo}, extra...)
}

// gmailID is a made-up session token in the shape Gmail appends to its
// replies ("<token> - gsmtp").
const gmailID = "4fb4d7f45d1cf-5c89b7a1e2asm1234567a12.34 - gsmtp"

// catalogue builds the scenario table. It is built on each call (it is small)
// so nothing in the package is mutable shared state.
func catalogue() []entry {
	tlsAuth := []string{"--tls", "--auth-user=" + DemoUser, "--auth-password=" + DemoPassword}
	accept := func() behavior { return behavior{offerTLS: true, offerAuth: true} }
	withMail := func(r ...string) behavior { b := accept(); b.mail = &rule{reply: r}; return b }
	withRcpt := func(r ...string) behavior { b := accept(); b.rcpt = &rule{reply: r}; return b }
	withEOD := func(r ...string) behavior { b := accept(); b.eod = &rule{reply: r}; return b }
	rawGreeting := func(mode greetMode, r ...string) behavior {
		return behavior{raw: true, greeting: r, after: mode}
	}
	rawDataCmd := func(r ...string) behavior {
		return behavior{raw: true, dataCmd: &rule{reply: r}}
	}

	gmailDMARC := []string{
		"550-5.7.26 Unauthenticated email from {from_domain} is not accepted due to",
		"550-5.7.26 domain's DMARC policy. Please contact the administrator of",
		"550-5.7.26 {from_domain} domain if this was a legitimate mail. To learn about the",
		"550-5.7.26 DMARC initiative, go to",
		"550 5.7.26  https://support.google.com/mail/?p=DmarcRejection " + gmailID,
	}
	gmailAuthRequired := []string{
		"530-5.7.0 Authentication Required. For more information, go to",
		"530 5.7.0  https://support.google.com/mail/?p=WantAuthError " + gmailID,
	}
	gmailBadCredentials := []string{
		"535-5.7.8 Username and Password not accepted. For more information, go to",
		"535 5.7.8  https://support.google.com/mail/?p=BadCredentials " + gmailID,
	}
	gmailOverQuota := []string{
		"452-4.2.2 The recipient's inbox is out of storage space. Please direct the",
		"452-4.2.2 recipient to",
		"452 4.2.2  https://support.google.com/mail/?p=OverQuotaTemp " + gmailID,
	}
	gmailDisabled := []string{
		"550-5.2.1 The email account that you tried to reach is disabled. Learn more at",
		"550 5.2.1  https://support.google.com/mail/?p=DisabledUser " + gmailID,
	}
	unknownUser := "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"

	okBehavior := accept()

	partial := accept()
	partial.rcpt = &rule{reply: []string{unknownUser}, when: whenLocalPartNobody}

	authRequired := accept()
	authRequired.requireAuth = gmailAuthRequired

	o365 := accept()
	o365.requireAuth = []string{"530 5.7.57 Client not authenticated to send mail. [AM0PR01CA0123.eurprd01.prod.exchangelabs.com 2024-05-14T09:30:00.000Z 08DC73F1A2B3C4D5]"}

	authFailed := accept()
	authFailed.authFail = gmailBadCredentials

	tlsRequired := accept()
	tlsRequired.requireTLS = []string{"530 5.7.0 Must issue a STARTTLS command first"}

	sizeBehavior := func(r string) behavior {
		b := accept()
		b.maxBytes = 100
		b.eod = &rule{reply: []string{r}, when: whenOverSize}
		return b
	}
	malformed := accept()
	malformed.eod = &rule{reply: []string{`554 Message is not RFC compliant; missing "Date" header`}, when: whenNoDateHeader}
	virus := func(r string) behavior {
		b := accept()
		b.eod = &rule{reply: []string{r}, when: whenEICAR}
		return b
	}
	// The literal --data of malformed-message: swaks syntax, "\n" is a line
	// break. Everything a message needs except the Date: field.
	noDateData := `--data=From: <alice@example.com>\nTo: <bob@example.net>\nSubject: no Date header\nMessage-Id: <nodate.1@example.com>\n\nThis message deliberately lacks a Date: header.\n`
	eicarBody := "--body=" + string(eicarSignature())

	return []entry{
		{
			s: Scenario{Name: "ok", Title: "everything is accepted; STARTTLS and AUTH offered",
				Description: "A well-configured MX: STARTTLS offered, AUTH PLAIN/LOGIN only inside TLS, every recipient accepted, and the final reply carries a Postfix-style queue id.",
				Args:        args(), ExpectExit: exitOK,
				Source: "Postfix smtpd final reply wording"},
			expect: okReplyTemplate, b: okBehavior,
		},
		{
			s: Scenario{Name: "submission-ok", Title: "submission with STARTTLS and AUTH succeeds",
				Description: "A submission server that refuses MAIL before AUTH; the probe upgrades with STARTTLS, authenticates with the demo credentials and the message is queued.",
				Args:        args(tlsAuth...), ExpectExit: exitOK,
				Source: "Gmail smtp.gmail.com / Postfix submission behaviour"},
			expect: okReplyTemplate, b: authRequired,
		},
		{
			s: Scenario{Name: "blocklisted-ip", Title: "554 instead of the banner: client IP on Spamhaus ZEN",
				Description: "The server refuses the connection itself, before any command, because the client address is listed on a DNSBL (seed 002/003 'sender IP blacklisted'). Postfix with reject_rbl_client zen.spamhaus.org evaluated at connect time.",
				Args:        args(), ExpectExit: exitBanner, ExpectPhase: phaseBanner, ExpectCode: 554, ExpectCategory: "ip-blocklisted",
				Source: "Postfix reject_rbl_client reply with a Spamhaus ZEN listing"},
			expect: []string{"554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip}"},
			b:      rawGreeting(greetWaitQuit, "554 5.7.1 Service unavailable; Client host [{ip}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{ip}"),
		},
		{
			s: Scenario{Name: "no-service", Title: "554 greeting: no SMTP service here",
				Description: "RFC 5321 §3.1: a server may answer the connection with 554 instead of 220 and then only accept QUIT; seen on hosts that are not (or no longer) mail servers.",
				Args:        args(), ExpectExit: exitBanner, ExpectPhase: phaseBanner, ExpectCode: 554, ExpectCategory: "no-service",
				Source: "RFC 5321 section 3.1"},
			expect: []string{"554 {host} ESMTP No SMTP service here"},
			b:      rawGreeting(greetWaitQuit, "554 {host} ESMTP No SMTP service here"),
		},
		{
			s: Scenario{Name: "rate-limit", Title: "421 at connect: too many connections",
				Description: "Postfix anvil's connection-count limit: the server answers the connection with 421 and hangs up.",
				Args:        args(), ExpectExit: exitBanner, ExpectPhase: phaseBanner, ExpectCode: 421, ExpectCategory: "rate-limit",
				Source: "Postfix smtpd_client_connection_count_limit"},
			expect: []string{"421 4.7.0 {host} Error: too many connections from {ip}"},
			b:      rawGreeting(greetHangup, "421 4.7.0 {host} Error: too many connections from {ip}"),
		},
		{
			s: Scenario{Name: "rate-limit-mail", Title: "450 at MAIL: too much mail from this client",
				Description: "Postfix anvil's message-rate limit deferring the sender at MAIL FROM.",
				Args:        args(), ExpectExit: exitMail, ExpectPhase: phaseMail, ExpectCode: 450, ExpectCategory: "rate-limit",
				Source: "Postfix smtpd_client_message_rate_limit"},
			expect: []string{"450 4.7.1 Error: too much mail from {ip}"},
			b:      withMail("450 4.7.1 Error: too much mail from {ip}"),
		},
		{
			s: Scenario{Name: "relay-denied", Title: "554 at RCPT: Relay access denied",
				Description: "The most frequent 554 of the seeds (001, 003): the MX is not the final destination for the recipient's domain and the client is not authenticated, so Postfix's reject_unauth_destination refuses to relay.",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 554, ExpectCategory: "relay-denied",
				Source: "Postfix reject_unauth_destination"},
			expect: []string{"554 5.7.1 <{rcpt}>: Relay access denied"},
			b:      withRcpt("554 5.7.1 <{rcpt}>: Relay access denied"),
		},
		{
			s: Scenario{Name: "unknown-user", Title: "550 at RCPT: user unknown",
				Description: "The recipient does not exist: Postfix virtual mailbox lookup fails.",
				Args:        []string{argFrom, "--to=nobody@example.net"}, ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 550, ExpectCategory: "recipient-unknown",
				Source: "Postfix virtual_mailbox_maps reject_unlisted_recipient"},
			expect: []string{unknownUser},
			b:      partial,
		},
		{
			s: Scenario{Name: "partial-rcpt", Title: "one recipient refused, one accepted: the message is delivered",
				Description: "Two recipients; the server refuses the unknown one with 550 5.1.1 and accepts the other, so the message goes through (swaks exits 0 when at least one RCPT is accepted).",
				Args:        []string{argFrom, "--to=bob@example.net,nobody@example.net"}, ExpectExit: exitOK,
				Source: "Postfix virtual_mailbox_maps reject_unlisted_recipient"},
			expect: []string{unknownUser},
			b:      partial,
		},
		{
			s: Scenario{Name: "greylisting", Title: "451 at RCPT: greylisted by postgrey",
				Description: "Postgrey defers the first delivery attempt of an unknown (client, sender, recipient) triplet; a real MTA retries later and gets through.",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 451, ExpectCategory: "greylisting",
				Source: "postgrey via Postfix check_policy_service"},
			expect: []string{"451 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{rcpt_domain}.html"},
			b:      withRcpt("451 4.7.1 <{rcpt}>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/{rcpt_domain}.html"),
		},
		{
			s: Scenario{Name: "sender-domain-invalid", Title: "450 at RCPT: sender domain not found",
				Description: "Postfix reject_unknown_sender_domain: the MAIL FROM domain has no A/MX record; with smtpd_delay_reject (the default) the refusal is reported at RCPT.",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 450, ExpectCategory: "sender-domain-invalid",
				Source: "Postfix reject_unknown_sender_domain"},
			expect: []string{"450 4.1.8 <{from}>: Sender address rejected: Domain not found"},
			b:      withRcpt("450 4.1.8 <{from}>: Sender address rejected: Domain not found"),
		},
		{
			s: Scenario{Name: "rdns", Title: "450 at RCPT: client has no reverse DNS",
				Description: "Postfix reject_unknown_client_hostname: the client IP has no PTR record (seed 002 'RDNS(PTR) record'); reported at RCPT because of smtpd_delay_reject.",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 450, ExpectCategory: "rdns-ptr",
				Source: "Postfix reject_unknown_client_hostname"},
			expect: []string{"450 4.7.1 Client host rejected: cannot find your hostname, [{ip}]"},
			b:      withRcpt("450 4.7.1 Client host rejected: cannot find your hostname, [{ip}]"),
		},
		{
			s: Scenario{Name: "provider-blocklist", Title: "550 at RCPT: Outlook.com block list (S3140)",
				Description: "Outlook.com/Hotmail refuse mail from networks on their own block list (seed 002 'sender IP blacklisted'); a provider's own list counts as a blocklist (DESIGN.md ip-blocklisted).",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 550, ExpectCategory: "ip-blocklisted",
				Source: "Outlook.com (S3140)"},
			expect: []string{"550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors."},
			b:      withRcpt("550 5.7.1 Unfortunately, messages from [{ip}] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors."),
		},
		{
			s: Scenario{Name: "mailbox-full", Title: "452 at RCPT: recipient over quota (Gmail)",
				Description: "Gmail defers a recipient whose mailbox is out of storage.",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 452, ExpectCategory: "mailbox-full",
				Source: "Gmail SMTP error reference (4.2.2)"},
			expect: gmailOverQuota, b: withRcpt(gmailOverQuota...),
		},
		{
			s: Scenario{Name: "mailbox-disabled", Title: "550 at RCPT: recipient account disabled (Gmail)",
				Description: "Gmail refuses a recipient whose account is disabled.",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 550, ExpectCategory: "mailbox-disabled",
				Source: "Gmail SMTP error reference (5.2.1)"},
			expect: gmailDisabled, b: withRcpt(gmailDisabled...),
		},
		{
			s: Scenario{Name: "spf-fail", Title: "550 at MAIL: SPF fail",
				Description: "The sending IP is not in the sender domain's SPF record (seed 002 'SPF record'); postfix-policyd-spf-python refuses with RFC 7372's 5.7.23.",
				Args:        args(), ExpectExit: exitMail, ExpectPhase: phaseMail, ExpectCode: 550, ExpectCategory: "spf-fail",
				Source: "postfix-policyd-spf-python reject text, RFC 7372"},
			expect: []string{"550 5.7.23 <{from}>: Sender address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id={from};ip={ip};r={host}"},
			b:      withMail("550 5.7.23 <{from}>: Sender address rejected: Message rejected due to: SPF fail - not authorized. Please see http://www.openspf.net/Why?s=mfrom;id={from};ip={ip};r={host}"),
		},
		{
			s: Scenario{Name: "auth-required", Title: "530 at MAIL: authentication required (Gmail submission)",
				Description: "A submission server refuses MAIL FROM from an unauthenticated client; the probe did STARTTLS but sent no credentials.",
				Args:        args("--tls"), ExpectExit: exitMail, ExpectPhase: phaseMail, ExpectCode: 530, ExpectCategory: "auth-required",
				Source: "smtp.gmail.com"},
			expect: gmailAuthRequired, b: authRequired,
		},
		{
			s: Scenario{Name: "auth-required-o365", Title: "530 5.7.57 at MAIL: client not authenticated (Exchange Online)",
				Description: "Microsoft 365 (smtp.office365.com) refuses MAIL FROM before AUTH.",
				Args:        args("--tls"), ExpectExit: exitMail, ExpectPhase: phaseMail, ExpectCode: 530, ExpectCategory: "auth-required",
				Source: "Exchange Online SMTP AUTH client submission"},
			expect: o365.requireAuth, b: o365,
		},
		{
			s: Scenario{Name: "auth-failed", Title: "535 at AUTH: bad credentials (Gmail)",
				Description: "The probe upgrades with STARTTLS and authenticates with a wrong password; the server refuses the credentials.",
				Args:        args("--tls", "--auth-user="+DemoUser, "--auth-password=wrong-password"), ExpectExit: exitAuth, ExpectPhase: phaseAuth, ExpectCode: 535, ExpectCategory: "auth-failed",
				Source: "smtp.gmail.com"},
			expect: gmailBadCredentials, b: authFailed,
		},
		{
			s: Scenario{Name: "tls-required", Title: "530 at MAIL: must issue STARTTLS first",
				Description: "The server enforces TLS (Postfix smtpd_tls_security_level=encrypt) and the probe was told not to use it.",
				Args:        args("--no-tls"), ExpectExit: exitMail, ExpectPhase: phaseMail, ExpectCode: 530, ExpectCategory: "tls-required",
				Source: "Postfix smtpd_tls_security_level=encrypt"},
			expect: tlsRequired.requireTLS, b: tlsRequired,
		},
		{
			s: Scenario{Name: "tls-unavailable", Title: "454 to STARTTLS: TLS not available",
				Description: "The server advertises STARTTLS but cannot start it (Postfix with an unreadable certificate); with --tls the probe must stop.",
				Args:        args("--tls"), ExpectExit: exitTLS, ExpectPhase: phaseStartTLS, ExpectCode: 454, ExpectCategory: "temporary-server",
				Source: "Postfix smtpd TLS initialisation failure"},
			expect: []string{"454 4.7.0 TLS not available due to local problem"},
			b:      behavior{raw: true, starttls: []string{"454 4.7.0 TLS not available due to local problem"}},
		},
		{
			s: Scenario{Name: "broken-starttls", Title: "STARTTLS offered, handshake broken: delivered in clear",
				Description: "The server offers STARTTLS and answers 220, but its TLS is broken and the handshake fails (OpenSMTPD 6.8 against OpenSSL 3: 'EVP lib'). With opportunistic TLS (the default on port 25) the probe does what MTAs do: it records the failure as an RFC 8460 validation-failure, reconnects without STARTTLS and delivers in clear; --tls-optional-strict or --tls would stop with exit 29.",
				Args:        args(), ExpectExit: exitOK,
				Source: "OpenSMTPD 6.8 on Debian 12; Exim tls_tempfail_tryclear"},
			expect: okReplyTemplate,
			b:      behavior{raw: true, offerTLS: true, brokenTLS: true},
		},
		{
			s: Scenario{Name: "starttls-injection", Title: "STARTTLS reply followed by injected plaintext",
				Description: "The 220 reply to STARTTLS arrives together with a plaintext '250 injected' in the same packet (the man-in-the-middle pattern of CVE-2011-0411 and the 2021 'STARTTLS response injection' client bugs); the probe must refuse to go on.",
				Args:        args("--tls"), ExpectExit: exitTLS, ExpectPhase: phaseStartTLS, ExpectCode: 220, ExpectCategory: "protocol-error",
				Source: "CVE-2011-0411; https://nostarttls.secvuln.info/"},
			expect: []string{"220 Ready", "250 injected"},
			b:      behavior{raw: true, starttls: []string{"220 Ready", "250 injected"}},
		},
		{
			s: Scenario{Name: "data-rejected", Title: "554 to the DATA command",
				Description: "The DATA command itself is refused although RCPT was accepted, as a front-end filter that validates recipients late does (Postfix wording). 5.5.1 marks it as a command-sequence error: the diagnosis points back to the RCPT replies. go-smtp always answers DATA with 354, so this runs on the raw server.",
				Args:        args(), ExpectExit: exitData, ExpectPhase: phaseData, ExpectCode: 554, ExpectCategory: "protocol-error",
				Source: "Postfix smtpd DATA without valid recipients"},
			expect: []string{"554 5.5.1 Error: no valid recipients"},
			b:      rawDataCmd("554 5.5.1 Error: no valid recipients"),
		},
		{
			s: Scenario{Name: "spam-content", Title: "554 after the dot: spam content",
				Description: "The content filter scores the message as spam after the final dot (seeds 002, 003).",
				Args:        args(), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 554, ExpectCategory: "spam-content",
				Source: "seed 003 list of 554 variants"},
			expect: []string{"554 5.7.1 Message blocked due to spam content in the message"},
			b:      withEOD("554 5.7.1 Message blocked due to spam content in the message"),
		},
		{
			s: Scenario{Name: "dmarc-policy", Title: "550 5.7.26 after the dot: unauthenticated, DMARC policy (Gmail)",
				Description: "The sender domain publishes p=reject and the message passes neither aligned SPF nor DKIM (seed 002 'DMARC record'); Gmail's multi-line refusal.",
				Args:        args(), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 550, ExpectCategory: "dmarc-policy",
				Source: "Gmail (5.7.26)"},
			expect: gmailDMARC, b: withEOD(gmailDMARC...),
		},
		{
			s: Scenario{Name: "message-size", Title: "552 after the dot: message size exceeds fixed limit",
				Description: "Postfix refuses a message over message_size_limit. The limit here is 100 bytes and is not advertised in SIZE (so no client can refuse early at MAIL): any real test message exceeds it.",
				Args:        args(), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 552, ExpectCategory: "message-size",
				Source: "Postfix message_size_limit"},
			expect: []string{"552 5.3.4 Message size exceeds fixed limit"},
			b:      sizeBehavior("552 5.3.4 Message size exceeds fixed limit"),
		},
		{
			s: Scenario{Name: "message-size-violation", Title: "554 5.7.0 after the dot: Message Size Violation",
				Description: "The seed 003 variant of a size refusal sent with a 554 (limit 100 bytes, not advertised).",
				Args:        args(), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 554, ExpectCategory: "message-size",
				Source: "seed 003"},
			expect: []string{"554 5.7.0 Message Size Violation"},
			b:      sizeBehavior("554 5.7.0 Message Size Violation"),
		},
		{
			s: Scenario{Name: "malformed-message", Title: "554 after the dot: not RFC compliant, missing Date header",
				Description: "The message (given whole with --data) has no Date: header field, which RFC 5322 requires; the server checks and refuses (seed 003). A message with a Date: is accepted.",
				Args:        args(noDateData), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 554, ExpectCategory: "malformed-message",
				Source: "seed 003"},
			expect: []string{`554 Message is not RFC compliant; missing "Date" header`},
			b:      malformed,
		},
		{
			s: Scenario{Name: "virus", Title: "554 after the dot: virus found (EICAR)",
				Description: "The body carries the EICAR anti-virus test string; the ClamAV-backed filter refuses it after the dot. Other messages are accepted.",
				Args:        args(eicarBody), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 554, ExpectCategory: "virus",
				Source: "ClamAV signature name for EICAR"},
			expect: []string{"554 5.7.1 Rejected due to virus: Eicar-Test-Signature"},
			b:      virus("554 5.7.1 Rejected due to virus: Eicar-Test-Signature"),
		},
		{
			s: Scenario{Name: "transaction-failed", Title: "554 after the dot: transaction failed, possible abuse",
				Description: "The generic refusal of seed 000 ('554 Transaction failed : Cannot send message due to possible abuse'), whose causes are the sender's IP or DNS reputation or the recipient's filters.",
				Args:        args(), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 554, ExpectCategory: "policy-generic",
				Source: "seed 000 (Yahoo-style wording)"},
			expect: []string{"554 Transaction failed : Cannot send message due to possible abuse; please visit http://postmaster.yahoo.com/abuse_smtp.html for more information"},
			b:      withEOD("554 Transaction failed : Cannot send message due to possible abuse; please visit http://postmaster.yahoo.com/abuse_smtp.html for more information"),
		},
		{
			s: Scenario{Name: "silent", Title: "banner, then silence",
				Description: "The server greets and then never answers (a stalled filter or a tarpit); the probe must time out in EHLO instead of hanging.",
				Args:        args("--timeout=1s"), ExpectExit: exitHelo, ExpectPhase: phaseHelo,
				Source: "tarpit / stalled content filter"},
			b: behavior{raw: true, silence: silenceAfterBanner},
		},
		{
			s: Scenario{Name: "silent-banner", Title: "connection accepted, no banner",
				Description: "The TCP connection opens but no greeting ever comes (a firewall or load balancer holding the connection, or a wrong port).",
				Args:        args("--timeout=1s"), ExpectExit: exitBanner, ExpectPhase: phaseBanner,
				Source: "firewall / proxy holding the connection"},
			b: behavior{raw: true, silence: silenceNoBanner},
		},
		{
			s: Scenario{Name: "silent-after-ehlo", Title: "EHLO answered, then silence",
				Description: "The server answers EHLO and then stops answering; the probe must time out at MAIL.",
				Args:        args("--timeout=1s"), ExpectExit: exitMail, ExpectPhase: phaseMail,
				Source: "stalled policy service (e.g. a hung check_policy_service)"},
			b: behavior{raw: true, silence: silenceAfterEHLO},
		},
		{
			s: Scenario{Name: "silent-data", Title: "message sent, no reply to the final dot",
				Description: "The server reads the whole message and never answers the final dot (a hung content scanner); RFC 5321 §4.5.3.2.6 gives the client 10 minutes, the probe's --timeout is shorter.",
				Args:        args("--timeout=1s"), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData,
				Source: "hung content filter"},
			b: behavior{raw: true, silence: silenceAfterData},
		},
		{
			s: Scenario{Name: "wrong-protocol", Title: "a POP3 server answers instead of SMTP",
				Description: "The probe dialled a port where a POP3 server (Dovecot) listens: the greeting is not an SMTP reply at all.",
				Args:        args("--timeout=2s"), ExpectExit: exitBanner, ExpectPhase: phaseBanner, ExpectCategory: "protocol-error",
				Source: "Dovecot POP3 greeting"},
			expect: []string{"+OK Dovecot ready."},
			b:      rawGreeting(greetPOP3, "+OK Dovecot ready."),
		},

		// The 554 variants listed in seed 003 that the scenarios above do not
		// already send, each at the step where such servers send it.
		seedEOD("spam-content-p4", "554 5.7.1 [P4] Message blocked due to spam content in the message.", "spam-content"),
		{
			s: Scenario{Name: "relay-denied-legacy", Title: "554 at RCPT: Relay access denied, no enhanced code",
				Description: "The same Postfix refusal as relay-denied from a server without ENHANCEDSTATUSCODES (seed 003 '554 <...>: Relay access denied').",
				Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 554, ExpectCategory: "relay-denied",
				Source: "seed 003"},
			expect: []string{"554 <{rcpt}>: Relay access denied"},
			b:      withRcpt("554 <{rcpt}>: Relay access denied"),
		},
		seedEOD("policy-yahoo", "554 5.7.9 Message not accepted for policy reasons.  See https://help.yahoo.com/kb/postmaster/SLN7253.html", "policy-generic"),
		{
			s: Scenario{Name: "aol-rly-b1", Title: "554 RLY:B1 at connect (AOL dynamic block)",
				Description: "AOL's dynamic block placed on an IP after member complaints (seed 003 '554 RLY:B1').",
				Args:        args(), ExpectExit: exitBanner, ExpectPhase: phaseBanner, ExpectCode: 554, ExpectCategory: "ip-reputation",
				Source: "http://postmaster.info.aol.com/errors/554rlyb1.html"},
			expect: []string{"554 RLY:B1 http://postmaster.info.aol.com/errors/554rlyb1.html"},
			b:      rawGreeting(greetWaitQuit, "554 RLY:B1 http://postmaster.info.aol.com/errors/554rlyb1.html"),
		},
		seedEOD("yahoo-no-account", "554 delivery error: dd This user doesn't have a yahoo.com account ({rcpt}) [0] - mta1234.mail.ne1.yahoo.com", "recipient-unknown"),
		seedEOD("denied-mode-normal", "554 Denied (Mode: normal)", "policy-generic"),
		seedRcpt("invalid-recipient", "554 Invalid recipient", "recipient-unknown"),
		seedEOD("malformed-denied", "554 Malformed mail denied!", "malformed-message"),
		seedEOD("yahoo-ph01", "554 Message not allowed - [PH01] Email not accepted for policy reasons.  Please visit https://postmaster.yahooinc.com/error-codes [120]", "spam-content"),
		seedEOD("permanently-rejected", "554 Message permanently rejected", "policy-generic"),
		seedEOD("message-refused", "554 Message refused", "policy-generic"),
		{
			s: Scenario{Name: "no-valid-recipients", Title: "554 to the DATA command: no valid recipients, bye",
				Description: "The seed 003 variant of a DATA refusal.",
				Args:        args(), ExpectExit: exitData, ExpectPhase: phaseData, ExpectCode: 554, ExpectCategory: "recipient-unknown",
				Source: "seed 003"},
			expect: []string{"554 no valid recipients, bye"},
			b:      rawDataCmd("554 no valid recipients, bye"),
		},
		seedEOD("rejected-spam", "554 rejected due to spam content", "spam-content"),
		virusSeed("rejected-virus", "554 rejected due to virus"),
		seedRcpt("no-mailbox", "554 Sorry, no mailbox here by that name.", "recipient-unknown"),
		seedEOD("spam-detected", "554 Spam detected", "spam-content"),
		seedEOD("spam-violation", "554 Spam violation, the content of your e-mail contains illegal characters, re-sent after examination", "spam-content"),
		seedEOD("transaction-failed-spam", "554 Transaction Failed Spam Message not queued.", "spam-content"),
		virusSeed("virus-found", "554 Virus found, message permanently rejected (#5.3.0)"),
	}
}

// seedEOD is a seed 003 variant refused after the final dot.
func seedEOD(name, reply, category string) entry {
	b := behavior{offerTLS: true, offerAuth: true, eod: &rule{reply: []string{reply}}}
	return entry{
		s: Scenario{Name: name, Title: "after the dot: " + reply,
			Description: "A 554 variant listed in seed 003, sent after the final dot.",
			Args:        args(), ExpectExit: exitEndOfData, ExpectPhase: phaseEndOfData, ExpectCode: 554, ExpectCategory: category,
			Source: "seed 003"},
		expect: []string{reply}, b: b,
	}
}

// seedRcpt is a seed 003 variant refused at RCPT.
func seedRcpt(name, reply, category string) entry {
	b := behavior{offerTLS: true, offerAuth: true, rcpt: &rule{reply: []string{reply}}}
	return entry{
		s: Scenario{Name: name, Title: "at RCPT: " + reply,
			Description: "A 554 variant listed in seed 003, sent in reply to RCPT TO.",
			Args:        args(), ExpectExit: exitRcpt, ExpectPhase: phaseRcpt, ExpectCode: 554, ExpectCategory: category,
			Source: "seed 003"},
		expect: []string{reply}, b: b,
	}
}

// virusSeed is a seed 003 virus variant: refused after the dot when the
// message carries the EICAR test string.
func virusSeed(name, reply string) entry {
	e := seedEOD(name, reply, "virus")
	e.s.Args = args("--body=" + string(eicarSignature()))
	e.s.Description = "A 554 virus variant listed in seed 003, sent after the final dot when the body carries the EICAR test string."
	e.b.eod.when = whenEICAR
	return e
}
