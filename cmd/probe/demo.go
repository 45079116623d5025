package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/examples/scenario"
	"github.com/smtpprobe/smtpprobe/transcript"
	"github.com/spf13/pflag"
)

// defaultScenario is what `probe demo` shows with no argument: a full
// session (STARTTLS, MAIL) refused with the classic 554 at RCPT.
const defaultScenario = "relay-denied"

// exitCheckFailed is the exit code when a demo scenario or a relay check
// did not come out as expected.
const exitCheckFailed = 3

const demoUsage = `Usage: probe demo [SCENARIO] [--list] [--all] [--json|--markdown] [-stl]

Starts the built-in scenario server on a random loopback port, probes it and
prints the annotated transcript. Exit 0 when the scenario behaved as declared
(a demo of a rejection is a successful demo), 3 when it did not.
Default scenario: ` + defaultScenario + "\n\n"

func runDemo(ctx context.Context, args []string, io stdio) int {
	fs := pflag.NewFlagSet("probe demo", pflag.ContinueOnError)
	fs.SetOutput(io.err)
	fs.Usage = func() {}
	list := fs.Bool("list", false, "list the scenarios")
	all := fs.Bool("all", false, "run every scenario")
	jsonOut := fs.Bool("json", false, "print each session as JSON")
	markdown := fs.Bool("markdown", false, "print each session as Markdown")
	stl := fs.Bool("show-time-lapse", false, "prefix lines with the time since the start")
	fs.BoolVar(stl, "stl", false, "same as --show-time-lapse")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			writeHelp(io.out, demoUsage, fs)
			return 0
		}
		return usageError(io, err)
	}
	if *list {
		for _, s := range scenario.All() {
			fmt.Fprintf(io.out, "%-24s %s\n", s.Name, s.Title)
		}
		return 0
	}
	names := fs.Args()
	switch {
	case *all && len(names) > 0:
		return usageError(io, errors.New("demo: give a scenario name or --all, not both"))
	case *all:
		names = nil
		for _, s := range scenario.All() {
			names = append(names, s.Name)
		}
	case len(names) == 0:
		names = []string{defaultScenario}
	case len(names) > 1:
		return usageError(io, fmt.Errorf("demo: one scenario at a time (got %s); use --all for every one", strings.Join(names, ", ")))
	}
	for _, n := range names {
		if _, ok := scenario.Lookup(n); !ok {
			return usageError(io, fmt.Errorf("demo: no scenario %q (probe demo --list shows them)", n))
		}
	}
	engine, err := diagnose.New()
	if err != nil {
		fmt.Fprintf(io.err, "probe: loading the diagnosis rules: %v\n", err)
		return 1
	}
	v := view{format: "text", timestamps: *stl, hide: map[transcript.Direction]bool{}}
	switch {
	case *jsonOut:
		v.format = "json"
	case *markdown:
		v.format = "markdown"
	}
	failed := 0
	for i, n := range names {
		if i > 0 && v.format != "json" {
			fmt.Fprintln(io.out)
		}
		ok, err := demoOne(ctx, n, engine, v, io)
		if err != nil {
			fmt.Fprintf(io.err, "probe: demo %s: %v\n", n, err)
			return 1
		}
		if !ok {
			failed++
		}
		if ctx.Err() != nil {
			break
		}
	}
	if len(names) > 1 && v.format != "json" {
		fmt.Fprintf(io.out, "\n=== demo: %d of %d scenarios behaved as declared\n", len(names)-failed, len(names))
	}
	if failed > 0 {
		return exitCheckFailed
	}
	return 0
}

// demoOne runs one scenario through the same code path as a real session.
func demoOne(ctx context.Context, name string, engine *diagnose.Engine, v view, sio stdio) (bool, error) {
	srv, err := scenario.Start(ctx, name, scenario.Options{})
	if err != nil {
		return false, err
	}
	defer srv.Close()
	sc := srv.Scenario
	args := append([]string{"--server=" + srv.Addr}, sc.Args...)
	if !hasFlag(sc.Args, "--to") {
		args = append(args, "--to=alice@example.test")
	}
	if !hasFlag(sc.Args, "--from") {
		args = append(args, "--from=probe@client.example")
	}
	if !hasFlag(sc.Args, "--helo") {
		args = append(args, "--helo=client.example")
	}
	if !hasFlag(sc.Args, "--timeout") {
		args = append(args, "--timeout=5s")
	}
	f, fs, err := parseSession("probe demo", args, stdio{in: bytes.NewReader(nil), out: sio.out, err: sio.err})
	if err != nil {
		return false, fmt.Errorf("scenario arguments: %w", err)
	}
	opts, err := sessionOptions(f, fs, stdio{in: bytes.NewReader(nil), getenv: func(string) string { return "" }})
	if err != nil {
		return false, fmt.Errorf("scenario arguments: %w", err)
	}
	opts.Engine = engine
	opts.Command = redactArgv(append([]string{"probe"}, args...), opts.AuthPassword, false)
	if srv.Certificate != nil {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate)
		opts.TLSConfig = tlsWithRoots(pool)
	}
	if v.format == "text" {
		fmt.Fprintf(sio.out, "=== demo scenario %s: %s\n", sc.Name, sc.Title)
	}
	var out io.Writer = sio.out
	var captured bytes.Buffer
	if v.format == "json" {
		out = &captured
	}
	report, code, err := session(ctx, opts, v, out)
	if err != nil {
		return false, err
	}
	if v.format == "json" {
		_, _ = sio.out.Write(captured.Bytes())
	}
	problems := demoMismatches(sc, report, code)
	if v.format == "text" {
		if len(problems) == 0 {
			fmt.Fprintf(sio.out, "\n=== demo: scenario %s behaved as declared (exit %d at %s)\n", sc.Name, code, report.Result.Phase)
		} else {
			fmt.Fprintf(sio.out, "\n*** demo: scenario %s did not behave as declared: %s\n", sc.Name, strings.Join(problems, "; "))
		}
	}
	return len(problems) == 0, nil
}

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// demoMismatches compares what happened with what the scenario declares.
func demoMismatches(sc scenario.Scenario, r *transcript.Report, code int) []string {
	var p []string
	if code != sc.ExpectExit {
		p = append(p, fmt.Sprintf("exit %d, expected %d", code, sc.ExpectExit))
	}
	if r == nil {
		return append(p, "no report")
	}
	if sc.ExpectExit != 0 && r.Result.Phase != sc.ExpectPhase {
		p = append(p, fmt.Sprintf("failed at %q, expected %q", r.Result.Phase, sc.ExpectPhase))
	}
	got := 0
	if r.Result.Reply != nil {
		got = r.Result.Reply.Code
	}
	if sc.ExpectExit != 0 && got != sc.ExpectCode {
		p = append(p, fmt.Sprintf("reply code %d, expected %d", got, sc.ExpectCode))
	}
	if sc.ExpectCategory != "" {
		cat := ""
		if r.Diagnosis != nil {
			cat = r.Diagnosis.Category
		}
		if cat != sc.ExpectCategory {
			p = append(p, fmt.Sprintf("category %q, expected %q", cat, sc.ExpectCategory))
		}
	}
	return p
}

func tlsWithRoots(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool}
}
