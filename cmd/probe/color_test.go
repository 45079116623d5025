package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// runTerminal runs the CLI as if stdout and stderr were terminals (or
// not), with env as the environment.
func runTerminal(t *testing.T, outTerm, errTerm bool, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out bytes.Buffer
	errb := &lockedBuffer{}
	io := stdio{
		in: strings.NewReader(""), out: &out, err: errb,
		isTerminal:  func() bool { return false },
		outTerminal: func() bool { return outTerm },
		errTerminal: func() bool { return errTerm },
		getenv:      func(k string) string { return env[k] },
	}
	code := run(context.Background(), args, io)
	return code, out.String(), errb.String()
}

// lockedBuffer is a bytes.Buffer for a writer shared with the status
// line's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestColorOnlyOnTerminals: colour on a terminal; never in a pipe, with
// NO_COLOR (any value), with --no-color, TERM=dumb, in JSON or Markdown,
// or in an --output file.
func TestColorOnlyOnTerminals(t *testing.T) {
	h, p := startScenario(t, "relay-denied")
	base := []string{"-s", h, "-p", p, "-t", "a@b.test"}
	code, out, _ := runTerminal(t, true, false, nil, base...)
	if code != 24 || !strings.Contains(out, "\x1b[") {
		t.Fatalf("terminal: exit %d, no colour:\n%q", code, out)
	}
	for _, want := range []string{"\x1b[1;31m*** Session failed at RCPT", "\x1b[31m<** 554", "\x1b[36m -> EHLO ", "\x1b[33m<-  220 "} {
		if !strings.Contains(out, want) {
			t.Errorf("terminal output lacks %q", want)
		}
	}
	if strings.Contains(out, "\x1b[0m\x1b[") && strings.Count(out, "\x1b[0m") != strings.Count(out, "\x1b[")/2 {
		t.Errorf("unbalanced colour sequences:\n%q", out)
	}
	dir := t.TempDir()
	plain := []struct {
		name    string
		outTerm bool
		env     map[string]string
		args    []string
	}{
		{"pipe", false, nil, nil},
		{"NO_COLOR", true, map[string]string{"NO_COLOR": "1"}, nil},
		{"NO_COLOR any value", true, map[string]string{"NO_COLOR": "false"}, nil},
		{"--no-color", true, nil, []string{"--no-color"}},
		{"TERM=dumb", true, map[string]string{"TERM": "dumb"}, nil},
		{"json", true, nil, []string{"--json"}},
		{"markdown", true, nil, []string{"--markdown"}},
		{"output file", true, nil, []string{"--output", dir + "/out.txt"}},
		{"relay-check --no-color", true, nil, []string{"relay-check", "--no-color"}},
		{"relay-check pipe", false, nil, []string{"relay-check"}},
	}
	for _, tc := range plain {
		args := append(append([]string{}, base...), tc.args...)
		if len(tc.args) > 0 && tc.args[0] == "relay-check" {
			args = append([]string{"relay-check", "-s", h, "-p", p, "--check-timeout", "5s"}, tc.args[1:]...)
		}
		_, out, errOut := runTerminal(t, tc.outTerm, tc.outTerm, tc.env, args...)
		if strings.Contains(out+errOut, "\x1b") {
			t.Errorf("%s: escape bytes in the output:\n%q\n%q", tc.name, out, errOut)
		}
	}
	// relay-check text is coloured on a terminal too.
	_, out, _ = runTerminal(t, true, false, nil, "relay-check", "-s", h, "-p", p, "--check-timeout", "5s")
	if !strings.Contains(out, "\x1b[1;32mopen-relay") {
		t.Errorf("relay-check on a terminal: no colour:\n%q", out)
	}
}

// TestUsageErrorColor: a usage error is red on a terminal's stderr, plain
// with NO_COLOR, --no-color or when stderr is not a terminal.
func TestUsageErrorColor(t *testing.T) {
	if _, _, errOut := runTerminal(t, false, true, nil, "--frobnicate"); !strings.Contains(errOut, "\x1b[31mprobe: ") {
		t.Fatalf("no colour on a terminal's stderr: %q", errOut)
	}
	for name, tc := range map[string]struct {
		errTerm bool
		env     map[string]string
		args    []string
	}{
		"not a terminal": {false, nil, []string{"--frobnicate"}},
		"NO_COLOR":       {true, map[string]string{"NO_COLOR": "x"}, []string{"--frobnicate"}},
		"--no-color":     {true, nil, []string{"--frobnicate", "--no-color"}},
	} {
		if _, _, errOut := runTerminal(t, tc.errTerm, tc.errTerm, tc.env, tc.args...); strings.Contains(errOut, "\x1b") || !strings.Contains(errOut, "frobnicate") {
			t.Errorf("%s: %q", name, errOut)
		}
	}
}

// slowBannerServer waits delay before its banner, then answers QUIT.
func slowBannerServer(t *testing.T, delay time.Duration) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				time.Sleep(delay)
				fmt.Fprintf(c, "220 slow.test ESMTP\r\n")
				buf := make([]byte, 512)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					if strings.HasPrefix(strings.ToUpper(string(buf[:n])), "QUIT") {
						fmt.Fprintf(c, "221 bye\r\n")
						return
					}
					fmt.Fprintf(c, "250 ok\r\n")
				}
			}()
		}
	}()
	h, p, _ := strings.Cut(ln.Addr().String(), ":")
	return h, p
}

// TestLiveStatus: on a terminal's stderr a step that takes more than a
// second shows what the probe waits for, erased before the next line;
// never when stderr is not a terminal.
func TestLiveStatus(t *testing.T) {
	h, p := slowBannerServer(t, 1600*time.Millisecond)
	args := []string{"-s", h, "-p", p, "-t", "a@b.test", "--quit-after", "banner"}
	code, out, errOut := runTerminal(t, false, true, map[string]string{"NO_COLOR": "1"}, args...)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	want := "waiting for banner from " + h + " (1 s)"
	if !strings.Contains(errOut, "\r"+want) {
		t.Fatalf("stderr lacks %q: %q", want, errOut)
	}
	if !strings.HasSuffix(errOut, strings.Repeat(" ", len(want))+"\r") {
		t.Fatalf("status not erased at the end: %q", errOut)
	}
	if strings.Contains(errOut, "\x1b") || strings.Contains(out, "\r") || strings.Contains(out, "waiting") {
		t.Fatalf("status leaked into stdout or used escapes:\n%q\n%q", out, errOut)
	}
	// --json on stdout: the status is still on a terminal's stderr.
	if _, _, errOut := runTerminal(t, false, true, nil, append(args, "--json")...); !strings.Contains(errOut, "waiting for banner") {
		t.Fatalf("no status with --json: %q", errOut)
	}
	if _, _, errOut := runTerminal(t, true, false, nil, args...); errOut != "" {
		t.Fatalf("status on a stderr that is not a terminal: %q", errOut)
	}
}

func TestWaitingFor(t *testing.T) {
	s := &statusLine{}
	for _, tc := range []struct {
		e    transcript.Event
		want string
	}{
		{transcript.Event{Dir: transcript.Info, Text: "Looking up MX records of example.org..."}, "looking up the MX records of example.org"},
		{transcript.Event{Dir: transcript.Info, Text: "Trying 192.0.2.1:25 (mx1.example.org)..."}, "connecting to 192.0.2.1:25 (mx1.example.org)"},
		{transcript.Event{Dir: transcript.Info, Text: "Connected to mx1.example.org (192.0.2.1:25) from 192.0.2.9:4242 in 3.0 ms"}, "waiting for banner from mx1.example.org"},
		{transcript.Event{Dir: transcript.Send, Text: "EHLO client.example"}, "waiting for the reply to EHLO from mx1.example.org"},
		{transcript.Event{Dir: transcript.Recv, Text: "250-mx1.example.org"}, "waiting for the rest of the reply from mx1.example.org"},
		{transcript.Event{Dir: transcript.Info, Text: "Starting TLS handshake (SNI mx1.example.org)..."}, "TLS handshake with mx1.example.org"},
		{transcript.Event{Dir: transcript.Send, TLS: true, Text: "MAIL FROM:<a@b.test> SIZE=12"}, "waiting for the reply to MAIL FROM from mx1.example.org"},
		{transcript.Event{Dir: transcript.Send, TLS: true, Text: "AUTH PLAIN " + transcript.Redacted}, "waiting for the reply to AUTH from mx1.example.org"},
		{transcript.Event{Dir: transcript.Send, TLS: true, Text: "."}, "waiting for the reply after the final dot from mx1.example.org"},
		{transcript.Event{Dir: transcript.Recv, Text: "250 2.0.0 Ok"}, "working after the reply from mx1.example.org"},
	} {
		if got := s.waitingFor(tc.e); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.e.Text, got, tc.want)
		}
	}
}
