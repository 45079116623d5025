package explain

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestScanEdgeCases(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  []string // describe() of each finding, first line only
	}{
		{"bare CR line ends", "550 5.1.1 first\r551 5.1.6 second\r\n", []string{"L1 reply phase=any", "L1 reply phase=any"}},
		{"NUL bytes are dropped from text", "554 5.7.1 nul\x00byte\n", []string{"L1 reply phase=any"}},
		{"successes are not reported", "220 mx ESMTP\n250-mx\n250 SIZE\n354 go ahead\n", nil},
		{"continuation with a different code ends the reply", "550-5.1.1 a\n451 4.7.1 b\n",
			[]string{"L1 reply phase=any unterminated", "L2 reply phase=any"}},
		{"header-like line then a reply", "Error: 554 5.7.1 Message rejected\nnext line\n", []string{"L1 text phase=any"}},
		{"mbox From line without a message", "From the postmaster\n550 5.1.1 x\n", []string{"L2 reply phase=any"}},
		{"dsn per-message group alone", "Reporting-MTA: dns; mx.example\nArrival-Date: today\n", nil},
		{"transcript phase is forgotten after a while", " -> RCPT TO:<x@y>\n" + strings.Repeat("noise\n", 60) + "550 5.1.1 x\n",
			[]string{"L62 reply phase=any"}},
		{"binary garbage", "\x00\x01\x02\xff\xfe550\x00\n\x89PNG\r\n\x1a\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, f := range scanAll(t, tt.input) {
				got = append(got, strings.SplitN(describe(f), "\n", 2)[0])
				for _, l := range f.Lines {
					if strings.ContainsAny(l, "\x00\r\n") {
						t.Errorf("control characters left in %q", l)
					}
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestScanLongLine(t *testing.T) {
	long := "554 5.7.1 " + strings.Repeat("A", 3<<20) + "\n550 5.1.1 after\n"
	sc := NewScanner(strings.NewReader(long))
	var fs []Finding
	for sc.Scan() {
		fs = append(fs, sc.Finding())
	}
	if len(fs) != 2 {
		t.Fatalf("got %d findings, want 2", len(fs))
	}
	if !fs[0].Truncated || len(fs[0].Lines[0]) > MaxLineBytes {
		t.Errorf("first finding: truncated=%v len=%d", fs[0].Truncated, len(fs[0].Lines[0]))
	}
	if fs[1].Lines[0] != "550 5.1.1 after" || fs[1].Line != 2 {
		t.Errorf("line after the long one: %+v", fs[1])
	}
	if sc.TruncatedLines() != 1 || sc.Lines() != 2 {
		t.Errorf("lines=%d truncated=%d", sc.Lines(), sc.TruncatedLines())
	}
}

// TestScanHugeBounce checks that a bounce whose returned original exceeds
// MaxMessageBytes still yields its delivery-status finding, and that the
// log after the message is read again.
func TestScanHugeBounce(t *testing.T) {
	var b strings.Builder
	b.WriteString("From: MAILER-DAEMON@example.org\nSubject: Undelivered\nMIME-Version: 1.0\n")
	b.WriteString("Content-Type: multipart/report; report-type=delivery-status; boundary=\"BND\"\n\n")
	b.WriteString("--BND\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.org\n\n")
	b.WriteString("Final-Recipient: rfc822; bob@example.com\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\n\n")
	b.WriteString("--BND\nContent-Type: message/rfc822\n\nSubject: big\n\n")
	for range 40000 {
		b.WriteString("550 5.9.9 this attachment line is part of the original message, not a reply\n")
	}
	b.WriteString("--BND--\n")
	b.WriteString("Jan 15 10:00:06 mail postfix/smtp[3]: X: to=<z@example.com>, relay=mx[192.0.2.1]:25, dsn=5.1.1, status=bounced (host mx[192.0.2.1] said: 550 5.1.1 unknown (in reply to RCPT TO command))\n")
	fs := scanAll(t, b.String())
	if len(fs) != 2 {
		for _, f := range fs[:min(len(fs), 5)] {
			t.Log(describe(f))
		}
		t.Fatalf("got %d findings, want 2", len(fs))
	}
	if fs[0].Source != SourceDSN || fs[0].Lines[0] != "552 5.2.2 Mailbox full" {
		t.Errorf("first: %s", describe(fs[0]))
	}
	if fs[1].Source != SourcePostfix || fs[1].Recipient != "z@example.com" {
		t.Errorf("second: %s", describe(fs[1]))
	}
}

// errReader fails after some data, like a broken pipe.
type errReader struct{ r io.Reader }

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, fmt.Errorf("disk on fire")
	}
	return n, err
}

func TestScanReadError(t *testing.T) {
	sc := NewScanner(errReader{strings.NewReader("550 5.1.1 x\n")})
	n := 0
	for sc.Scan() {
		n++
	}
	if n != 1 || sc.Err() == nil || !strings.Contains(sc.Err().Error(), "disk on fire") {
		t.Errorf("findings %d err %v", n, sc.Err())
	}
}

// TestScanMemoryFlat checks the scanner's retained memory does not grow
// with the input: its buffers stay bounded after many findings.
func TestScanMemoryFlat(t *testing.T) {
	line := []byte("Jan 15 10:00:03 mail postfix/smtp[3321]: 4F2A91C0A3B: to=<bob@example.com>, relay=mx1.example.com[203.0.113.10]:25, dsn=5.7.1, status=bounced (host mx1.example.com[203.0.113.10] said: 554 5.7.1 <bob@example.com>: Relay access denied (in reply to RCPT TO command))\n")
	r := io.MultiReader(bytes.NewReader(bytes.Repeat(line, 50000)))
	sc := NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		if cap(sc.queue) > 16 {
			t.Fatalf("queue grew to %d", cap(sc.queue))
		}
	}
	if n != 50000 {
		t.Errorf("findings %d", n)
	}
}

// A report of an outgoing delivery names a server the sending MTA found by
// the recipient domain's MX; a receiving server's own reject line does not.
func TestDeliveryReportMeansRecipientMX(t *testing.T) {
	tests := []struct {
		f    Finding
		want bool
	}{
		{Finding{Source: SourceDSN}, true},
		{Finding{Source: SourceBounce}, true},
		{Finding{Source: SourceExchange}, true},
		{Finding{Source: SourcePostfix, Host: "mx.example.net", HostIP: "192.0.2.1"}, true},
		{Finding{Source: SourcePostfix, ClientHost: "unknown", ClientIP: "192.0.2.9"}, false},
		{Finding{Source: SourceReply}, false},
		{Finding{Source: SourceArgument}, false},
	}
	for _, tc := range tests {
		if got := tc.f.Input("").Context.RecipientMX; got != tc.want {
			t.Errorf("%+v: RecipientMX %v, want %v", tc.f, got, tc.want)
		}
	}
}
