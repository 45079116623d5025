package explain

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// seedLines adds every line of the sample files as a seed.
func seedLines(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, file := range files {
		if strings.HasSuffix(file, ".golden") || strings.Contains(file, "/fuzz") {
			continue
		}
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for l := range strings.SplitSeq(string(b), "\n") {
			f.Add(l)
		}
	}
}

// checkFindings asserts what every finding must satisfy.
func checkFindings(t *testing.T, fs []Finding) {
	t.Helper()
	for _, f := range fs {
		if len(f.Lines) == 0 {
			t.Fatalf("finding without lines: %+v", f)
		}
		if !slices.Contains(ValidPhases(), f.Phase) {
			t.Fatalf("invalid phase %q", f.Phase)
		}
		for _, l := range f.Lines {
			if !utf8.ValidString(l) {
				t.Fatalf("invalid UTF-8 in %q", l)
			}
			if strings.ContainsFunc(l, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
				t.Fatalf("control character in %q", l)
			}
			if len(l) > maxHeaderBytes+64 {
				t.Fatalf("line of %d bytes", len(l))
			}
		}
	}
}

func drain(sc *Scanner) []Finding {
	sc.flush()
	out := append([]Finding(nil), sc.queue[sc.head:]...)
	sc.queue, sc.head = sc.queue[:0], 0
	return out
}

func FuzzScanner(f *testing.F) {
	files, _ := filepath.Glob("testdata/*")
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil && !strings.HasSuffix(file, ".golden") {
			f.Add(b)
		}
	}
	f.Add([]byte("\x00\r\r\n550-\n550"))
	f.Fuzz(func(t *testing.T, in []byte) {
		sc := NewScanner(strings.NewReader(string(in)))
		var fs []Finding
		for sc.Scan() {
			fs = append(fs, sc.Finding())
		}
		checkFindings(t, fs)
		for _, x := range fs {
			if x.Line < 1 || x.Line > sc.Lines()+1 {
				t.Fatalf("line %d outside 1..%d", x.Line, sc.Lines())
			}
		}
	})
}

func FuzzPostfixLine(f *testing.F) {
	seedLines(f)
	f.Fuzz(func(t *testing.T, s string) {
		sc := NewScanner(strings.NewReader(""))
		sc.postfixLine(s, false, 1)
		checkFindings(t, drain(sc))
	})
}

func FuzzEximLine(f *testing.F) {
	seedLines(f)
	f.Fuzz(func(t *testing.T, s string) {
		sc := NewScanner(strings.NewReader(""))
		sc.eximLine(s, false, 1)
		checkFindings(t, drain(sc))
	})
}

func FuzzSendmailLine(f *testing.F) {
	seedLines(f)
	f.Fuzz(func(t *testing.T, s string) {
		sc := NewScanner(strings.NewReader(""))
		sc.sendmailLine(s, false, 1)
		checkFindings(t, drain(sc))
	})
}

func FuzzBounceLine(f *testing.F) {
	seedLines(f)
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // callers never pass an empty line
		}
		sc := NewScanner(strings.NewReader(""))
		if !sc.bounceLine(s, false, 1) {
			sc.genericLine(s, false, 1)
		}
		checkFindings(t, drain(sc))
	})
}

func FuzzReport(f *testing.F) {
	for _, name := range []string{"testdata/postfix-bounce.eml", "testdata/exchange-report.eml", "testdata/dsn-fields.txt"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		sc := NewScanner(strings.NewReader(""))
		for _, x := range sc.parseReport(raw, 1) {
			sc.emit(x)
		}
		checkFindings(t, drain(sc))
	})
}

func FuzzSplitEmbedded(f *testing.F) {
	f.Add("550-5.1.1 a 550-5.1.1 b 550 5.1.1 c")
	f.Add(`550-first\n550 last`)
	f.Add("554 5.7.1 single")
	f.Fuzz(func(t *testing.T, s string) {
		got := splitEmbedded(s)
		if len(got) == 0 {
			t.Fatal("no lines")
		}
		if len(got) > 1 {
			for _, l := range got {
				if l == "" {
					t.Fatalf("empty line in %q", got)
				}
			}
		}
		// Splitting only cuts at blanks or a literal \n: no text is lost.
		strip := func(x string) string {
			return strings.Join(strings.Fields(strings.ReplaceAll(x, `\n`, " ")), "")
		}
		if strip(strings.Join(got, " ")) != strip(s) {
			t.Fatalf("text changed: %q -> %q", s, got)
		}
	})
}

func FuzzStripPrefix(f *testing.F) {
	seedLines(f)
	f.Fuzz(func(t *testing.T, s string) {
		got, _ := stripPrefix(s)
		if !strings.HasSuffix(s, got) {
			t.Fatalf("stripPrefix(%q) = %q is not a suffix", s, got)
		}
		if code, _, ok := replyCode(strings.TrimLeft(s, " \t")); ok && !strings.HasPrefix(got, code) {
			t.Fatalf("reply code stripped from %q: %q", s, got)
		}
	})
}
