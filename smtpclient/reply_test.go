package smtpclient

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
)

func TestReadReply(t *testing.T) {
	long := "250 " + strings.Repeat("x", 2100) + "\r\n"
	endless := strings.Repeat("250-more\r\n", 500)
	tests := []struct {
		name     string
		in       string
		code     int
		enhanced string
		lines    int
		errPart  string
		closed   bool
	}{
		{name: "single", in: "220 mx.example ESMTP\r\n", code: 220, lines: 1},
		{name: "code only", in: "250\r\n", code: 250, lines: 1},
		{name: "multi", in: "250-mx\r\n250-SIZE 1000\r\n250 STARTTLS\r\n", code: 250, lines: 3},
		{name: "enhanced", in: "554 5.7.1 <a@b>: Relay access denied\r\n", code: 554, enhanced: "5.7.1", lines: 1},
		{name: "enhanced class mismatch ignored", in: "554 4.7.1 odd\r\n", code: 554, lines: 1},
		{name: "bare LF", in: "250 ok\n", code: 250, lines: 1},
		{name: "non numeric", in: "hello there\r\n", errPart: "not an SMTP reply"},
		{name: "http", in: "HTTP/1.1 400 Bad Request\r\n", errPart: "HTTP server"},
		{name: "tls record", in: "\x15\x03\x01\x00\x02\x02\x46\r\n", errPart: "TLS record"},
		{name: "code out of range", in: "650 what\r\n", errPart: "outside"},
		{name: "bad separator", in: "250+x\r\n", errPart: "malformed"},
		{name: "mismatch", in: "250-a\r\n550 b\r\n", errPart: "mismatched codes"},
		{name: "too long", in: long, errPart: "longer than 2000"},
		{name: "endless", in: endless, errPart: "more than 100 lines"},
		{name: "closed mid reply", in: "250-a\r\n250-b\r\n", closed: true},
		{name: "closed mid line", in: "250 abc", closed: true},
		{name: "closed before", in: "", closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recorded []string
			r, err := readReply(bufio.NewReaderSize(strings.NewReader(tt.in), 4096), func(l string, _ int) { recorded = append(recorded, l) })
			switch {
			case tt.closed:
				if !errors.Is(err, errClosed) {
					t.Fatalf("err = %v, want closed", err)
				}
			case tt.errPart != "":
				var pe *ProtocolError
				if !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.errPart) {
					t.Fatalf("err = %v, want ProtocolError containing %q", err, tt.errPart)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if r.Code != tt.code || r.Enhanced != tt.enhanced || len(r.Lines) != tt.lines {
					t.Fatalf("got %d %q %d lines, want %d %q %d", r.Code, r.Enhanced, len(r.Lines), tt.code, tt.enhanced, tt.lines)
				}
				if len(recorded) != tt.lines {
					t.Fatalf("recorded %d lines, want %d", len(recorded), tt.lines)
				}
			}
		})
	}
}

func TestQueueID(t *testing.T) {
	tests := map[string]string{
		"250 2.0.0 Ok: queued as 4XyZ12AbC":                            "4XyZ12AbC",
		"250 OK id=1tAbCd-000123-Xy":                                   "1tAbCd-000123-Xy",
		"250 2.0.0 4BQ1abc123456789 Message accepted for delivery":     "4BQ1abc123456789",
		"250 2.0.0 eb3cff3e Message accepted for delivery":             "eb3cff3e",
		"250 OK 1700000000 a1si123456.123 - gsmtp":                     "a1si123456.123",
		"250 2.6.0 <abc@host> [InternalId=1] Queued mail for delivery": "abc@host",
		"250 Ok": "",
	}
	for line, want := range tests {
		r := &Reply{Code: 250, Lines: []string{line}}
		r.Enhanced = parseEnhanced(250, line[4:])
		if got := QueueID(r); got != want {
			t.Errorf("QueueID(%q) = %q, want %q", line, got, want)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{"220 ok\r\n", "250-a\r\n250 b\r\n", "554 5.7.1 x\r\n", "\x00\x01", "250-\n250 \n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := readReply(bufio.NewReader(strings.NewReader(in)), func(string, int) {})
		if err == nil {
			if r.Code < 200 || r.Code > 599 || len(r.Lines) == 0 || len(r.Lines) > maxReplyLines {
				t.Fatalf("bad reply %+v", r)
			}
			for _, l := range r.Lines {
				if len(l) > maxReplyLineLen+2 {
					t.Fatalf("line too long")
				}
			}
			_ = r.Text()
			_ = QueueID(r)
		}
	})
}

func TestFQDNFromHosts(t *testing.T) {
	path := t.TempDir() + "/hosts"
	os.WriteFile(path, []byte("127.0.0.1 localhost\n192.0.2.5 mail.example.org mail # comment\n::1 ip6-localhost\n127.0.1.1 box\n"), 0o644)
	for host, want := range map[string]string{"mail": "mail.example.org", "MAIL": "mail.example.org", "box": "", "nothere": "", "localhost": ""} {
		if got := fqdnFromHosts(path, host); got != want {
			t.Errorf("fqdnFromHosts(%q) = %q, want %q", host, got, want)
		}
	}
	if name := DefaultEHLOName(context.Background(), &net.TCPAddr{IP: net.ParseIP("192.0.2.9")}); name == "" || strings.HasPrefix(strings.ToLower(name), "localhost") {
		t.Fatalf("DefaultEHLOName = %q", name)
	}
}
