package main

import (
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/compose"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/spf13/pflag"
)

// sessionFlags are the options of a session, under swaks's canonical long
// names so that swaksargs.Translate lines real swaks command lines up with
// them. Options that swaks has and the probe does not implement are simply
// not defined here: Translate reports them as "not supported yet".
type sessionFlags struct {
	to, cc, bcc, from, helo, server, port, protocol string
	ipv4, ipv6                                      bool
	localInterface, localPort                       string
	dnsServer, copyRouting                          string
	checkSender                                     bool
	dkimKey, dkimSelector, dkimDomain               string
	dkimHeaders                                     []string
	allMX                                           bool
	allMXParallel                                   int
	dnsbl                                           []string

	tls, tlsOptional, tlsOptionalStrict, tlsOnConnect, noTLS bool
	tlsVerify                                                bool
	tlsSNI, tlsCAPath                                        string
	tlsCert, tlsKey, tlsChain                                string
	tlsProtocol, tlsCipher, tlsPeerCert, tlsPeerChain        string

	auth, authUser, authPassword string
	authPasswordFile             string
	authPasswordEnv              string
	authPlaintext                bool
	authHidePassword             string
	authOptional                 string
	authOptionalStrict           string

	headers, addHeaders      []string
	body, data               string
	attachments              attachList
	attachBody               []string
	noDataFixup, noStripFrom bool

	quitAfter      string
	dropAfter      string
	timeout        string
	sessionTimeout time.Duration

	silent                                            string
	suppressData                                      bool
	showTimeLapse                                     string
	hideReceive, hideSend, hideInformational, hideAll bool
	noHints, noSendHints, noReceiveHints, noInfoHints bool
	output                                            string
	jsonOut, markdown                                 bool
	report                                            string
	jsonSchema                                        bool
	showSecrets                                       bool
	noColor                                           bool
	compat                                            string
	version, help                                     bool
}

// optionalUnset is pflag's NoOptDefVal marker for options whose value is
// optional in swaks: given without a value, they hold this string.
const optionalUnset = "\x00given"

func newSessionFlagSet(name string, f *sessionFlags) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.StringVar(&f.to, "to", "", "envelope recipient(s), comma-separated")
	fs.StringVar(&f.cc, "cc", "", "Cc recipient(s), comma-separated: added to the envelope and the Cc: header")
	fs.StringVar(&f.bcc, "bcc", "", "Bcc recipient(s), comma-separated: added to the envelope only")
	fs.StringVar(&f.from, "from", "", "envelope sender; \"<>\" or \"\" for the null sender")
	fs.StringVar(&f.helo, "helo", "", "EHLO/HELO name (default: this host's FQDN, never \"localhost\") (swaks --ehlo)")
	fs.StringVar(&f.server, "server", "", "server host[:port]; default: the MX of the first recipient's domain")
	fs.StringVar(&f.port, "port", "", "port (default 25; 465 with --tls-on-connect; 24 for LMTP)")
	fs.StringVar(&f.protocol, "protocol", "", "SMTP, ESMTP, ESMTPA, ESMTPS, ESMTPSA, SSMTP, SSMTPA, LMTP, LMTPA, LMTPS, LMTPSA")
	fs.BoolVar(&f.ipv4, "4", false, "connect over IPv4 only")
	fs.BoolVar(&f.ipv6, "6", false, "connect over IPv6 only")
	fs.StringVar(&f.localInterface, "local-interface", "", "source IP address[:port]")
	fs.StringVar(&f.localPort, "local-port", "", "source port (with --local-interface or alone)")
	fs.StringVar(&f.dnsServer, "dns-server", "", "send every DNS lookup to this host[:port]")
	fs.StringVar(&f.copyRouting, "copy-routing", "", "find the server from this domain's MX instead of the recipient's")
	fs.BoolVar(&f.checkSender, "check-sender", false, "check the sender's PTR/FCrDNS, EHLO name, SPF, DMARC, sender domain and common DNSBLs for any session (they run by themselves when a refusal is about the sender)")
	fs.StringArrayVar(&f.dnsbl, "dnsbl", nil, "also look the egress IP up on this DNSBL zone (repeatable)")
	fs.StringVar(&f.dkimKey, "dkim-key", "", "sign the message with DKIM with this private key (PEM: RSA or Ed25519); the published key is checked first")
	fs.StringVar(&f.dkimSelector, "dkim-selector", "", "DKIM selector (s=); required with --dkim-key")
	fs.StringVar(&f.dkimDomain, "dkim-domain", "", "DKIM signing domain (d=; default: the From domain)")
	fs.StringArrayVar(&f.dkimHeaders, "dkim-header", nil, "a header field to sign (repeatable; default: From, Reply-To, Subject, Date, To, Cc, Message-ID, MIME-Version, Content-Type, Content-Transfer-Encoding)")
	fs.BoolVar(&f.allMX, "all-mx", false, "run the session against every MX host and every address of each, side by side (a matrix and its differences)")
	fs.IntVar(&f.allMXParallel, "all-mx-parallel", probe.DefaultAllMXParallel, "sessions at once with --all-mx")

	fs.BoolVar(&f.tls, "tls", false, "require STARTTLS (default on port 587)")
	fs.BoolVar(&f.tlsOptional, "tls-optional", false, "use STARTTLS when offered (default on port 25)")
	fs.BoolVar(&f.tlsOptionalStrict, "tls-optional-strict", false, "use STARTTLS when offered; fail if it is offered but fails")
	fs.BoolVar(&f.tlsOnConnect, "tls-on-connect", false, "implicit TLS from the first byte (default on port 465)")
	fs.BoolVar(&f.noTLS, "no-tls", false, "never use TLS")
	fs.BoolVar(&f.tlsVerify, "tls-verify", false, "abort when the certificate does not verify (it is always checked and reported)")
	fs.StringVar(&f.tlsSNI, "tls-sni", "", "TLS server name (SNI and verification; default: the host name)")
	fs.StringVar(&f.tlsCAPath, "tls-ca-path", "", "PEM file of CA certificates to verify against instead of the system's")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "client certificate (PEM) to present")
	fs.StringVar(&f.tlsKey, "tls-key", "", "private key (PEM) of --tls-cert")
	fs.StringVar(&f.tlsChain, "tls-chain", "", "intermediate certificates (PEM) sent after --tls-cert")
	fs.StringVar(&f.tlsProtocol, "tls-protocol", "", "TLS versions to allow (swaks syntax: tlsv1_2,tlsv1_3 or no_tlsv1_1)")
	fs.StringVar(&f.tlsCipher, "tls-cipher", "", "TLS 1.2 cipher suites to offer (OpenSSL syntax; Go chooses TLS 1.3 suites itself)")
	fs.StringVar(&f.tlsPeerCert, "tls-get-peer-cert", "", "write the certificate chain the server sent (PEM, leaf first) to FILE; without FILE show it")
	fs.Lookup("tls-get-peer-cert").NoOptDefVal = optionalUnset
	fs.StringVar(&f.tlsPeerChain, "tls-get-peer-chain", "", "the same as --tls-get-peer-cert (the whole chain is always written)")
	fs.Lookup("tls-get-peer-chain").NoOptDefVal = optionalUnset

	fs.StringVar(&f.auth, "auth", "", "authenticate; optional comma-separated mechanisms: PLAIN, LOGIN, CRAM-MD5")
	fs.Lookup("auth").NoOptDefVal = optionalUnset
	fs.StringVar(&f.authUser, "auth-user", "", "AUTH user name; implies --auth")
	fs.Lookup("auth-user").NoOptDefVal = optionalUnset
	fs.StringVar(&f.authPassword, "auth-password", "", "AUTH password; implies --auth. Prefer --auth-password-file, --auth-password-env or the prompt")
	fs.Lookup("auth-password").NoOptDefVal = optionalUnset
	fs.StringVar(&f.authPasswordFile, "auth-password-file", "", "read the AUTH password from the first line of this file")
	fs.StringVar(&f.authPasswordEnv, "auth-password-env", "", "read the AUTH password from this environment variable")
	fs.BoolVar(&f.authPlaintext, "auth-plaintext", false, "allow credentials over a connection without TLS")
	fs.StringVar(&f.authHidePassword, "auth-hide-password", "", "accepted for swaks compatibility: passwords are always hidden unless --show-secrets")
	fs.Lookup("auth-hide-password").NoOptDefVal = optionalUnset
	fs.StringVar(&f.authOptional, "auth-optional", "", "like --auth, but go on without AUTH when it is not offered, cannot be tried or fails")
	fs.Lookup("auth-optional").NoOptDefVal = optionalUnset
	fs.StringVar(&f.authOptionalStrict, "auth-optional-strict", "", "like --auth-optional, but fail when AUTH is tried and refused")
	fs.Lookup("auth-optional-strict").NoOptDefVal = optionalUnset

	fs.StringArrayVar(&f.headers, "header", nil, "\"Name: value\" header, replacing a default one of that name (repeatable; --h-Name VALUE)")
	fs.StringArrayVar(&f.addHeaders, "add-header", nil, "\"Name: value\" header added to the message (repeatable)")
	fs.StringVar(&f.body, "body", "", "message body: text, \"-\" for stdin, \"@file\"")
	fs.StringVar(&f.data, "data", "", "whole message (headers and body): text, \"-\" for stdin, \"@file\"")
	fs.Var(attachFlag{&f.attachments, "attach"}, "attach", "attach a file (\"@file\", \"-\" for stdin, or text) (repeatable)")
	fs.Var(attachFlag{&f.attachments, "attach-type"}, "attach-type", "MIME type of the following --attach")
	fs.Var(attachFlag{&f.attachments, "attach-name"}, "attach-name", "file name of the following --attach (no value: no name)")
	fs.Lookup("attach-name").NoOptDefVal = optionalUnset
	fs.StringArrayVar(&f.attachBody, "attach-body", nil, "an alternative body part (text, \"-\", \"@file\") (repeatable)")
	fs.BoolVar(&f.noDataFixup, "no-data-fixup", false, "send --data without token expansion or header fix-ups (line endings still leave as CRLF)")
	fs.BoolVar(&f.noStripFrom, "no-strip-from", false, "keep a leading mbox \"From \" line in --data")

	fs.StringVar(&f.quitAfter, "quit-after", "", "stop after: connect, banner, first-helo, tls, helo, auth, mail, rcpt")
	fs.StringVar(&f.dropAfter, "drop-after", "", "close the connection without QUIT after: the --quit-after points, or dot")
	fs.StringVar(&f.timeout, "timeout", "30s", "timeout for each connect and each reply (\"30\", \"30s\", \"1m\")")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", 5*time.Minute, "deadline for the whole session")

	fs.StringVar(&f.silent, "silent", "", "1: show output only on failure; 2: show only errors; 3: show nothing")
	fs.Lookup("silent").NoOptDefVal = "1"
	fs.BoolVar(&f.suppressData, "suppress-data", false, "do not show the message in the transcript")
	fs.StringVar(&f.showTimeLapse, "show-time-lapse", "", "prefix lines with the time since the start")
	fs.Lookup("show-time-lapse").NoOptDefVal = optionalUnset
	fs.BoolVar(&f.hideReceive, "hide-receive", false, "hide lines received")
	fs.BoolVar(&f.hideSend, "hide-send", false, "hide lines sent")
	fs.BoolVar(&f.hideInformational, "hide-informational", false, "hide informational lines")
	fs.BoolVar(&f.hideAll, "hide-all", false, "hide the whole transcript (the result is still shown)")
	fs.BoolVar(&f.noHints, "no-hints", false, "no direction markers at the start of transcript lines")
	fs.BoolVar(&f.noSendHints, "no-send-hints", false, "no marker on lines sent")
	fs.BoolVar(&f.noReceiveHints, "no-receive-hints", false, "no marker on lines received")
	fs.BoolVar(&f.noInfoHints, "no-info-hints", false, "no marker on information lines")
	fs.StringVar(&f.output, "output", "", "write the output to this file instead of standard output (swaks --output-file)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the session as JSON")
	fs.BoolVar(&f.markdown, "markdown", false, "print the ticket report (Markdown: verdict, diagnosis, environment, TLS, capabilities, timing, message, transcript)")
	fs.StringVar(&f.report, "report", "", "also write the ticket report (Markdown) to FILE (\"-\": standard output, after the rest)")
	fs.BoolVar(&f.jsonSchema, "json-schema", false, "print the JSON Schema of the session JSON and exit")
	fs.BoolVar(&f.noColor, "no-color", false, "no colour on a terminal (also when NO_COLOR is set; never coloured when not a terminal)")
	fs.StringVar(&f.compat, "compat", "", "swaks: every default is swaks's (no TLS unless asked, --tls-optional goes on on the same connection after a failed handshake, only the first MX); also when run as \"swaks\"")
	fs.BoolVar(&f.showSecrets, "show-secrets", false, "show passwords and AUTH payloads instead of "+"[redacted]")
	fs.BoolVar(&f.version, "version", false, "print the version")
	fs.BoolVar(&f.help, "help", false, "show this help")
	return fs
}

// attachList keeps --attach, --attach-type and --attach-name in command
// line order: as in swaks, a type or name applies to the next --attach,
// which separate string slices could not tell.
type attachList struct {
	items         []compose.Attachment
	pendingType   string
	pendingName   string
	pendingNoName bool
}

// attachFlag is the pflag.Value of one of the three options.
type attachFlag struct {
	list *attachList
	name string
}

func (a attachFlag) String() string { return "" }
func (a attachFlag) Type() string   { return "string" }
func (a attachFlag) Set(v string) error {
	l := a.list
	switch a.name {
	case "attach-type":
		l.pendingType = v
	case "attach-name":
		l.pendingName, l.pendingNoName = v, v == optionalUnset
		if l.pendingNoName {
			l.pendingName = ""
		}
	default:
		l.items = append(l.items, compose.Attachment{Path: v, ContentType: l.pendingType, Name: l.pendingName, NoName: l.pendingNoName})
		l.pendingType, l.pendingName, l.pendingNoName = "", "", false
	}
	return nil
}

// parseTimeout accepts swaks's forms: plain seconds ("30"), "30s", "1m", "1h".
func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return 30 * time.Second, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return 0, fmt.Errorf("--timeout %q: must be positive", v)
		}
		return d, nil
	}
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err == nil && fmt.Sprint(n) == v && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	return 0, fmt.Errorf("--timeout %q: want seconds or a duration like 30s or 1m", v)
}
