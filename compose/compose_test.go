package compose

import (
	"bytes"
	"encoding/base64"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixed returns options with a fixed clock, host and random source, so the
// output is byte-for-byte reproducible.
func fixed(o Options) Options {
	o.Now = time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", -5*3600))
	if o.Hostname == "" {
		o.Hostname = "probe.example.org"
	}
	o.ToolName, o.ToolVersion = "smtpprobe", "1.2.3"
	o.Rand = bytes.NewReader(bytes.Repeat([]byte{0xab, 0xcd, 0x01}, 100))
	return o
}

// readAll builds the message, reads it and checks the invariants every
// message must meet: CRLF line endings only, a final CRLF, and a Size that
// is exact when it is announced.
func readAll(t *testing.T, o Options) string {
	t.Helper()
	m, err := Build(o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	b, err := io.ReadAll(m)
	if err != nil {
		t.Fatalf("reading the message: %v", err)
	}
	checkInvariants(t, b, m.Size)
	return string(b)
}

func checkInvariants(t *testing.T, b []byte, size int64) {
	t.Helper()
	if size >= 0 && size != int64(len(b)) {
		t.Errorf("Size = %d, but the message has %d bytes", size, len(b))
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Errorf("message does not end with CRLF: %q", tail(b))
	}
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			t.Errorf("bare LF at byte %d: %q", i, b[max(0, i-20):i+1])
			break
		}
	}
}

func tail(b []byte) []byte { return b[max(0, len(b)-20):] }

func TestBuildGolden(t *testing.T) {
	to := []string{"rcpt@example.net", "other@example.net"}
	tests := []struct {
		name string
		opts Options
	}{
		{"default", Options{From: "sender@example.org", To: to}},
		{"null-sender-no-rcpt", Options{}},
		{"headers", Options{
			From: "sender@example.org", To: to, Cc: []string{"cc@example.net"}, Bcc: []string{"bcc@example.net"},
			Headers:    []string{"Subject: custom %DATE%", "x-mailer: replaced, matched without regard to case", `X-Two: first\nX-Three: folded\n  second line`},
			AddHeaders: []string{"X-Added: 1", `X-Added: 2\n`},
		}},
		{"body-literal", Options{From: "sender@example.org", To: to, Body: `Line one\nLine two for %TO_ADDRESS% via %NEWLINE%..DATE..`}},
		{"body-file", Options{From: "sender@example.org", To: to, Body: "@testdata/body.txt"}},
		{"attach", Options{
			From: "sender@example.org", To: to, Body: "See the attachments.",
			Attach: []Attachment{
				{Path: "@testdata/report.pdf"},
				{Path: "testdata/report.pdf", Name: "renamed.bin", ContentType: "application/x-test"},
				{Path: "@testdata/report.pdf", NoName: true},
				{Path: "inline literal content"},
				{Path: "@@literal starting with an at sign", Name: "résumé été.txt", ContentType: "text/plain"},
			},
		}},
		{"attach-body-alternative", Options{
			From: "sender@example.org", To: to,
			AttachBody: []Attachment{{Path: "plain text body"}, {Path: "<p>html body</p>", ContentType: "text/html"}},
		}},
		{"attach-body-alternative-mixed", Options{
			From: "sender@example.org", To: to,
			AttachBody: []Attachment{{Path: "plain text body"}, {Path: "<p>html body</p>", ContentType: "text/html"}},
			Attach:     []Attachment{{Path: "@testdata/report.pdf"}},
		}},
		{"data-literal", Options{
			From: "sender@example.org", To: to,
			Data:       `From mbox-line@example.org Fri Jan  2 03:04:05 2026\nSubject: data\nX-Old: old\n\nBody for %FROM_ADDRESS% ..TO_ADDRESS..\n..notatoken..\n.\n`,
			Headers:    []string{"X-Old: new"},
			AddHeaders: []string{"X-Added: yes"},
		}},
		{"data-file-body-attach", Options{
			From: "sender@example.org", To: to, Data: "@testdata/data.eml", Body: "Spliced body.",
			Attach: []Attachment{{Path: "@testdata/report.pdf"}}, AddHeaders: []string{"X-Added: yes"},
		}},
		{"data-no-fixup", Options{From: "sender@example.org", To: to, NoDataFixup: true, Data: "@testdata/data.eml"}},
		{"data-keep-from", Options{From: "sender@example.org", To: to, NoStripFrom: true, Data: "@testdata/data.eml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, fixed(tt.opts))
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("message differs from %s\n--- got ---\n%s\n--- want ---\n%s", golden, got, want)
			}
		})
	}
}

// TestDefaultMessageFields checks the RFC 5322 essentials of the default
// message without relying on a golden file.
func TestDefaultMessageFields(t *testing.T) {
	got := readAll(t, fixed(Options{From: "a@example.org", To: []string{"b@example.net"}}))
	head, body, ok := strings.Cut(got, "\r\n\r\n")
	if !ok {
		t.Fatalf("no blank line after the header:\n%s", got)
	}
	head += "\r\n"
	for _, re := range []string{
		`(?m)^Date: Fri, 02 Jan 2026 03:04:05 -0500\r$`,
		`(?m)^Message-ID: <20260102030405\.[0-9a-f]{16}@probe\.example\.org>\r$`,
		`(?m)^From: a@example\.org\r$`,
		`(?m)^To: b@example\.net\r$`,
		`(?m)^Subject: test Fri, 02 Jan 2026 03:04:05 -0500\r$`,
		`(?m)^MIME-Version: 1\.0\r$`,
		`(?m)^Content-Type: text/plain; charset=utf-8\r$`,
		`(?m)^X-Mailer: smtpprobe 1\.2\.3\r$`,
	} {
		if !regexp.MustCompile(re).MatchString(head) {
			t.Errorf("header does not match %s:\n%s", re, head)
		}
	}
	if !strings.HasPrefix(body, "This is a test mailing from smtpprobe 1.2.3 on probe.example.org.") {
		t.Errorf("unexpected default body %q", body)
	}
}

func TestValidateHeader(t *testing.T) {
	tests := []struct {
		h       string
		wantErr string // substring; "" for valid
	}{
		{"Subject: hello", ""},
		{"Subject:", ""},
		{"X-Folded: a\\n  b", ""},
		{"X-A: 1\\nX-B: 2", ""},
		{"X-A: 1%NEWLINE%X-B: 2", ""},
		{"X-Trailing: 1\\n", ""},
		{"X-Utf8: héllo", ""},
		{"Subject: a\r\nBcc: victim@example.net", `"Subject": contains a CR or LF`},
		{"Subject: a\nBcc: x", `"Subject": contains a CR or LF`},
		{"Sub\rject: a", "contains a CR or LF"},
		{"X-Nul: a\x00b", `"X-Nul": contains a NUL`},
		{"NoColon", "no ':'"},
		{": value", "empty field name"},
		{"Bad Name: x", "field name contains ' '"},
		{"Bad\tName: x", "field name contains"},
		{"Bad\x7fName: x", "field name contains"},
		{"X-A: 1\\nbad line", "no ':'"},
		{"\\n  folded first", "starts with a folded"},
		{"", "empty"},
		{"\\n", "empty"},
		{"Subject: %BODY%", "%BODY% token is not allowed"},
		{"Subject: ..NEW_HEADERS..", "token is not allowed"},
	}
	for _, tt := range tests {
		err := ValidateHeader(tt.h)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("ValidateHeader(%q) = %v, want nil", tt.h, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("ValidateHeader(%q) = nil, want an error containing %q", tt.h, tt.wantErr)
		case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
			t.Errorf("ValidateHeader(%q) = %q, want it to contain %q", tt.h, err, tt.wantErr)
		}
	}
}

// TestBuildRejectsInjection checks that CR/LF from any user value is an
// error naming the value, never a new header line.
func TestBuildRejectsInjection(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"header", Options{Headers: []string{"Subject: x\r\nBcc: v@example.net"}}, `--header: header "Subject"`},
		{"add-header", Options{AddHeaders: []string{"X-A: x\nBcc: v@example.net"}}, `--add-header: header "X-A"`},
		{"from", Options{From: "a@example.org\r\nBcc: v@example.net"}, "sender"},
		{"to", Options{To: []string{"ok@example.net", "b@example.net\nBcc: v"}}, "recipient"},
		{"cc", Options{Cc: []string{"c@example.net\r"}}, "Cc recipient"},
		{"hostname", Options{Hostname: "host\r\nBcc: x"}, "hostname"},
		{"attach-name", Options{Attach: []Attachment{{Path: "x", Name: "a\r\nb"}}}, "attachment 1: file name"},
		{"attach-type", Options{Attach: []Attachment{{Path: "x", ContentType: "text/plain\r\nX: y"}}}, "attachment 1: content type"},
		{"attach-type-invalid", Options{Attach: []Attachment{{Path: "x", ContentType: "not a type"}}}, "attachment 1: content type"},
		{"attach-type-multipart", Options{Attach: []Attachment{{Path: "x", ContentType: "multipart/mixed"}}}, "cannot be multipart"},
		{"tool-version", Options{ToolVersion: "1\n2"}, "tool version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := fixed(tt.opts)
			if tt.opts.Hostname != "" {
				o.Hostname = tt.opts.Hostname
			}
			if tt.opts.ToolVersion != "" {
				o.ToolVersion = tt.opts.ToolVersion
			}
			m, err := Build(o)
			if err == nil {
				m.Close()
				t.Fatalf("Build succeeded, want an error containing %q", tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestHostnameFallback(t *testing.T) {
	tests := []struct{ host, want string }{
		{"mx.example.org", "@mx.example.org>"},
		{"[192.0.2.1]", "@[192.0.2.1]>"},
		{"[IPv6:2001:db8::1]", "@[IPv6:2001:db8::1]>"},
		{"a..DATE..b", "@localhost>"},
		{"bogus ehlo name", "@localhost>"},
		{"<x>", "@localhost>"},
	}
	for _, tt := range tests {
		got := readAll(t, fixed(Options{Hostname: tt.host}))
		if !strings.Contains(got, tt.want) {
			t.Errorf("Hostname %q: Message-ID lacks %q:\n%s", tt.host, tt.want, got)
		}
	}
}

func TestFileErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.eml")
	tests := []struct {
		name string
		opts Options
	}{
		{"data-at", Options{Data: "@" + missing}},
		{"data-bare", Options{Data: missing}},
		{"body", Options{Body: "@" + missing}},
		{"attach", Options{Attach: []Attachment{{Path: "@" + missing}}}},
		{"attach-body", Options{AttachBody: []Attachment{{Path: "@" + missing}}}},
		{"directory", Options{Attach: []Attachment{{Path: "@" + dir}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build(fixed(tt.opts))
			if err == nil {
				m.Close()
				t.Fatal("Build succeeded with a missing file")
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name the path", err)
			}
		})
	}
}

// TestArgumentForms checks swaks's From-File rules for each option.
func TestArgumentForms(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "content.txt")
	if err := os.WriteFile(file, []byte("FILE CONTENT\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(dataFile, []byte("Subject: from file\n\nDATA FILE BODY\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		opts     Options
		want     []string
		dontWant []string
	}{
		{"body-literal-even-if-file-exists", Options{Body: file}, []string{"\r\n\r\n" + file + "\r\n"}, []string{"FILE CONTENT"}},
		{"body-at-file", Options{Body: "@" + file}, []string{"FILE CONTENT"}, nil},
		{"body-at-at", Options{Body: "@@" + file}, []string{"\r\n@" + file + "\r\n"}, nil},
		{"body-stdin", Options{Body: "-", Stdin: strings.NewReader("FROM STDIN")}, []string{"FROM STDIN"}, nil},
		{"data-bare-path", Options{Data: dataFile}, []string{"Subject: from file", "DATA FILE BODY"}, nil},
		{"data-literal-with-escape", Options{Data: `Subject: lit\n\nliteral body`}, []string{"Subject: lit\r\n\r\nliteral body\r\n"}, nil},
		{"data-literal-with-newline-token", Options{Data: `Subject: lit%NEWLINE%%NEWLINE%token body`}, []string{"Subject: lit\r\n\r\ntoken body\r\n"}, nil},
		{"data-stdin", Options{Data: "-", Stdin: strings.NewReader("Subject: in\n\nstdin data\n")}, []string{"Subject: in\r\n\r\nstdin data\r\n"}, nil},
		{"data-at-at", Options{Data: `@@lit\nX: y`}, []string{"@lit\r\nX: y\r\n"}, nil},
		{"attach-bare-existing-path", Options{Attach: []Attachment{{Path: file}}}, []string{`filename=content.txt`, "RklMRSBDT05URU5UCg=="}, nil},
		{"attach-bare-literal", Options{Attach: []Attachment{{Path: "no such file here"}}}, []string{"bm8gc3VjaCBmaWxlIGhlcmU="}, []string{"filename="}},
		{"attach-guess-type", Options{Attach: []Attachment{{Path: "@testdata/report.pdf"}}}, []string{"Content-Type: application/pdf; name=report.pdf"}, nil},
		{"attach-name-guess-type", Options{Attach: []Attachment{{Path: "x", Name: "pic.png"}}}, []string{"Content-Type: image/png; name=pic.png"}, nil},
		{"attach-default-type", Options{Attach: []Attachment{{Path: "x"}}}, []string{"Content-Type: application/octet-stream\r\n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := readAll(t, fixed(tt.opts))
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("message lacks %q:\n%s", w, got)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(got, w) {
					t.Errorf("message has %q:\n%s", w, got)
				}
			}
		})
	}
}

func TestStdinErrors(t *testing.T) {
	if _, err := Build(fixed(Options{Body: "-"})); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Fatalf("Build with \"-\" and no Stdin: err = %v, want one about standard input", err)
	}
	// --data from stdin with two %BODY% tokens and the body from a FIFO-like
	// single-use source: the second use must be an error, not empty content.
	o := fixed(Options{Data: `Subject: x\n\n%BODY% %BODY%`, Body: "-", Stdin: strings.NewReader("once")})
	m, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Size != -1 {
		t.Errorf("Size = %d for a single-use source, want -1", m.Size)
	}
	_, err = io.ReadAll(m)
	if err == nil || !strings.Contains(err.Error(), "only once") {
		t.Fatalf("reading: err = %v, want a read-only-once error", err)
	}
}

// TestStdinSharedAndSpooled checks swaks's "same content each time" rule
// for a "-" given to several options, and that the spool file goes away.
func TestStdinSharedAndSpooled(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	o := fixed(Options{
		Body:   "-",
		Attach: []Attachment{{Path: "-"}, {Path: "-", ContentType: "text/html"}},
		Stdin:  strings.NewReader("shared stdin\n"),
	})
	m, err := Build(o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(m)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, b, m.Size)
	if m.Size < 0 {
		t.Errorf("Size unknown although stdin was spooled to a file")
	}
	got := string(b)
	if n := strings.Count(got, "c2hhcmVkIHN0ZGluCg=="); n != 2 {
		t.Errorf("want stdin attached twice, found %d times:\n%s", n, got)
	}
	if !strings.Contains(got, "\r\n\r\nshared stdin\r\n") {
		t.Errorf("body lacks stdin content:\n%s", got)
	}
	// The spool is unlinked as soon as it is made: an interrupted probe
	// leaves no copy of the message on disk.
	if spooled, _ := filepath.Glob(filepath.Join(tmp, "smtpprobe-stdin-*")); len(spooled) != 0 {
		t.Errorf("spool file visible in %s while the message is open: %v", tmp, spooled)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) != 0 {
		t.Errorf("files left behind after Close: %v", left)
	}
}

// TestSizeExact checks the announced size against the bytes produced for
// attachment lengths around every base64 and line-wrap boundary.
func TestSizeExact(t *testing.T) {
	dir := t.TempDir()
	for n := 0; n <= 400; n += 1 + n/40 {
		p := filepath.Join(dir, "att.bin")
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(n)}, n), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, o := range []Options{
			{Attach: []Attachment{{Path: "@" + p}}},
			{Attach: []Attachment{{Path: "@" + p}, {Path: "x" + strings.Repeat("y", n)}}, Body: "@testdata/body.txt"},
			{AttachBody: []Attachment{{Path: "@" + p, ContentType: "text/html"}, {Path: "t"}}},
			{Data: `Subject: s\n\n%BODY%\n%BODY%`, Attach: []Attachment{{Path: "@" + p}}},
			{Data: `Subject: s\n\nno body token`, Attach: []Attachment{{Path: "@" + p}}},
		} {
			m, err := Build(fixed(o))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(m)
			m.Close()
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != int64(len(b)) {
				t.Fatalf("attachment of %d bytes, options %+v: Size = %d, read %d", n, o, m.Size, len(b))
			}
		}
	}
}

func TestBase64Len(t *testing.T) {
	for n := 0; n < 2000; n++ {
		var buf bytes.Buffer
		w := &lineWrapper{w: &buf}
		enc := base64.NewEncoder(base64.StdEncoding, w)
		if _, err := enc.Write(bytes.Repeat([]byte{0xff}, n)); err != nil {
			t.Fatal(err)
		}
		if err := enc.Close(); err != nil {
			t.Fatal(err)
		}
		if got := base64Len(int64(n)); got != int64(buf.Len()) {
			t.Fatalf("base64Len(%d) = %d, encoder wrote %d", n, got, buf.Len())
		}
		for _, line := range strings.Split(buf.String(), "\r\n") {
			if len(line) > 76 {
				t.Fatalf("n=%d: line of %d characters", n, len(line))
			}
		}
	}
}

// TestFileShrinks checks that a file cut short after Build makes reading
// fail instead of sending fewer bytes than announced.
func TestFileShrinks(t *testing.T) {
	p := filepath.Join(t.TempDir(), "shrinks.bin")
	if err := os.WriteFile(p, make([]byte, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Build(fixed(Options{Attach: []Attachment{{Path: "@" + p}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(m); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want a shrink error naming %s", err, p)
	}
}

func TestDataHeaderTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "noblank.txt")
	line := strings.Repeat("y", 999) + "\n"
	if err := os.WriteFile(p, []byte("From x\n"+strings.Repeat(line, 1100)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Build(fixed(Options{Data: "@" + p, AddHeaders: []string{"X: y"}})); err == nil || !strings.Contains(err.Error(), "no blank line") {
		t.Fatalf("err = %v, want a no-blank-line error", err)
	}
	got := readAll(t, fixed(Options{Data: "@" + p}))
	if !strings.HasPrefix(got, strings.Repeat("y", 999)+"\r\n") || strings.Count(got, "\r\n") != 1100 {
		t.Fatalf("unedited data not passed through (From_ stripped): starts %q, %d lines", got[:20], strings.Count(got, "\r\n"))
	}
}

func TestEightBitDeclared(t *testing.T) {
	for _, tt := range []struct {
		body     string
		eightBit bool
	}{
		{"", false},                  // the default body is ASCII
		{"plain ascii", false},       // literal, checked
		{"grüße aus köln", true},     // literal with UTF-8
		{"@testdata/body.txt", true}, // a file is not read twice to find out
	} {
		m, err := Build(Options{From: "a@b.example", To: []string{"c@d.example"}, Body: tt.body, Hostname: "h.example", Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(m.Reader)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		hasCTE := strings.Contains(string(b), "\r\nContent-Transfer-Encoding: 8bit\r\n")
		if m.EightBit != tt.eightBit || hasCTE != tt.eightBit {
			t.Errorf("body %q: EightBit %v, CTE 8bit %v, want %v", tt.body, m.EightBit, hasCTE, tt.eightBit)
		}
	}
}

func TestUTF8HeadersReported(t *testing.T) {
	for _, tt := range []struct {
		headers []string
		want    bool
	}{{nil, false}, {[]string{"Subject: plain"}, false}, {[]string{"Subject: Grüße"}, true}} {
		m, err := Build(Options{From: "a@b.example", To: []string{"c@d.example"}, Headers: tt.headers, Hostname: "h.example", Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		m.Close()
		if m.UTF8Headers != tt.want {
			t.Errorf("%q: UTF8Headers %v", tt.headers, m.UTF8Headers)
		}
	}
}
