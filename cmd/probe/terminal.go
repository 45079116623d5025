package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
	"golang.org/x/term"
)

func osStdio(ctx context.Context) stdio {
	fd := int(os.Stdin.Fd())
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		isTerminal: func() bool { return term.IsTerminal(fd) },
		readPassword: func() (string, error) {
			// ReadPassword turns echo off until it returns; on Ctrl-C it
			// would not return, so the terminal is restored here.
			state, err := term.GetState(fd)
			if err != nil {
				return "", err
			}
			type answer struct {
				b   []byte
				err error
			}
			ch := make(chan answer, 1)
			go func() {
				b, err := term.ReadPassword(fd)
				ch <- answer{b, err}
			}()
			select {
			case a := <-ch:
				fmt.Fprintln(os.Stderr)
				return string(a.b), a.err
			case <-ctx.Done():
				_ = term.Restore(fd, state)
				fmt.Fprintln(os.Stderr)
				return "", errInterrupted
			}
		},
		getenv:      os.Getenv,
		environ:     os.Environ,
		outTerminal: func() bool { return term.IsTerminal(int(os.Stdout.Fd())) },
		errTerminal: func() bool { return term.IsTerminal(int(os.Stderr.Fd())) },
	}
}

// colorOn reports whether colour may be used on a stream: only a
// terminal, never with --no-color, NO_COLOR set to anything (no-color.org)
// or TERM=dumb.
func (io stdio) colorOn(isTerminal func() bool) bool {
	if io.noColor || isTerminal == nil || !isTerminal() {
		return false
	}
	if io.getenv != nil && (io.getenv("NO_COLOR") != "" || io.getenv("TERM") == "dumb") {
		return false
	}
	return true
}

// errorText colours a message for standard error when it is a terminal.
func (io stdio) errorText(s string) string {
	if io.colorOn(io.errTerminal) {
		return transcript.ColorError(s)
	}
	return s
}

// wantsNoColor finds --no-color before the options are parsed, so that a
// usage error is plain too.
func wantsNoColor(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "--no-color", "-no-color", "--no-color=true", "--no-color=1":
			return true
		}
	}
	return false
}

// statusLine is the one-line "waiting for ..." shown on a terminal's
// standard error while a step takes longer than a second; it is erased
// (spaces, no escape sequence) as soon as the next event arrives, before
// that event is written. The last event tells what the probe waits for.
type statusLine struct {
	mu    sync.Mutex
	w     io.Writer
	now   func() time.Time
	last  time.Time // when the last event came
	host  string    // the server, from "Trying ..." and "Connected to ..."
	what  string    // what is awaited, "" when nothing is
	shown int       // width of the line on screen, 0 when none
	text  string
	stop  chan struct{}
	done  chan struct{}
}

// statusAfter is how long a step runs before its status is shown.
const statusAfter = time.Second

// startStatus starts the status line, or returns nil when standard error
// is not a terminal (a pipe, a file, a test).
func startStatus(io stdio) *statusLine {
	if io.errTerminal == nil || !io.errTerminal() {
		return nil
	}
	s := &statusLine{w: io.err, now: time.Now, stop: make(chan struct{}), done: make(chan struct{})}
	s.last = s.now()
	go s.loop(250 * time.Millisecond)
	return s
}

func (s *statusLine) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.tick()
		}
	}
}

// tick draws the status when the current step has run long enough.
func (s *statusLine) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	wait := s.now().Sub(s.last)
	if s.what == "" || wait < statusAfter {
		return
	}
	text := fmt.Sprintf("%s (%d s)", s.what, int(wait.Seconds()))
	if r := []rune(text); len(r) > 78 {
		text = string(r[:77]) + "…"
	}
	if text == s.text {
		return
	}
	pad := ""
	if n := s.shown - len([]rune(text)); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(s.w, "\r%s%s\r%s", text, pad, text)
	s.text, s.shown = text, len([]rune(text))
}

// event erases the status and notes what the new event leaves awaited.
func (s *statusLine) event(e transcript.Event) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clear()
	s.last = s.now()
	s.what = s.waitingFor(e)
}

func (s *statusLine) clear() {
	if s.shown > 0 {
		fmt.Fprintf(s.w, "\r%s\r", strings.Repeat(" ", s.shown))
		s.shown, s.text = 0, ""
	}
}

// wrap returns a Live sink that feeds the status, then live (which may
// be nil); with no status it returns live itself.
func (s *statusLine) wrap(live func(transcript.Event)) func(transcript.Event) {
	if s == nil {
		return live
	}
	return func(e transcript.Event) {
		s.event(e)
		if live != nil {
			live(e)
		}
	}
}

// close stops the status and erases it.
func (s *statusLine) close() {
	if s == nil {
		return
	}
	close(s.stop)
	<-s.done
	s.mu.Lock()
	s.clear()
	s.mu.Unlock()
}

// waitingFor says what the probe waits for after event e.
func (s *statusLine) waitingFor(e transcript.Event) string {
	text := transcript.Escape(e.Text)
	from := ""
	if s.host != "" {
		from = " from " + s.host
	}
	switch e.Dir {
	case transcript.Info:
		switch {
		case strings.HasPrefix(text, "Trying "):
			// "Trying 192.0.2.1:25 (mx1.example.org)..."
			if i, j := strings.LastIndex(text, "("), strings.LastIndex(text, ")"); i > 0 && j > i {
				s.host = text[i+1 : j]
			}
			return "connecting to " + strings.TrimSuffix(strings.TrimPrefix(text, "Trying "), "...")
		case strings.HasPrefix(text, "Connected to "):
			if f := strings.Fields(strings.TrimPrefix(text, "Connected to ")); len(f) > 0 {
				s.host = f[0]
				from = " from " + s.host
			}
			return "waiting for banner" + from
		case strings.HasPrefix(text, "Looking up MX records of "):
			return "looking up the MX records of " + strings.TrimSuffix(strings.TrimPrefix(text, "Looking up MX records of "), "...")
		case strings.HasPrefix(text, "Starting TLS handshake"):
			return "TLS handshake with " + orServer(s.host)
		}
		return "working"
	case transcript.Send:
		if text == "." {
			return "waiting for the reply after the final dot" + from
		}
		verb := text
		if f := strings.Fields(text); len(f) > 0 {
			verb = strings.ToUpper(f[0])
		}
		switch verb {
		case "MAIL", "RCPT":
			verb = strings.ToUpper(strings.SplitN(text, ":", 2)[0])
		case "EHLO", "HELO", "LHLO", "STARTTLS", "AUTH", "DATA", "QUIT", "RSET", "NOOP", "BDAT":
		default:
			verb = "the last line sent"
		}
		return "waiting for the reply to " + verb + from
	case transcript.Recv:
		if len(text) > 3 && text[3] == '-' {
			return "waiting for the rest of the reply" + from
		}
		return "working after the reply" + from
	}
	return "finishing"
}

func orServer(h string) string {
	if h == "" {
		return "the server"
	}
	return h
}

// errInterrupted ends a prompt on Ctrl-C (exit 130, not a usage error).
var errInterrupted = errors.New("interrupted")

// prompter asks for a missing option value, but only on a terminal: swaks
// prompts forever on a closed stdin, a script deserves a usage error.
func (io stdio) prompter(sensitive map[string]bool) func(option string) (string, error) {
	return func(option string) (string, error) {
		if io.isTerminal == nil || !io.isTerminal() {
			return "", fmt.Errorf("--%s needs a value (prompting only works on a terminal)", option)
		}
		fmt.Fprintf(io.err, "%s: ", promptLabel(option))
		if sensitive[option] && io.readPassword != nil {
			return io.readPassword()
		}
		line, err := bufio.NewReader(io.in).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("--%s: no value given", option)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

func promptLabel(option string) string {
	switch option {
	case "auth-user":
		return "Username"
	case "auth-password":
		return "Password"
	}
	return strings.ToUpper(option[:1]) + option[1:]
}
