package compose

import (
	"bufio"
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

var testValues = map[string]string{
	"NEWLINE":       "\r\n",
	"FROM_ADDRESS":  "from@example.org",
	"TO_ADDRESS":    "a@example.net, b@example.net",
	"CC_ADDRESS":    "",
	"BCC_ADDRESS":   "bcc@example.net",
	"MESSAGEID":     "20260102.abc@host",
	"SWAKS_VERSION": "1.2.3",
	"DATE":          "Fri, 02 Jan 2026 03:04:05 +0000",
}

// referenceExpand is the specification: one leftmost-first regular
// expression pass, as swaks's s///g would do if all its substitutions were
// a single one.
var referenceToken = regexp.MustCompile(`%(NEWLINE|FROM_ADDRESS|TO_ADDRESS|CC_ADDRESS|BCC_ADDRESS|MESSAGEID|SWAKS_VERSION|DATE)%|\.\.(NEWLINE|FROM_ADDRESS|TO_ADDRESS|CC_ADDRESS|BCC_ADDRESS|MESSAGEID|SWAKS_VERSION|DATE)\.\.|\\n`)

func referenceExpand(s string) string {
	return referenceToken.ReplaceAllStringFunc(s, func(m string) string {
		if m == `\n` {
			return "\r\n"
		}
		return testValues[strings.Trim(m, "%.")]
	})
}

// readers returns the ways a test reads a stream: whole, one byte at a
// time and in halves, so that tokens cut by read boundaries are covered.
func readers(s string) map[string]io.Reader {
	return map[string]io.Reader{
		"whole":   strings.NewReader(s),
		"onebyte": iotest.OneByteReader(strings.NewReader(s)),
		"half":    iotest.HalfReader(strings.NewReader(s)),
	}
}

func TestExpander(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{"%DATE%", testValues["DATE"]},
		{"..DATE..", testValues["DATE"]},
		{"%DATE..", "%DATE.."},
		{"..DATE%", "..DATE%"},
		{"%%DATE%%", "%" + testValues["DATE"] + "%"},
		{"...DATE...", "." + testValues["DATE"] + "."},
		{"%UNKNOWN%DATE%", "%UNKNOWN" + testValues["DATE"]},
		{"%date%", "%date%"},
		{"%CC_ADDRESS%|", "|"},
		{`a\nb`, "a\r\nb"},
		{`a\\nb`, "a\\\r\nb"},
		{`a\b\`, `a\b\`},
		{"%NEWLINE%", "\r\n"},
		{"%NEW_HEADERS% %BODY%", "%NEW_HEADERS% %BODY%"},
		{"%SWAKS_VERSION%", "1.2.3"},
		{"%ABCDEFGHIJKLMNOPQ%", "%ABCDEFGHIJKLMNOPQ%"},
		{"trailing %", "trailing %"},
		{"trailing ..", "trailing .."},
		{"trailing %DAT", "trailing %DAT"},
		{"trailing ..DATE.", "trailing ..DATE."},
		{"%FROM_ADDRESS%%TO_ADDRESS%", "from@example.orga@example.net, b@example.net"},
	}
	for _, tt := range tests {
		if ref := referenceExpand(tt.in); ref != tt.want {
			t.Fatalf("test table disagrees with the reference for %q: %q vs %q", tt.in, tt.want, ref)
		}
		for name, r := range readers(tt.in) {
			got, err := io.ReadAll(newExpander(r, testValues, nil))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("%s: expand(%q) = %q, want %q", name, tt.in, got, tt.want)
			}
		}
	}
}

func TestExpanderSplice(t *testing.T) {
	opened := 0
	splice := func() (io.Reader, error) {
		opened++
		return iotest.OneByteReader(strings.NewReader(`[body %DATE% %BODY%\n]`)), nil
	}
	got, err := io.ReadAll(newExpander(iotest.HalfReader(strings.NewReader("a %BODY% b ..BODY.. c")), testValues, splice))
	if err != nil {
		t.Fatal(err)
	}
	body := "[body " + testValues["DATE"] + " %BODY%\r\n]"
	if want := "a " + body + " b " + body + " c"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if opened != 2 {
		t.Errorf("splice opened %d times, want 2", opened)
	}
}

// TestExpanderBoundedOutput checks that a chunk full of tokens with a long
// value does not expand into memory all at once.
func TestExpanderBoundedOutput(t *testing.T) {
	long := strings.Repeat("r@example.net, ", 5000)
	in := strings.Repeat("%TO_ADDRESS%", 3000)
	e := newExpander(strings.NewReader(in), map[string]string{"TO_ADDRESS": long}, nil)
	buf := make([]byte, 1024)
	total := 0
	for {
		n, err := e.Read(buf)
		total += n
		if e.out.Cap() > 4*maxPendingOut+len(long) {
			t.Fatalf("pending output grew to %d bytes", e.out.Cap())
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != 3000*len(long) {
		t.Fatalf("expanded %d bytes, want %d", total, 3000*len(long))
	}
}

func TestFinisher(t *testing.T) {
	tests := []struct {
		in, want string
		stripDot bool
	}{
		{"", "\r\n", true},
		{"a", "a\r\n", true},
		{"a\n", "a\r\n", true},
		{"a\r\n", "a\r\n", true},
		{"\nstart", "\r\nstart\r\n", true},
		{"a\nb\r\nc\n\nd", "a\r\nb\r\nc\r\n\r\nd\r\n", true},
		{"lone\rcr", "lone\rcr\r\n", true},
		{"body\r\n.\r\n", "body\r\n", true},
		{"body\n.\n", "body\r\n", true},
		{"body\n.", "body\r\n", true},
		{"body\r\n.\r", "body\r\n", true},
		{"body\n.\n\n", "body\r\n", true},
		{"body\r\n.\r\n", "body\r\n.\r\n", false},
		{"body\r\n..\r\n", "body\r\n..\r\n", true},
		{"body\r\n. \r\n", "body\r\n. \r\n", true},
		{".\r\n", ".\r\n", true},
		{"\n.", "\r\n", true},
	}
	for _, tt := range tests {
		for name, r := range readers(tt.in) {
			got, err := io.ReadAll(newFinisher(r, tt.stripDot))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("%s: finish(%q, stripDot=%v) = %q, want %q", name, tt.in, tt.stripDot, got, tt.want)
			}
		}
	}
}

func TestReadHeaderSection(t *testing.T) {
	tests := []struct {
		in        string
		wantLines []string
		wantRest  string
	}{
		{"A: 1\nB: 2\n\nbody", []string{"A: 1", "B: 2"}, "body"},
		{"A: 1\r\n\r\nbody\r\n", []string{"A: 1"}, "body\r\n"},
		{"A: 1\nB: 2", []string{"A: 1", "B: 2"}, ""},
		{"\n\nbody", []string{""}, "body"},
		{"\nA: 1\n\nbody", []string{"", "A: 1"}, "body"},
		{"", nil, ""},
	}
	for _, tt := range tests {
		br := bufioReader(tt.in)
		lines, _, err := readHeaderSection(br, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		rest, _ := io.ReadAll(br)
		if strings.Join(lines, "|") != strings.Join(tt.wantLines, "|") || len(lines) != len(tt.wantLines) || string(rest) != tt.wantRest {
			t.Errorf("readHeaderSection(%q) = %q, rest %q; want %q, rest %q", tt.in, lines, rest, tt.wantLines, tt.wantRest)
		}
	}
	if _, _, err := readHeaderSection(bufioReader(strings.Repeat("x", 100)), 50); err != errHeaderTooLarge {
		t.Errorf("over the limit: err = %v, want errHeaderTooLarge", err)
	}
}

func FuzzExpand(f *testing.F) {
	for _, s := range []string{"%DATE%", "..TO_ADDRESS..", `a\nb`, "%%NEWLINE%%", "...DATE...", "%X%DATE%", `\\n`, "%BODY%"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, chunk uint8) {
		want := referenceExpand(s)
		got, err := io.ReadAll(newExpander(&chunkReader{r: bytes.NewReader([]byte(s)), n: int(chunk%17) + 1}, testValues, nil))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("expand(%q) with %d-byte reads = %q, reference %q", s, chunk%17+1, got, want)
		}
	})
}

func FuzzFinish(f *testing.F) {
	for _, s := range []string{"a\n.\n", "\r\n.\r\n\n", "x\ny\r\n", "\r", "."} {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, s string, chunk uint8) {
		n := int(chunk%9) + 1
		got, err := io.ReadAll(newFinisher(&chunkReader{r: strings.NewReader(s), n: n}, true))
		if err != nil {
			t.Fatal(err)
		}
		// The reference: swaks's substitutions on the whole text, then CRLF.
		ref := s
		if m := trailingDot.FindStringSubmatchIndex(ref); m != nil {
			ref = ref[:m[2]] + ref[m[4]:m[5]]
		}
		var b strings.Builder
		for i := 0; i < len(ref); i++ {
			if ref[i] == '\n' && (i == 0 || ref[i-1] != '\r') {
				b.WriteByte('\r')
			}
			b.WriteByte(ref[i])
		}
		want := b.String()
		if !strings.HasSuffix(want, "\r\n") {
			want += "\r\n"
		}
		if string(got) != want {
			t.Fatalf("finish(%q) in %d-byte reads = %q, want %q", s, n, got, want)
		}
	})
}

// chunkReader returns at most n bytes per Read.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// bufioReader uses the smallest buffer bufio allows, so long lines go
// through the ErrBufferFull path of readHeaderSection.
func bufioReader(s string) *bufio.Reader { return bufio.NewReaderSize(strings.NewReader(s), 16) }
