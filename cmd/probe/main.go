// Command probe is an SMTP test-send probe: it drives a real SMTP session
// against a recipient's MX or a submission server, records a timestamped
// transcript and explains where and why the server refused.
//
// This package only parses flags and wires packages together; the work is
// done in probe, smtpclient, transcript, diagnose and explain.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

const (
	toolName    = "smtpprobe"
	toolVersion = "0.1.0"
)

// stdio is the process's standard streams, replaceable in tests.
type stdio struct {
	in       io.Reader
	out, err io.Writer
	// isTerminal reports whether stdin is a terminal (prompts are only
	// allowed there).
	isTerminal func() bool
	// readPassword reads a line without echo from the terminal.
	readPassword func() (string, error)
	getenv       func(string) string
	environ      func() []string
	// outTerminal and errTerminal report whether stdout and stderr are
	// terminals: colour and the live status line are only for them
	// (nil: not a terminal, as in tests).
	outTerminal, errTerminal func() bool
	// noColor is --no-color, seen before the options are parsed so that
	// a usage error is not coloured either.
	noColor bool
	// swaks is set when the program was invoked under swaks's name (a
	// symlink, busybox style): every default is then swaks's.
	swaks bool
}

func main() {
	ctx, stop := interruptContext(context.Background())
	io := osStdio(ctx)
	io.swaks = invokedAsSwaks(os.Args[0])
	code := run(ctx, os.Args[1:], io)
	stop()
	os.Exit(exitForInterrupt(ctx, code))
}

// interruptContext is cancelled by the first SIGINT or SIGTERM, with the
// signal as its cause (context.Cause): an interrupted run exits 130 for
// SIGINT and 143 for SIGTERM (DESIGN.md), and its outputs say which. The
// first signal ends the session cleanly (what was recorded is still
// written); the default handling is then restored, so a second one kills
// a probe stuck where no context reaches, such as a terminal read.
func interruptContext(parent context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-ch:
			signal.Stop(ch)
			cancel(interruptSignal{sig})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// interruptSignal is the cause of a context cancelled by a signal.
type interruptSignal struct{ sig os.Signal }

func (s interruptSignal) Error() string { return "interrupted by " + signalName(s.sig) }

func signalName(sig os.Signal) string {
	if sig == syscall.SIGTERM {
		return "SIGTERM"
	}
	return "SIGINT"
}

// interruptedBy is the signal that interrupted ctx, or nil.
func interruptedBy(ctx context.Context) os.Signal {
	var s interruptSignal
	if errors.As(context.Cause(ctx), &s) {
		return s.sig
	}
	return nil
}

// interruptExit is the exit code of an interrupted run: 143 (128+15) for
// SIGTERM, else 130 (128+2, also for a test's plain cancellation).
func interruptExit(ctx context.Context) int {
	if interruptedBy(ctx) == syscall.SIGTERM {
		return exitTerminated
	}
	return smtpclient.ExitInterrupted
}

// exitTerminated is the exit code of a run ended by SIGTERM.
const exitTerminated = 143

// exitForInterrupt turns the 130 that the packages use for any
// interruption into 143 when SIGTERM was the cause.
func exitForInterrupt(ctx context.Context, code int) int {
	if code == smtpclient.ExitInterrupted {
		return interruptExit(ctx)
	}
	return code
}

// invokedAsSwaks reports whether argv0 names swaks ("swaks", a path to it,
// or "swaks.exe").
func invokedAsSwaks(argv0 string) bool {
	base := strings.ToLower(filepath.Base(argv0))
	return strings.TrimSuffix(base, ".exe") == "swaks"
}

// run is the whole CLI; tests call it directly.
func run(ctx context.Context, args []string, io stdio) int {
	// swaks has no subcommands: under its name every argument is an
	// option, as swaks would read it.
	io.noColor = io.noColor || wantsNoColor(args)
	if len(args) > 0 && !io.swaks {
		switch args[0] {
		case "demo":
			return runDemo(ctx, args[1:], io)
		case "explain":
			return runExplain(ctx, args[1:], io)
		case "relay-check":
			return runRelayCheck(ctx, args[1:], io)
		case "dns":
			return runDNS(ctx, args[1:], io)
		case "help":
			return runSession(ctx, []string{"--help"}, io)
		case "version":
			fmt.Fprintf(io.out, "%s %s\n", toolName, toolVersion)
			return 0
		}
	}
	return runSession(ctx, args, io)
}

// markInterrupted makes a report of an interrupted run say so everywhere:
// result.interrupted, the exit code of the signal (130, 143 for SIGTERM)
// and its meaning. A session that had succeeded before the signal (the
// sender checks were still running) is no success of the run.
func markInterrupted(ctx context.Context, r *transcript.Report) {
	res := &r.Result
	if !res.Interrupted && res.ExitCode != smtpclient.ExitInterrupted {
		return
	}
	by := "SIGINT"
	if sig := interruptedBy(ctx); sig != nil {
		by = signalName(sig)
	}
	res.Interrupted, res.OK = true, false
	res.ExitCode = interruptExit(ctx)
	res.ExitMeaning = "interrupted by " + by
	if res.Error == "" {
		res.Error = "interrupted by " + by
		if res.Phase != "" {
			res.Error += " after " + res.Phase
		}
	} else if !strings.Contains(res.Error, by) {
		res.Error += " (" + by + ")"
	}
}

// interruptedReport is the report of a run interrupted before its session
// started (while the message was read): there is no transcript, but the
// outputs are still written, complete, and say that the run was
// interrupted.
func interruptedReport(ctx context.Context, o probe.Options) *transcript.Report {
	// The target as the session would have used it.
	host, port, mode, err := probe.Endpoint(o)
	if err != nil {
		host, port, mode = o.Server, o.Port, o.TLSMode
	}
	source := "server"
	if host == "" {
		source = "mx"
	}
	return &transcript.Report{
		Version:   transcript.SchemaVersion,
		Tool:      transcript.Tool{Name: o.ToolName, Version: o.ToolVersion},
		Command:   o.Command,
		StartedAt: time.Now().UTC(),
		Target:    transcript.Target{Host: host, Port: port, TLSMode: mode.String(), Source: source},
		Result: transcript.Result{
			ExitCode: smtpclient.ExitInterrupted, Phase: smtpclient.PhaseConnect, Interrupted: true,
			Error: "interrupted before the session started, while the message was read: nothing was sent",
		},
	}
}

// writeInterrupted is the last line of an interrupted run's text.
func writeInterrupted(w io.Writer, ctx context.Context, code int) error {
	by := "SIGINT"
	if sig := interruptedBy(ctx); sig != nil {
		by = signalName(sig)
	}
	_, err := fmt.Fprintf(w, "\n*** Interrupted by %s (exit %d): the session was stopped; what was recorded until then is above\n", by, code)
	return err
}
