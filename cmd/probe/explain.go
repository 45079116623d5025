package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/explain"
	"github.com/spf13/pflag"
)

const explainUsage = `Usage: probe explain [--phase PHASE] [--json] [--summary] [TEXT...]

Explains an SMTP reply given as arguments (a multi-line reply as its lines),
or every reply, DSN bounce and MTA log line (Postfix, Exim, Sendmail,
Exchange) found on standard input.

`

func runExplain(ctx context.Context, args []string, io stdio) int {
	fs := pflag.NewFlagSet("probe explain", pflag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {}
	var opts explain.Options
	fs.StringVar(&opts.Phase, "phase", "", "phase the reply answered: connect, banner, helo, starttls, auth, mail, rcpt, data, end-of-data, quit, any")
	fs.BoolVar(&opts.JSON, "json", false, "JSON output (JSON Lines for several findings)")
	fs.BoolVar(&opts.Summary, "summary", false, "aggregate a whole mail log by category, party and remote host")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeHelp(io.out, explainUsage, fs)
			return 0
		}
		return usageError(io, err)
	}
	engine, err := diagnose.New()
	if err != nil {
		fmt.Fprintf(io.err, "probe: loading the diagnosis rules: %v\n", err)
		return 1
	}
	opts.Diagnoser = engine
	opts.WriteText = diagnose.WriteText
	return explain.Run(ctx, opts, fs.Args(), io.in, io.out, io.err)
}
