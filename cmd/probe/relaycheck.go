package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/relaycheck"
	"github.com/spf13/pflag"
)

const relayCheckUsage = `Usage: probe relay-check -s HOST[:PORT] [options]

Runs short SMTP sessions against one server and prints a verdict for each
check: open relay (plain and the classic tricks), local delivery, STARTTLS,
AUTH before TLS, AUTH mechanisms, valid and invalid credentials, relaying
after AUTH and sender spoofing after AUTH. Every session stops after RCPT:
no message is sent unless --send is given. Exit 0 when no check failed,
3 when one did, 2 when the server could not be reached, 1 on usage errors.

Examples:
  probe relay-check -s mx.example.org --to postmaster@example.org
  probe relay-check -s smtp.example.org -p 587 -au bob@example.org --auth-password-env SMTP_PW
  probe relay-check -s smtp.example.org -p 465 -au bob --auth-password-file ~/.pw --json
`

// relayCheckFlags are the options relay-check adds to the session flags.
type relayCheckFlags struct {
	foreign, foreignFrom, spoofFrom, domain, role string
	send, noBadPassword                           bool
	checkTimeout, runTimeout, reconnectDelay      time.Duration
	verbose, transcripts                          bool
}

// placeholderTo stands in for --to while the session flags are turned into
// options: sessionOptions insists on a recipient (or prompts for one), but
// relay-check derives its local recipient itself when none is given.
const placeholderTo = "postmaster@relay-check.invalid"

// notForRelayCheck are session options that relay-check refuses: it
// decides where each session stops and how it is shown, and it never runs
// as swaks.
var notForRelayCheck = []string{"quit-after", "drop-after", "markdown", "silent", "hide-receive", "hide-send", "hide-informational", "hide-all", "session-timeout", "compat", "check-sender", "dnsbl", "all-mx", "all-mx-parallel", "dkim-key", "dkim-selector", "dkim-domain", "dkim-header", "report"}

func runRelayCheck(ctx context.Context, args []string, io stdio) int {
	f := &sessionFlags{}
	fs := newSessionFlagSet("probe relay-check", f)
	fs.SetOutput(io.err)
	fs.Usage = func() {}
	var rf relayCheckFlags
	fs.StringVar(&rf.foreign, "foreign", relaycheck.DefaultForeign, "an outside recipient for the relay checks")
	fs.StringVar(&rf.foreignFrom, "foreign-from", relaycheck.DefaultForeignSender, "an outside sender for the unauthenticated checks")
	fs.StringVar(&rf.spoofFrom, "spoof-from", relaycheck.DefaultSpoofSender, "a sender of another domain for sender-mismatch")
	fs.StringVar(&rf.domain, "domain", "", "the server's own mail domain (default: the domain of --to, else guessed from the host name)")
	fs.StringVar(&rf.role, "role", "auto", "what the port is for: mx, submission, or auto (587 and 465 are submission)")
	fs.BoolVar(&rf.send, "send", false, "complete each accepted transaction with a short test message")
	fs.BoolVar(&rf.noBadPassword, "no-bad-password", false, "skip the wrong-password check (it can trip fail2ban)")
	fs.DurationVar(&rf.checkTimeout, "check-timeout", relaycheck.DefaultCheckTimeout, "bound on each session")
	fs.DurationVar(&rf.runTimeout, "run-timeout", relaycheck.DefaultRunTimeout, "bound on the whole run")
	fs.DurationVar(&rf.reconnectDelay, "reconnect-delay", relaycheck.DefaultReconnectDelay, "pause before a new session after the server ended one (421 or a closed connection)")
	fs.BoolVarP(&rf.verbose, "verbose", "v", false, "show the diagnosis's next steps and every session's transcript")
	fs.BoolVar(&rf.transcripts, "transcripts", false, "show every session's transcript after the table")
	fs.Lookup("to").Usage = "a local recipient of the server (default: postmaster@DOMAIN)"
	fs.Lookup("from").Usage = "MAIL FROM for the authenticated checks (default: the AUTH user when it is an address)"

	for _, n := range notForRelayCheck {
		fs.Lookup(n).Hidden = true // parsed (to say why it is refused), not listed
	}
	canon, err := translateArgs(args, fs, io)
	if err == nil {
		err = fs.Parse(canon)
	}
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeHelp(io.out, relayCheckUsage, fs)
			return 0
		}
		return usageError(io, err)
	}
	if f.help {
		writeHelp(io.out, relayCheckUsage, fs)
		return 0
	}
	if f.version {
		fmt.Fprintf(io.out, "%s %s\n", toolName, toolVersion)
		return 0
	}
	if fs.NArg() > 0 {
		return usageError(io, fmt.Errorf("unexpected argument %q (options start with -)", fs.Arg(0)))
	}
	io.noColor = io.noColor || f.noColor
	if f.jsonSchema {
		_, _ = io.out.Write(relaycheck.Schema())
		return 0
	}
	for _, n := range notForRelayCheck {
		if fs.Changed(n) {
			return usageError(io, fmt.Errorf("--%s does not apply to relay-check (it decides where each session stops; see --check-timeout, --json, --transcripts)", n))
		}
	}
	if rf.checkTimeout <= 0 || rf.runTimeout <= 0 {
		return usageError(io, errors.New("--check-timeout and --run-timeout must be positive"))
	}
	if rf.reconnectDelay < 0 || rf.reconnectDelay > rf.runTimeout {
		return usageError(io, fmt.Errorf("--reconnect-delay %s: want 0 or more, and less than --run-timeout", rf.reconnectDelay))
	}
	role, err := relaycheck.ParseRole(rf.role)
	if err != nil {
		return usageError(io, fmt.Errorf("--role: %w", err))
	}
	toGiven := fs.Changed("to")
	if !toGiven {
		f.to = placeholderTo
	}
	opts, err := sessionOptions(f, fs, io)
	if err != nil {
		return usageError(io, err)
	}
	local := ""
	if toGiven {
		if len(opts.To) != 1 {
			return usageError(io, errors.New("--to: give one local recipient"))
		}
		local = opts.To[0]
	}
	sender := ""
	if fs.Changed("from") {
		sender = f.from
		if sender == "" {
			sender = "<>"
		}
	}
	opts.From, opts.To = "", nil
	engine, err := diagnose.New()
	if err != nil {
		fmt.Fprintf(io.err, "probe: loading the diagnosis rules: %v\n", err)
		return 1
	}
	opts.Engine = engine
	opts.Command = redactArgv(append([]string{"probe", "relay-check"}, args...), opts.AuthPassword, f.showSecrets)
	checker, err := relaycheck.New(relaycheck.Options{
		Session: opts, Role: role, Domain: rf.domain, Local: local, Sender: sender,
		Foreign: rf.foreign, ForeignSender: rf.foreignFrom, SpoofSender: rf.spoofFrom,
		Send: rf.send, NoBadPassword: rf.noBadPassword, CheckTimeout: rf.checkTimeout, RunTimeout: rf.runTimeout, ReconnectDelay: rf.reconnectDelay,
	})
	if err != nil {
		return usageError(io, err)
	}
	out, err := newOutput(f.output, io.out)
	if err != nil {
		return usageError(io, err)
	}
	if !f.jsonOut {
		out.colorizeWith(io, relayCheckColor)
	}
	textOpts := relaycheck.TextOptions{Verbose: rf.verbose, Transcripts: rf.transcripts || rf.verbose, Timestamps: f.showTimeLapse != ""}
	var progress func(relaycheck.Check)
	if !f.jsonOut {
		// Rows appear as each check is decided: a run against a slow
		// server takes a while and the user should see it move.
		_ = relaycheck.WriteHeader(out.w, checker.Target())
		progress = func(c relaycheck.Check) { _ = relaycheck.WriteCheck(out.w, c, textOpts) }
	}
	report := checker.Run(ctx, progress)
	if report.Interrupted {
		// DESIGN.md: an interrupted run exits 130 (143 for SIGTERM),
		// whatever the checks decided before the signal.
		report.ExitCode = interruptExit(ctx)
	}
	if f.jsonOut {
		err = relaycheck.WriteJSON(out.w, report)
	} else {
		err = relaycheck.WriteSummary(out.w, report, textOpts)
	}
	if cerr := out.commit(); err == nil {
		err = cerr
	}
	if err != nil {
		fmt.Fprintln(io.err, io.errorText("probe: "+err.Error()))
		if report.ExitCode == 0 {
			return 1
		}
	}
	return report.ExitCode
}
