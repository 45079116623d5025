// Command probe is an SMTP test-send probe: it drives a real SMTP session
// against a recipient's MX or a submission server, records a timestamped
// transcript and explains where and why the server refused.
//
// This package only parses flags and wires packages together; the work is
// done in probe, smtpclient, transcript, diagnose and explain.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
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
	// swaks is set when the program was invoked under swaks's name (a
	// symlink, busybox style): every default is then swaks's.
	swaks bool
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first Ctrl-C ends the session cleanly (what was recorded is still
	// printed); restoring the default handling then lets a second one kill
	// a probe stuck where no context reaches, such as a terminal read.
	go func() {
		<-ctx.Done()
		stop()
	}()
	io := osStdio(ctx)
	io.swaks = invokedAsSwaks(os.Args[0])
	code := run(ctx, os.Args[1:], io)
	stop()
	os.Exit(code)
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
