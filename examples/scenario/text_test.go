package scenario

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
)

func TestExpand(t *testing.T) {
	v := vars{IP: "192.0.2.1", Host: "mx.test", From: "a@example.com", Rcpt: "b@example.net", QueueID: "4Xyz00007"}
	tests := []struct{ in, want string }{
		{"no placeholders", "no placeholders"},
		{"[{ip}] {host}", "[192.0.2.1] mx.test"},
		{"<{from}> {from_domain} <{rcpt}> {rcpt_domain}", "<a@example.com> example.com <b@example.net> example.net"},
		{"queued as {queue_id}", "queued as 4Xyz00007"},
		{"{unknown} {ip", "{unknown} {ip"},
		{"{{ip}}", "{192.0.2.1}"},
		{"}{", "}{"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := expand(tt.in, v); got != tt.want {
			t.Errorf("expand(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	// Peer values are cleaned: no CR/LF can reach a reply.
	evil := vars{Rcpt: "x\r\n250 injected\x00" + strings.Repeat("y", 1000)}
	got := expand("<{rcpt}>", evil)
	if strings.ContainsAny(got, "\r\n\x00") || len(got) > maxValueLen+2 {
		t.Errorf("unclean expansion %q", got)
	}
}

func TestDomainAndLocalPart(t *testing.T) {
	tests := []struct{ addr, local, domain string }{
		{"a@b.example", "a", "b.example"},
		{"\"x@y\"@z.example", "\"x@y\"", "z.example"},
		{"postmaster", "postmaster", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if l, d := localPartOf(tt.addr), domainOf(tt.addr); l != tt.local || d != tt.domain {
			t.Errorf("%q: local %q domain %q, want %q %q", tt.addr, l, d, tt.local, tt.domain)
		}
	}
}

func TestParseReplyLine(t *testing.T) {
	tests := []struct {
		in      string
		want    replyLine
		wantErr bool
	}{
		{"250 2.0.0 Ok", replyLine{Code: 250, Enhanced: "2.0.0", Text: "Ok"}, false},
		{"550-5.7.26 Unauthenticated", replyLine{Code: 550, More: true, Enhanced: "5.7.26", Text: "Unauthenticated"}, false},
		{"550 5.7.26  https://x", replyLine{Code: 550, Enhanced: "5.7.26", Text: " https://x"}, false},
		{"554 RLY:B1", replyLine{Code: 554, Text: "RLY:B1"}, false},
		{"554 5.7.1", replyLine{Code: 554, Enhanced: "5.7.1"}, false},
		{"554 5.7.1x text", replyLine{Code: 554, Text: "5.7.1x text"}, false},
		{"554 6.7.1 text", replyLine{Code: 554, Text: "6.7.1 text"}, false},
		{"220", replyLine{Code: 220}, false},
		{"+OK Dovecot ready.", replyLine{}, true},
		{"25", replyLine{}, true},
		{"250_x", replyLine{}, true},
	}
	for _, tt := range tests {
		got, err := parseReplyLine(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: err %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.in, got, tt.want)
		}
		if err != nil && !errors.Is(err, errBadReplyLine) {
			t.Errorf("%q: error %v does not wrap errBadReplyLine", tt.in, err)
		}
	}
}

func TestReplyError(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  smtp.SMTPError
	}{
		{"enhanced", []string{"554 5.7.1 <b@x>: Relay access denied"},
			smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "<b@x>: Relay access denied"}},
		{"no enhanced code", []string{`554 Message is not RFC compliant; missing "Date" header`},
			smtp.SMTPError{Code: 554, EnhancedCode: smtp.NoEnhancedCode, Message: `554 Message is not RFC compliant; missing "Date" header`[4:]}},
		{"multi-line keeps each line's code", []string{"530-5.7.0 Authentication Required.", "530 5.7.0  https://x"},
			smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "5.7.0 Authentication Required.\n https://x"}},
		{"empty", nil, smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: scenario has an empty reply"}},
		{"bad", []string{"xyz"}, smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Error: scenario has a bad reply line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := replyError(tt.lines); *got != tt.want {
				t.Errorf("got %+v, want %+v", *got, tt.want)
			}
		})
	}
}

func TestParsePathArg(t *testing.T) {
	tests := []struct {
		arg, prefix, want string
		ok                bool
	}{
		{"FROM:<a@b>", "FROM:", "a@b", true},
		{"from:<a@b> SIZE=100", "FROM:", "a@b", true},
		{"FROM: <a@b>", "FROM:", "a@b", true},
		{"FROM:<>", "FROM:", "", true},
		{"TO:b@c NOTIFY=NEVER", "TO:", "b@c", true},
		{"TO:<b@c", "TO:", "", false},
		{"TO:", "TO:", "", false},
		{"FROM:<a@b>", "TO:", "", false},
		{"", "TO:", "", false},
	}
	for _, tt := range tests {
		got, ok := parsePathArg(tt.arg, tt.prefix)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePathArg(%q, %q) = %q, %v; want %q, %v", tt.arg, tt.prefix, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseCommand(t *testing.T) {
	tests := []struct{ line, verb, arg string }{
		{"EHLO client.test", "EHLO", "client.test"},
		{"mail FROM:<a@b>  ", "MAIL", "FROM:<a@b>"},
		{"  QUIT", "QUIT", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		if v, a := parseCommand(tt.line); v != tt.verb || a != tt.arg {
			t.Errorf("parseCommand(%q) = %q, %q; want %q, %q", tt.line, v, a, tt.verb, tt.arg)
		}
	}
}

func TestHasHeaderField(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want bool
	}{
		{"present", "From: a\r\nDate: Tue, 14 May 2024 09:30:00 +0000\r\n\r\nbody", true},
		{"case-insensitive, space before colon", "date : x\r\n\r\n", true},
		{"absent", "From: a\r\nSubject: b\r\n\r\nDate: in the body\r\n", false},
		{"only in a folded continuation", "Subject: a\r\n Date: b\r\n\r\n", false},
		{"bare LF", "From: a\nDate: x\n\nbody", true},
		{"header-only message", "Date: x", true},
		{"empty", "", false},
		{"X-Date is not Date", "X-Date: x\r\n\r\n", false},
		{"junk line in header", "garbage\r\nDate: x\r\n\r\n", true},
	}
	for _, tt := range tests {
		if got := hasHeaderField([]byte(tt.msg), "Date"); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []string
		wantErr []error
	}{
		{"CRLF and LF", "a\r\nb\nc\r\n", 10, []string{"a", "b", "c"}, []error{nil, nil, nil}},
		{"too long then in sync", strings.Repeat("x", 40) + "\r\nok\r\n", 10, []string{"", "ok"}, []error{errLineTooLong, nil}},
		{"exactly max", "0123456789\r\n", 10, []string{"0123456789"}, []error{nil}},
		{"eof without newline", "abc", 10, []string{""}, []error{io.EOF}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			for i := range tt.want {
				got, err := readLine(r, tt.max)
				if !errors.Is(err, tt.wantErr[i]) || (err == nil && got != tt.want[i]) {
					t.Fatalf("line %d: %q, %v; want %q, %v", i, got, err, tt.want[i], tt.wantErr[i])
				}
			}
		})
	}
}

func TestEnhancedPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"5.7.1 x", "5.7.1"}, {"5.7.26", "5.7.26"}, {"4.4.2 y", "4.4.2"}, {"2.0.0", "2.0.0"},
		{"5.7", ""}, {"5..1 x", ""}, {"5.7.1234 x", ""}, {"3.0.0 x", ""}, {"5.7.1:", ""}, {"", ""},
	}
	for _, tt := range tests {
		if got, n := enhancedPrefix(tt.in); got != tt.want || n != len(tt.want) {
			t.Errorf("enhancedPrefix(%q) = %q, %d; want %q", tt.in, got, n, tt.want)
		}
	}
}

func FuzzExpand(f *testing.F) {
	f.Add("554 5.7.1 <{rcpt}>: Relay access denied", "x@y")
	f.Add("{", "\r\n")
	f.Add("{{ip}{host}}", "")
	f.Fuzz(func(t *testing.T, tmpl, val string) {
		v := vars{IP: val, Host: val, From: val, Rcpt: val, QueueID: val}
		got := expand(tmpl, v)
		// Only the template itself may bring CR or LF into a reply.
		if strings.Count(got, "\n") > strings.Count(tmpl, "\n") || strings.Count(got, "\r") > strings.Count(tmpl, "\r") {
			t.Fatalf("value injected a line break: %q", got)
		}
		if !strings.Contains(tmpl, "{") && got != tmpl {
			t.Fatalf("template without braces changed: %q -> %q", tmpl, got)
		}
	})
}

func FuzzParseReplyLine(f *testing.F) {
	for _, s := range []string{"250 2.0.0 Ok", "550-5.7.26 x", "554 RLY:B1", "+OK", "220", "5.7.1", "999 9.9.9 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseReplyLine(line)
		if err != nil {
			return
		}
		if r.Code < 0 || r.Code > 999 {
			t.Fatalf("code %d out of range", r.Code)
		}
		if r.Enhanced != "" && !strings.Contains(line, r.Enhanced) {
			t.Fatalf("enhanced code %q not in %q", r.Enhanced, line)
		}
		if !strings.HasSuffix(line, r.Text) {
			t.Fatalf("text %q is not the end of %q", r.Text, line)
		}
		// Going through go-smtp's error must not panic and keeps the code.
		if e := replyError([]string{line}); e.Code != r.Code {
			t.Fatalf("replyError code %d, want %d", e.Code, r.Code)
		}
	})
}

func FuzzParsePathArg(f *testing.F) {
	for _, s := range []string{"FROM:<a@b>", "TO:<b@c> NOTIFY=NEVER", "FROM: a", "TO:<", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		for _, p := range []string{"FROM:", "TO:"} {
			addr, ok := parsePathArg(arg, p)
			if !ok && addr != "" {
				t.Fatalf("address %q with ok=false", addr)
			}
			if ok && !strings.Contains(arg, addr) {
				t.Fatalf("address %q not in %q", addr, arg)
			}
			_ = domainOf(addr)
			_ = localPartOf(addr)
		}
	})
}

func FuzzHasHeaderField(f *testing.F) {
	f.Add([]byte("Date: x\r\n\r\n"), "Date")
	f.Add([]byte("Subject: a\r\n Date: b\r\n"), "Date")
	f.Add([]byte("\r\n\r\nDate: x"), "date")
	f.Fuzz(func(t *testing.T, msg []byte, name string) {
		got := hasHeaderField(msg, name)
		// A field can only be found if its name occurs in the message.
		// (ASCII names only: Unicode case folding maps e.g. U+017F to 's'.)
		if got && isASCII(name) && !bytes.Contains(bytes.ToLower(msg), bytes.ToLower([]byte(name))) {
			t.Fatalf("found %q in %q", name, msg)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func FuzzReadLine(f *testing.F) {
	f.Add([]byte("EHLO x\r\nMAIL FROM:<a@b>\r\n"), 8)
	f.Add([]byte(strings.Repeat("x", 100)+"\n"), 10)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		r := bufio.NewReaderSize(bytes.NewReader(in), 16)
		for i := 0; i <= len(in); i++ {
			line, err := readLine(r, max)
			if err != nil && !errors.Is(err, errLineTooLong) {
				return
			}
			if len(line) > max+1 || strings.ContainsAny(line, "\n") {
				t.Fatalf("line %q longer than %d or with LF", line, max)
			}
		}
	})
}

// FuzzRawSession feeds arbitrary client bytes to the raw server's state
// machine for each raw behaviour and checks it neither panics nor hangs, and
// that every reply it writes is a well-formed SMTP (or, for wrong-protocol,
// POP3) line.
func FuzzRawSession(f *testing.F) {
	f.Add([]byte("EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n"), uint8(0))
	f.Add([]byte("HELO c\r\nSTARTTLS\r\n\x16\x03\x01garbage"), uint8(3))
	f.Add([]byte("\x00\xff\r\n\n\n"+strings.Repeat("A", 5000)), uint8(1))
	conf, err := SelfSignedTLS()
	if err != nil {
		f.Fatal(err)
	}
	var raws []behavior
	for _, e := range catalogue() {
		if e.b.raw && e.b.silence == silenceNone {
			raws = append(raws, e.b)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, pick uint8) {
		b := raws[int(pick)%len(raws)]
		srv := &Server{b: b, hostname: defaultHostname, tlsConf: conf, logf: func(string, ...any) {}, Scenario: Scenario{Name: "fuzz"}}
		serverSide, clientSide := net.Pipe()
		done := make(chan struct{})
		go func() {
			defer close(done)
			defer serverSide.Close()
			rc := &rawConn{srv: srv, conn: serverSide, r: bufio.NewReader(serverSide), ip: "127.0.0.1"}
			_ = rc.serve()
		}()
		go func() {
			_, _ = clientSide.Write(in)
			// Half-close is not available on a pipe: closing after the
			// write ends the session as a client hanging up would.
			time.Sleep(time.Millisecond)
			clientSide.Close()
		}()
		out, _ := io.ReadAll(clientSide)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("raw session did not end after the client went away")
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(out), "\r\n"), "\r\n") {
			if l == "" {
				continue
			}
			if _, err := parseReplyLine(l); err != nil && !strings.HasPrefix(l, "+OK") && !strings.HasPrefix(l, "-ERR") {
				t.Fatalf("malformed reply line %q", l)
			}
		}
	})
}
