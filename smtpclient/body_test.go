package smtpclient

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// rawServer speaks just enough SMTP (or LMTP) to take a message and hands
// the raw DATA bytes, dot-stuffing and all, to the test. finalReplies are
// sent after the final dot (one per recipient for LMTP). readDelay slows
// its reading of the message down.
func rawServer(t *testing.T, ehlo string, finalReplies []string, readDelay time.Duration) (string, <-chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "220 raw ESMTP\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch v := strings.ToUpper(strings.Fields(line + " x")[0]); v {
			case "EHLO", "LHLO":
				io.WriteString(c, ehlo)
			case "DATA":
				io.WriteString(c, "354 go\r\n")
				var data strings.Builder
				for {
					if readDelay > 0 {
						time.Sleep(readDelay)
					}
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
					data.WriteString(l)
				}
				got <- data.String()
				for _, r := range finalReplies {
					io.WriteString(c, r)
				}
			case "QUIT":
				io.WriteString(c, "221 bye\r\n")
				return
			default:
				io.WriteString(c, "250 ok\r\n")
			}
		}
	}()
	return ln.Addr().String(), got
}

func TestBodyLineEndings(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"crlf", "a\r\nb\r\n", "a\r\nb\r\n"},
		{"bare lf", "a\nb\n", "a\r\nb\r\n"},
		{"no final newline", "a\r\nb", "a\r\nb\r\n"},
		{"dot stuffing", ".a\r\n..b\r\n.\r\n", "..a\r\n...b\r\n..\r\n"},
		{"smuggling with bare cr", "x\r.\r\ny\r\n", "x\r\n..\r\ny\r\n"},
		{"smuggling with bare lf", "x\n.\ny\n", "x\r\n..\r\ny\r\n"},
		{"cr cr lf", "x\r\r\ny", "x\r\n\r\ny\r\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, got := rawServer(t, "250 raw\r\n", []string{"250 ok queued as X1\r\n"}, 0)
			cfg := baseConfig(t, addr)
			cfg.TLSMode = TLSNone
			cfg.OpenMessage = func() (io.ReadCloser, int64, error) {
				return io.NopCloser(strings.NewReader(tt.in)), int64(len(tt.in)), nil
			}
			res := Run(context.Background(), cfg)
			if res.ExitCode != 0 {
				t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
			}
			if d := <-got; d != tt.want {
				t.Fatalf("sent %q, want %q", d, tt.want)
			}
		})
	}
}

func TestBodyChunkBoundaries(t *testing.T) {
	// A CR at the end of one read and its LF at the start of the next
	// must stay one line end.
	in := strings.Repeat("x", 32*1024-1) + "\r\n.y\r\n"
	addr, got := rawServer(t, "250 raw\r\n", []string{"250 ok\r\n"}, 0)
	cfg := baseConfig(t, addr)
	cfg.TLSMode = TLSNone
	cfg.OpenMessage = func() (io.ReadCloser, int64, error) {
		return io.NopCloser(strings.NewReader(in)), int64(len(in)), nil
	}
	if res := Run(context.Background(), cfg); res.ExitCode != 0 {
		t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
	}
	want := strings.Repeat("x", 32*1024-1) + "\r\n..y\r\n"
	if d := <-got; d != want {
		t.Fatalf("boundary mangled: tail %q", d[len(d)-20:])
	}
}

// throttledServer takes DATA at its own pace: first slowly (a chunk every
// pause), then at full speed; it never answers when stall is set.
func throttledServer(t *testing.T, slowBytes, chunk int, pause time.Duration, stall bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		io.WriteString(c, "220 x\r\n")
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			switch strings.ToUpper(strings.Fields(line + " x")[0]) {
			case "DATA":
				io.WriteString(c, "354 go\r\n")
				if stall {
					time.Sleep(20 * time.Second)
					return
				}
				for read := 0; read < slowBytes; read += chunk {
					if _, err := io.CopyN(io.Discard, br, int64(chunk)); err != nil {
						return
					}
					time.Sleep(pause)
				}
				for {
					l, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if l == ".\r\n" {
						break
					}
				}
				io.WriteString(c, "250 ok\r\n")
			case "QUIT":
				io.WriteString(c, "221 bye\r\n")
				return
			default:
				io.WriteString(c, "250 ok\r\n")
			}
		}
	}()
	return ln.Addr().String()
}

func bigBody(lines int) func() (io.ReadCloser, int64, error) {
	line := strings.Repeat("z", 1000) + "\r\n"
	return func() (io.ReadCloser, int64, error) {
		return io.NopCloser(io.LimitReader(&repeatReader{s: line}, int64(lines*len(line)))), int64(lines * len(line)), nil
	}
}

type repeatReader struct {
	s   string
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.s[r.off:])
		n += c
		r.off = (r.off + c) % len(r.s)
	}
	return n, nil
}

// A message that takes longer than --timeout to send is fine as long as
// the server keeps taking it; one it stops taking fails after --timeout
// with an error that says so.
func TestBodyWriteDeadlines(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 24 MB through loopback")
	}
	addr := throttledServer(t, 12<<20, 1<<20, 100*time.Millisecond, false)
	cfg := baseConfig(t, addr)
	cfg.TLSMode = TLSNone
	cfg.Timeout = 400 * time.Millisecond
	cfg.OpenMessage = bigBody(24 << 10) // 24 MB
	start := time.Now()
	res := Run(context.Background(), cfg)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d after %s: %v", res.ExitCode, time.Since(start), res.Err)
	}
	if time.Since(start) < cfg.Timeout {
		t.Fatalf("took %s: the server was not slow enough to test anything", time.Since(start))
	}

	addr = throttledServer(t, 0, 0, 0, true)
	cfg = baseConfig(t, addr)
	cfg.TLSMode = TLSNone
	cfg.Timeout = 300 * time.Millisecond
	cfg.OpenMessage = bigBody(64 << 10) // 64 MB: more than any socket buffer
	start = time.Now()
	res = Run(context.Background(), cfg)
	if res.ExitCode != ExitEndOfData || res.Err == nil || !strings.Contains(res.Err.Error(), "stopped reading") {
		t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("stall detected after %s", el)
	}
}

func TestLMTPRepliesPerRecipient(t *testing.T) {
	tests := []struct {
		name     string
		replies  []string
		wantExit int
		accepted int
		rejected int
	}{
		{"all delivered", []string{"250 2.0.0 <a@b.test> delivered\r\n", "250 2.0.0 <c@b.test> delivered\r\n"}, 0, 2, 0},
		{"one over quota", []string{"250 2.0.0 <a@b.test> delivered\r\n", "452 4.2.2 <c@b.test> mailbox full\r\n"}, 0, 1, 1},
		{"none delivered", []string{"550 5.1.1 <a@b.test> unknown\r\n", "452 4.2.2 <c@b.test> mailbox full\r\n"}, ExitEndOfData, 0, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, _ := rawServer(t, "250-raw\r\n250 PIPELINING\r\n", tt.replies, 0)
			cfg := baseConfig(t, addr)
			cfg.TLSMode = TLSNone
			cfg.Protocol = "lmtp"
			cfg.To = []string{"a@b.test", "c@b.test"}
			res := Run(context.Background(), cfg)
			if len(res.RefusedAfterData) != tt.rejected {
				t.Fatalf("refused after data %v, want %d", res.RefusedAfterData, tt.rejected)
			}
			if res.ExitCode != tt.wantExit || len(res.Accepted) != tt.accepted || len(res.Rejected) != tt.rejected {
				t.Fatalf("exit %d (%v) accepted %v rejected %v", res.ExitCode, res.Err, res.Accepted, res.Rejected)
			}
			if last := res.Steps[len(res.Steps)-1]; tt.wantExit == 0 && (last.Command != "QUIT" || last.Reply.Code != 221) {
				t.Fatalf("QUIT not answered by 221: %+v", last)
			}
		})
	}
}

func TestTLSOptionalStrict(t *testing.T) {
	for _, mode := range []TLSMode{TLSOptional, TLSOptionalStrict} {
		addr := scripted(t, "220 x\r\n", map[string]string{"EHLO": "250-x\r\n250 STARTTLS\r\n", "STARTTLS": "454 4.7.0 TLS not available\r\n"})
		cfg := baseConfig(t, addr)
		cfg.TLSMode = mode
		res := Run(context.Background(), cfg)
		want := 0
		if mode == TLSOptionalStrict {
			want = ExitTLS
		}
		if res.ExitCode != want {
			t.Fatalf("%v: exit %d, want %d", mode, res.ExitCode, want)
		}
	}
}

// A LOGIN server that wants no initial response and words its prompts
// its own way (the draft says nothing of their text).
func TestLoginWithoutInitialResponse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	gotCreds := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		io.WriteString(c, "220 x\r\n")
		var creds []string
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimRight(line, "\r\n")
			switch {
			case strings.HasPrefix(line, "EHLO"):
				io.WriteString(c, "250-x\r\n250 AUTH LOGIN\r\n")
			case line == "AUTH LOGIN":
				io.WriteString(c, "334 VXNlciBOYW1lAA==\r\n") // "User Name\0"
			case len(creds) == 0:
				creds = append(creds, line)
				io.WriteString(c, "334 UGFzc3dvcmQA\r\n") // "Password\0"
			case len(creds) == 1:
				creds = append(creds, line)
				gotCreds <- strings.Join(creds, " ")
				io.WriteString(c, "235 ok\r\n")
			case line == "QUIT":
				io.WriteString(c, "221 bye\r\n")
				return
			default:
				io.WriteString(c, "250 ok\r\n")
			}
		}
	}()
	cfg := baseConfig(t, ln.Addr().String())
	cfg.TLSMode, cfg.AuthPlaintext = TLSNone, true
	cfg.Auth, cfg.AuthUser, cfg.AuthPassword, cfg.AuthMechs = true, "alice", "s3cret-pass", []string{"LOGIN"}
	cfg.QuitAfter = "auth"
	res := Run(context.Background(), cfg)
	if res.ExitCode != 0 || !res.Authenticated {
		t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
	}
	if c := <-gotCreds; c != "YWxpY2U= czNjcmV0LXBhc3M=" {
		t.Fatalf("credentials sent %q", c)
	}
}

// A server that echoes the AUTH payload or the password back must not get
// them into the result, the steps or the transcript.
func TestEchoedSecretsAreScrubbed(t *testing.T) {
	payload := "AGFsaWNlAHMzY3JldC1wYXNz" // \0alice\0s3cret-pass
	addr := scripted(t, "220 x\r\n", map[string]string{
		"EHLO": "250-x\r\n250 AUTH PLAIN\r\n",
		"AUTH": "535 5.7.8 bad credentials " + payload + " s3cret-pass\r\n",
	})
	cfg := baseConfig(t, addr)
	cfg.TLSMode, cfg.AuthPlaintext = TLSNone, true
	cfg.Auth, cfg.AuthUser, cfg.AuthPassword, cfg.AuthMechs = true, "alice", "s3cret-pass", []string{"PLAIN"}
	rec := transcript.NewRecorder(transcript.RecorderOptions{})
	cfg.Recorder = rec
	res := Run(context.Background(), cfg)
	if res.ExitCode != ExitAuth || res.Reply == nil {
		t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
	}
	var all []string
	all = append(all, res.Reply.Lines...)
	for _, st := range res.Steps {
		all = append(all, st.Command)
		if st.Reply != nil {
			all = append(all, st.Reply.Lines...)
		}
	}
	for _, e := range rec.Events() {
		all = append(all, e.Text)
	}
	joined := strings.Join(all, "\n")
	if strings.Contains(joined, payload) || strings.Contains(joined, "s3cret-pass") {
		t.Fatalf("secret leaked:\n%s", joined)
	}
}

func TestBody8BitMIMEDeclared(t *testing.T) {
	for _, eight := range []bool{false, true} {
		addr, got := rawServer(t, "250-raw\r\n250 8BITMIME\r\n", []string{"250 ok\r\n"}, 0)
		cfg := baseConfig(t, addr)
		cfg.TLSMode = TLSNone
		cfg.EightBitMessage = eight
		rec := transcript.NewRecorder(transcript.RecorderOptions{})
		cfg.Recorder = rec
		if res := Run(context.Background(), cfg); res.ExitCode != 0 {
			t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
		}
		<-got
		var mail string
		for _, e := range rec.Events() {
			if strings.HasPrefix(e.Text, "MAIL FROM:") {
				mail = e.Text
			}
		}
		if strings.Contains(mail, "BODY=8BITMIME") != eight {
			t.Fatalf("eightBit %v: %q", eight, mail)
		}
	}
}

func TestSMTPUTF8RequestedForUTF8Headers(t *testing.T) {
	for _, utf8 := range []bool{false, true} {
		addr, got := rawServer(t, "250-raw\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n", []string{"250 ok\r\n"}, 0)
		cfg := baseConfig(t, addr)
		cfg.TLSMode, cfg.UTF8Message = TLSNone, utf8
		rec := transcript.NewRecorder(transcript.RecorderOptions{})
		cfg.Recorder = rec
		if res := Run(context.Background(), cfg); res.ExitCode != 0 {
			t.Fatalf("exit %d: %v", res.ExitCode, res.Err)
		}
		<-got
		for _, e := range rec.Events() {
			if strings.HasPrefix(e.Text, "MAIL FROM:") && strings.Contains(e.Text, "SMTPUTF8") != utf8 {
				t.Fatalf("utf8 %v: %q", utf8, e.Text)
			}
		}
	}
}
