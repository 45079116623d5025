package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden transcripts in examples/transcripts")

// volatile parts of a transcript: ports, clocks, random IDs.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "127.0.0.1:PORT"},
	{regexp.MustCompile(`in \d+\.\d ms`), "in N ms"},
	{regexp.MustCompile(`[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}`), "DATE"},
	{regexp.MustCompile(`<[0-9a-f.]+@client\.example>`), "<MESSAGE-ID@client.example>"},
	{regexp.MustCompile(`expires \d{4}-\d\d-\d\d`), "expires DATE"},
	{regexp.MustCompile(`SIZE=\d+`), "SIZE=N"},
	{regexp.MustCompile(`\(message, \d+ bytes\)`), "(message, N bytes)"},
	{regexp.MustCompile(`\d+ bytes in all`), "N bytes in all"},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// TestGoldenTranscripts keeps examples/transcripts as the reference of what
// users see: the whole dialog and the annotation, per scenario.
func TestGoldenTranscripts(t *testing.T) {
	for _, name := range []string{"relay-denied", "blocklisted-ip", "spam-content", "submission-ok", "tls-required", "starttls-injection", "partial-rcpt"} {
		t.Run(name, func(t *testing.T) {
			code, out, errOut := runCLI(t, "", "demo", name)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
			}
			got := normalize(out)
			path := filepath.Join("..", "..", "examples", "transcripts", name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/probe -run Golden -update)", err)
			}
			if got != string(want) {
				t.Fatalf("transcript differs from %s (run with -update after checking):\n%s", path, got)
			}
		})
	}
}
