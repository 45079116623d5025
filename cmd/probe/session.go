package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/compose"
	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/swaksargs"
	"github.com/smtpprobe/smtpprobe/transcript"
	"github.com/spf13/pflag"
)

const sessionUsage = `Usage: probe [options]              run an SMTP session (swaks options work unchanged)
       probe demo [SCENARIO|--list|--all]  probe the built-in scenario server
       probe explain [--phase P] [--json] [--summary] [TEXT...]
       probe relay-check [options]    check relay and AUTH settings
       probe dns DOMAIN [--ip IP]     check a domain's MX, SPF, DMARC, MTA-STS, TLS-RPT, DKIM, DNSBL

Examples:
  probe -t alice@example.org                       MX of example.org, port 25
  probe -s smtp.example.org -p 587 -au bob -t x@y.org   STARTTLS, AUTH, message
  probe -s smtp.example.org -p 465 -au bob --quit-after auth
  swaks -s smtp.example.org -t x@y.org             swaks's defaults (probe linked as swaks, or --compat swaks)
`

// swaksUsage heads the help under swaks's name: no subcommands there, and
// the defaults that differ from the probe's own.
const swaksUsage = `Usage: swaks [options]             smtpprobe with swaks's defaults (invoked as swaks)

Every default is swaks's: no TLS unless asked, --tls-optional goes on on the
same connection after a failed handshake, the most preferred MX only, HELO
after any EHLO refusal. Credentials still never go over a connection without
TLS unless --auth-plaintext is given. Diagnosis, --json and redaction work as
in probe.
`

// parseSession translates swaks spellings and parses the session flags.
func parseSession(name string, args []string, io stdio) (*sessionFlags, *pflag.FlagSet, error) {
	f := &sessionFlags{}
	fs := newSessionFlagSet(name, f)
	fs.SetOutput(io.err)
	fs.Usage = func() {}
	// SWAKS_OPT_* environment options come first, as in swaks, so the
	// command line overrides them.
	if io.environ != nil {
		args = append(swaksargs.EnvArgs(io.environ()), args...)
	}
	canon, err := translateArgs(args, fs, io)
	if err != nil {
		return nil, nil, err
	}
	if err := fs.Parse(canon); err != nil {
		return nil, nil, err
	}
	return f, fs, nil
}

func runSession(ctx context.Context, args []string, io stdio) int {
	f, fs, err := parseSession("probe", args, io)
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeHelp(io.out, usageFor(io), fs)
			return 0
		}
		return usageError(io, err)
	}
	io.noColor = io.noColor || f.noColor
	if f.help {
		writeHelp(io.out, usageFor(io), fs)
		return 0
	}
	if f.version {
		fmt.Fprintf(io.out, "%s %s\n", toolName, toolVersion)
		return 0
	}
	if f.jsonSchema {
		_, _ = io.out.Write(transcript.SessionSchema())
		return 0
	}
	if fs.NArg() > 0 {
		return usageError(io, fmt.Errorf("unexpected argument %q (options start with -)", fs.Arg(0)))
	}
	// Output paths are checked before anything can prompt (the password)
	// or connect.
	out, err := newOutput(f.output, io.out)
	if err != nil {
		return usageError(io, err)
	}
	var rep *output
	switch {
	case fs.Changed("report") && f.report == "":
		return usageError(io, errors.New("--report: give a file name, or - for standard output"))
	case f.report == "-" && (f.jsonOut || f.markdown):
		return usageError(io, errors.New("--report - puts the Markdown report on standard output: not with --json or --markdown (give --report a file)"))
	case f.report != "" && f.report != "-":
		if sameTarget(f.report, f.output) || sameTarget(f.report, f.tlsPeerCert) || sameTarget(f.output, f.tlsPeerCert) {
			return usageError(io, errors.New("--output, --report and --tls-get-peer-cert must name different files"))
		}
		if rep, err = newFileOutput("--report", f.report); err != nil {
			return usageError(io, err)
		}
	}
	opts, err := sessionOptions(f, fs, io)
	if err != nil {
		return usageError(io, err)
	}
	// Loaded only if something fails: a successful session never needs it.
	opts.Engine = &diagnose.Lazy{}
	opts.Command = redactArgv(append([]string{"probe"}, args...), opts.AuthPassword, f.showSecrets)
	v := outputMode(f)
	if v.format == "text" {
		out.colorize(io)
	}
	v.status = startStatus(io)
	report, code, err := session(ctx, opts, v, out.w)
	if err != nil {
		out.discard() // no empty or partial --output file for a usage error
		return usageError(io, err)
	}
	if report != nil && f.report != "" {
		// The ticket report: a file of its own, written whatever the
		// session's outcome (interrupted included), or after the rest on
		// standard output.
		write := ticket(report)
		if f.report == "-" {
			// After the rest, uncoloured: Markdown is never coloured.
			if err = out.commit(); err == nil {
				err = write(io.out)
			}
			out = &output{w: io.out}
		} else {
			err = rep.render(write)
		}
		if err != nil {
			fmt.Fprintln(io.err, io.errorText("probe: "+err.Error()))
			if code == 0 {
				code = 1
			}
		}
	}
	if err := out.commit(); err != nil {
		fmt.Fprintln(io.err, io.errorText("probe: "+err.Error()))
		if code == 0 {
			code = 1
		}
	}
	return code
}

// sameTarget reports whether two output options name one file (through
// links or relative paths too); the second written would replace the first.
func sameTarget(a, b string) bool {
	if a == "" || b == "" || a == "-" || b == "-" {
		return false
	}
	ra, errA := resolveTarget(a)
	rb, errB := resolveTarget(b)
	if errA != nil || errB != nil {
		return false
	}
	if fa, err := os.Stat(ra); err == nil {
		if fb, err := os.Stat(rb); err == nil {
			return os.SameFile(fa, fb)
		}
	}
	aa, _ := filepath.Abs(ra)
	ab, _ := filepath.Abs(rb)
	return aa == ab
}

// ticket renders the --report file of a session.
func ticket(report *transcript.Report) func(io.Writer) error {
	return func(w io.Writer) error {
		return transcript.WriteReport(w, report, transcript.TextOptions{Diagnosis: diagnose.WriteText})
	}
}

// view is how a session is shown.
type view struct {
	allMX         bool // --all-mx: the matrix instead of one session
	allMXParallel int
	format        string // text, json, markdown
	timestamps    bool
	silent        int // 0 normal, 1 only on failure, 2 only errors, 3 nothing
	hide          map[transcript.Direction]bool
	noMarkers     map[transcript.Direction]bool
	status        *statusLine // the live status on a terminal's stderr, or nil
}

func outputMode(f *sessionFlags) view {
	v := view{format: "text", timestamps: f.showTimeLapse != "", hide: map[transcript.Direction]bool{}, allMX: f.allMX, allMXParallel: f.allMXParallel}
	switch {
	case f.jsonOut:
		v.format = "json"
	case f.markdown:
		v.format = "markdown"
	}
	switch f.silent {
	case "":
		v.silent = 0
	case "2":
		v.silent = 2
	case "3":
		v.silent = 3
	default: // swaks turns any other level into 1
		v.silent = 1
	}
	if f.hideAll {
		v.hide[transcript.Info], v.hide[transcript.Send], v.hide[transcript.Recv] = true, true, true
	}
	if f.hideReceive {
		v.hide[transcript.Recv] = true
	}
	if f.hideSend {
		v.hide[transcript.Send] = true
	}
	if f.hideInformational {
		v.hide[transcript.Info] = true
	}
	v.noMarkers = map[transcript.Direction]bool{
		transcript.Send: f.noHints || f.noSendHints,
		transcript.Recv: f.noHints || f.noReceiveHints,
		transcript.Info: f.noHints || f.noInfoHints,
	}
	return v
}

// session runs one session and renders it; it returns the report and the
// exit code, or the usage error (or interruption) that kept the session
// from starting, for the caller to report.
func session(ctx context.Context, opts probe.Options, v view, w io.Writer) (*transcript.Report, int, error) {
	textOpts := transcript.TextOptions{Timestamps: v.timestamps, NoMarkers: v.noMarkers, Diagnosis: diagnose.WriteText}
	show := func(e transcript.Event) bool {
		if v.silent == 2 && e.Dir != transcript.Error && !e.Unexpected {
			return false
		}
		return !v.hide[e.Dir]
	}
	if v.format == "text" && v.silent == 0 {
		opts.Live = func(e transcript.Event) {
			if show(e) {
				_ = transcript.WriteEvent(w, e, textOpts)
			}
		}
	}
	opts.Live = v.status.wrap(opts.Live)
	var report *transcript.Report
	var err error
	if v.allMX {
		report, err = probe.RunAllMX(ctx, opts, v.allMXParallel)
	} else {
		report, err = probe.Run(ctx, opts)
	}
	v.status.close()
	if errors.Is(err, probe.ErrInterrupted) {
		report, err = interruptedReport(ctx, opts), nil
	}
	if err != nil {
		return nil, smtpclient.ExitUsage, err
	}
	markInterrupted(ctx, report)
	code := report.Result.ExitCode
	switch v.format {
	case "json":
		_ = transcript.WriteJSON(w, report)
	case "markdown":
		_ = transcript.WriteReport(w, report, textOpts)
	default:
		switch {
		case v.allMX && v.silent < 3 && (v.silent == 0 || code != 0):
			_ = transcript.WriteMatrix(w, report, transcript.MatrixOptions{TextOptions: textOpts})
		case v.allMX:
		case v.silent == 0:
			_ = transcript.WriteAnnotation(w, report, textOpts)
		case v.silent == 1:
			if code != 0 {
				_ = transcript.WriteText(w, report, textOpts)
			}
		case v.silent == 2:
			for _, e := range report.Events {
				if show(e) {
					_ = transcript.WriteEvent(w, e, textOpts)
				}
			}
			if code != 0 {
				_ = transcript.WriteAnnotation(w, report, textOpts)
			}
		}
		if report.Result.Interrupted && v.silent < 3 {
			_ = writeInterrupted(w, ctx, code)
		}
	}
	return report, code, nil
}

// sessionOptions turns flags into probe options.
func sessionOptions(f *sessionFlags, fs *pflag.FlagSet, io stdio) (probe.Options, error) {
	o := probe.Options{ToolName: toolName, ToolVersion: toolVersion, ShowSecrets: f.showSecrets, SessionTimeout: f.sessionTimeout}
	var err error
	if o.Timeout, err = parseTimeout(f.timeout); err != nil {
		return o, err
	}
	if f.sessionTimeout <= 0 {
		return o, fmt.Errorf("--session-timeout %s: must be positive", f.sessionTimeout)
	}
	o.To = splitList(f.to)
	cc, bcc := splitList(f.cc), splitList(f.bcc)
	for name, list := range map[string][]string{"--cc": cc, "--bcc": bcc} {
		for _, a := range list {
			if err := probe.ValidAddress(a); err != nil {
				return o, fmt.Errorf("%s %q: %w", name, a, err)
			}
		}
	}
	if len(o.To) == 0 {
		if io.isTerminal != nil && io.isTerminal() {
			t, err := io.prompter(nil)("to")
			if err != nil {
				return o, err
			}
			o.To = []string{strings.TrimSpace(t)}
		} else {
			return o, errors.New("no recipient: give --to ADDRESS")
		}
	}
	o.From = f.from
	if !fs.Changed("from") {
		o.From = defaultFrom()
	} else if o.From == "<>" {
		o.From = ""
	}
	o.Server, o.EHLO, o.DNSServer, o.LocalInterface, o.RoutingDomain = f.server, f.helo, f.dnsServer, f.localInterface, f.copyRouting
	o.CheckSender, o.DNSBLZones = f.checkSender, f.dnsbl
	if f.localPort != "" {
		if _, _, err := net.SplitHostPort(o.LocalInterface); err == nil && o.LocalInterface != "" {
			return o, errors.New("give the source port once: in --local-interface or with --local-port")
		}
		n, err := strconv.Atoi(f.localPort)
		if err != nil || n < 1 || n > 65535 {
			return o, fmt.Errorf("--local-port %q: want a number from 1 to 65535", f.localPort)
		}
		o.LocalInterface = net.JoinHostPort(strings.Trim(o.LocalInterface, "[]"), f.localPort)
	}
	if f.port != "" {
		if o.Port, err = parsePort(f.port); err != nil {
			return o, err
		}
	}
	switch {
	case f.ipv4 && f.ipv6:
		return o, errors.New("-4 and -6 exclude each other")
	case f.ipv4:
		o.Network = "tcp4"
	case f.ipv6:
		o.Network = "tcp6"
	}
	if err := applyProtocol(&o, f); err != nil {
		return o, err
	}
	if err := applyTLS(&o, f); err != nil {
		return o, err
	}
	switch strings.ToLower(f.compat) {
	case "":
		if io.swaks {
			applySwaksDefaults(&o)
		}
	case "swaks":
		applySwaksDefaults(&o)
	default:
		return o, fmt.Errorf("--compat %q: the only compatibility mode is swaks", f.compat)
	}
	if err := applyAuth(&o, f, fs, io); err != nil {
		return o, err
	}
	o.QuitAfter = strings.ToLower(f.quitAfter)
	o.DropAfter = strings.ToLower(f.dropAfter)
	if f.suppressData {
		o.BodyLines = -1
	}
	o.Message = compose.Options{
		Headers: f.headers, AddHeaders: f.addHeaders, Body: f.body, Data: f.data, Stdin: io.in,
		To: o.To, Cc: cc, Bcc: bcc, NoDataFixup: f.noDataFixup, NoStripFrom: f.noStripFrom,
	}
	// Cc and Bcc recipients get the message too: they go into the envelope.
	o.To = append(append(o.To, cc...), bcc...)
	for _, b := range f.attachBody {
		o.Message.AttachBody = append(o.Message.AttachBody, compose.Attachment{Path: b})
	}
	if fs.Changed("data") && f.data == "" {
		return o, errors.New("--data: empty message")
	}
	o.Message.Attach = f.attachments.items
	if err := applyDKIM(&o, f, fs); err != nil {
		return o, err
	}
	if fs.Changed("all-mx-parallel") && !f.allMX {
		return o, errors.New("--all-mx-parallel goes with --all-mx")
	}
	return o, nil
}

// applyDKIM loads the signing key before anything is sent: a file that is
// not a usable key is a usage error naming the file.
func applyDKIM(o *probe.Options, f *sessionFlags, fs *pflag.FlagSet) error {
	if f.dkimKey == "" {
		for _, n := range []string{"dkim-selector", "dkim-domain", "dkim-header"} {
			if fs.Changed(n) {
				return fmt.Errorf("--%s needs --dkim-key", n)
			}
		}
		return nil
	}
	if f.dkimSelector == "" {
		return errors.New("--dkim-key needs --dkim-selector (the s= of the DNS record SELECTOR._domainkey.DOMAIN)")
	}
	key, err := dkimsign.LoadKey(f.dkimKey)
	if err != nil {
		return fmt.Errorf("--dkim-key: %w", err)
	}
	o.Message.DKIM = &dkimsign.Options{Domain: f.dkimDomain, Selector: f.dkimSelector, Signer: key, Headers: f.dkimHeaders}
	if err := o.Message.DKIM.Validate(); err != nil {
		return fmt.Errorf("DKIM: %w", err)
	}
	o.DKIMKeyWarning = dkimsign.KeyWarning(key)
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, t := range strings.Split(v, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func parsePort(v string) (int, error) {
	var n int
	if _, err := fmt.Sscanf(v, "%d", &n); err != nil || fmt.Sprint(n) != v || n < 1 || n > 65535 {
		switch strings.ToLower(v) {
		case "smtp":
			return 25, nil
		case "submission":
			return 587, nil
		case "smtps", "submissions":
			return 465, nil
		case "lmtp":
			return 24, nil
		}
		return 0, fmt.Errorf("--port %q: want a number from 1 to 65535", v)
	}
	return n, nil
}

// applyProtocol maps swaks's --protocol names onto HELO/EHLO/LHLO, TLS and AUTH.
func applyProtocol(o *probe.Options, f *sessionFlags) error {
	if f.protocol == "" {
		return nil
	}
	p := strings.ToUpper(f.protocol)
	switch p {
	case "SMTP":
		o.Protocol = "smtp"
	case "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA", "SSMTP", "SSMTPA":
		o.Protocol = "esmtp"
	case "LMTP", "LMTPA", "LMTPS", "LMTPSA":
		o.Protocol = "lmtp"
	default:
		return fmt.Errorf("--protocol %q: want SMTP, ESMTP, ESMTPA, ESMTPS, ESMTPSA, SSMTP, SSMTPA, LMTP, LMTPA, LMTPS or LMTPSA", f.protocol)
	}
	if strings.HasPrefix(p, "SSMTP") {
		o.TLSMode, o.TLSModeSet = smtpclient.TLSImplicit, true
	} else if strings.HasSuffix(p, "S") || strings.HasSuffix(p, "SA") {
		o.TLSMode, o.TLSModeSet = smtpclient.TLSRequired, true
	} else if p == "SMTP" || p == "ESMTP" || p == "ESMTPA" || p == "LMTP" || p == "LMTPA" {
		o.TLSMode, o.TLSModeSet = smtpclient.TLSNone, true
	}
	if strings.HasSuffix(p, "A") {
		o.Auth = true
	}
	return nil
}

// applySwaksDefaults makes every default swaks's, for scripts that call
// the probe under swaks's name (or with --compat swaks) and expect swaks's
// exit codes: no TLS unless asked (the probe's own default picks TLS by
// port), --tls-optional going on on the same connection after a failed
// handshake, HELO after any EHLO refusal (after STARTTLS too), and only the
// first MX, as swaks's get_server picks one host.
// AUTH is only tried when advertised in both modes. One difference stays
// on purpose: credentials are not sent in clear without --auth-plaintext,
// where swaks sends them (exit 28 with the reason instead).
func applySwaksDefaults(o *probe.Options) {
	if !o.TLSModeSet {
		o.TLSMode, o.TLSModeSet = smtpclient.TLSNone, true
	}
	o.TLSFailSameConnection = true
	o.HELOAfterAnyEHLORefusal = true
	o.FirstMXOnly = true
}

func applyTLS(o *probe.Options, f *sessionFlags) error {
	n := 0
	for _, b := range []bool{f.tls, f.tlsOptional, f.tlsOptionalStrict, f.tlsOnConnect, f.noTLS} {
		if b {
			n++
		}
	}
	if n > 1 {
		return errors.New("choose one of --tls, --tls-optional, --tls-optional-strict, --tls-on-connect, --no-tls")
	}
	switch {
	case f.tls:
		o.TLSMode, o.TLSModeSet = smtpclient.TLSRequired, true
	case f.tlsOptional:
		o.TLSMode, o.TLSModeSet = smtpclient.TLSOptional, true
	case f.tlsOptionalStrict:
		o.TLSMode, o.TLSModeSet = smtpclient.TLSOptionalStrict, true
	case f.tlsOnConnect:
		o.TLSMode, o.TLSModeSet = smtpclient.TLSImplicit, true
	case f.noTLS:
		o.TLSMode, o.TLSModeSet = smtpclient.TLSNone, true
	}
	o.TLSVerify, o.TLSSNI, o.TLSCAFile = f.tlsVerify, f.tlsSNI, f.tlsCAPath
	o.TLSCertFile, o.TLSKeyFile, o.TLSChainFile = f.tlsCert, f.tlsKey, f.tlsChain
	if f.tlsProtocol != "" {
		if _, err := smtpclient.ParseTLSProtocol(f.tlsProtocol); err != nil {
			return err
		}
	}
	if f.tlsCipher != "" {
		if _, err := smtpclient.ParseTLSCipher(f.tlsCipher); err != nil {
			return err
		}
	}
	o.TLSProtocol, o.TLSCipher = f.tlsProtocol, f.tlsCipher
	for _, v := range []string{f.tlsPeerCert, f.tlsPeerChain} {
		switch v {
		case "":
		case optionalUnset:
			o.TLSShowPeerCert = true
		default:
			if o.TLSPeerCertFile != "" && o.TLSPeerCertFile != v {
				return errors.New("give one file to --tls-get-peer-cert and --tls-get-peer-chain")
			}
			if inPlace(v) {
				return fmt.Errorf("--tls-get-peer-cert %s: give a file (the chain is written atomically)", v)
			}
			if err := checkOutputPath(v); err != nil {
				return fmt.Errorf("--tls-get-peer-cert %s: %w", v, err)
			}
			if err := smtpclient.CheckWritableFile(v); err != nil {
				return fmt.Errorf("--tls-get-peer-cert: %w", err)
			}
			o.TLSPeerCertFile = v
		}
	}
	return nil
}

// applyAuth collects AUTH settings; -au/-ap imply --auth as in swaks, and
// the password can come from a file, the environment or a prompt so that it
// never has to be on the command line.
func applyAuth(o *probe.Options, f *sessionFlags, fs *pflag.FlagSet, io stdio) error {
	if fs.Changed("auth") || fs.Changed("auth-user") || fs.Changed("auth-password") || fs.Changed("auth-password-file") || fs.Changed("auth-password-env") {
		o.Auth = true
	}
	mechs := f.auth
	switch {
	case fs.Changed("auth-optional-strict"):
		o.Auth, o.AuthOptionalStrict, mechs = true, true, f.authOptionalStrict
	case fs.Changed("auth-optional"):
		o.Auth, o.AuthOptional, mechs = true, true, f.authOptional
	}
	if !o.Auth {
		return nil
	}
	if mechs != "" && mechs != optionalUnset {
		for _, m := range strings.Split(mechs, ",") {
			if m = strings.TrimSpace(m); m != "" {
				o.AuthMechs = append(o.AuthMechs, strings.ToUpper(m))
			}
		}
	}
	o.AuthPlaintext = f.authPlaintext
	ask := io.prompter(map[string]bool{"auth-password": true})
	o.AuthUser = f.authUser
	if o.AuthUser == optionalUnset || o.AuthUser == "" {
		u, err := ask("auth-user")
		if err != nil {
			return err
		}
		o.AuthUser = u
	}
	if strings.ContainsAny(o.AuthUser, "\r\n\x00") {
		return errors.New("--auth-user: contains CR, LF or NUL")
	}
	sources := 0
	switch {
	case f.authPasswordFile != "":
		sources++
		b, err := os.ReadFile(f.authPasswordFile)
		if err != nil {
			return fmt.Errorf("--auth-password-file: %w", err)
		}
		o.AuthPassword = strings.TrimRight(strings.SplitN(string(b), "\n", 2)[0], "\r")
	case f.authPasswordEnv != "":
		sources++
		v := io.getenv(f.authPasswordEnv)
		if v == "" {
			return fmt.Errorf("--auth-password-env: environment variable %s is empty or not set", f.authPasswordEnv)
		}
		o.AuthPassword = v
	}
	if fs.Changed("auth-password") && f.authPassword != optionalUnset {
		sources++
		o.AuthPassword = f.authPassword
	}
	if sources > 1 {
		return errors.New("give the password one way: --auth-password, --auth-password-file or --auth-password-env")
	}
	if sources == 0 {
		p, err := ask("auth-password")
		if err != nil {
			return err
		}
		o.AuthPassword = p
	}
	return nil
}

func defaultFrom() string {
	name := os.Getenv("LOGNAME")
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "probe"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost.localdomain"
	}
	return name + "@" + host
}

// usageFor is the session help's head: the probe's, or swaks's under its
// name.
func usageFor(io stdio) string {
	if io.swaks {
		return swaksUsage
	}
	return sessionUsage
}

// writeHelp prints a subcommand's help in the one layout every subcommand
// shares: its usage text, "Options:", then one line per flag.
func writeHelp(w io.Writer, usage string, fs *pflag.FlagSet) {
	fmt.Fprint(w, strings.TrimRight(usage, "\n")+"\n\nOptions:\n"+fsUsages(fs))
}

// fsUsages lists the flags with their swaks short forms; pflag's own
// listing would show the internal marker of optional values (a NUL byte).
func fsUsages(fs *pflag.FlagSet) string {
	if fs == nil {
		return ""
	}
	var b strings.Builder
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "--" + f.Name
		if f.Shorthand != "" {
			name = "-" + f.Shorthand + ", " + name
		} else if o, ok := swaksargs.Lookup(f.Name); ok {
			short := ""
			for _, a := range o.Aliases {
				if short == "" || len(a) < len(short) {
					short = a
				}
			}
			if short != "" && len(short) < len(f.Name) {
				name = "-" + short + ", " + name
			}
		}
		switch {
		case f.Value.Type() == "bool":
		case f.NoOptDefVal != "":
			name += "[=VALUE]"
		default:
			name += " VALUE"
		}
		usage := f.Usage
		if f.DefValue != "" && f.Value.Type() != "bool" && f.DefValue != "[]" {
			usage += " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(&b, "  %-32s %s\n", name, usage)
	})
	return b.String()
}

func usageError(io stdio, err error) int {
	if errors.Is(err, errInterrupted) {
		fmt.Fprintln(io.err, io.errorText("probe: interrupted"))
		return smtpclient.ExitInterrupted // 143 for SIGTERM, in main
	}
	fmt.Fprintln(io.err, io.errorText("probe: "+err.Error()))
	fmt.Fprintln(io.err, "Run 'probe --help' for usage.")
	return smtpclient.ExitUsage
}
