package explain

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// describe renders a finding on one line for golden files.
func describe(f Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "L%d %s phase=%s", f.Line, f.Source, f.Phase)
	for _, kv := range [][2]string{{"host", f.Host}, {"ip", f.HostIP}, {"client", f.ClientHost}, {"client_ip", f.ClientIP},
		{"helo", f.Helo}, {"from", f.Sender}, {"rcpt", f.Recipient}, {"status", f.Status}} {
		if kv[1] != "" {
			fmt.Fprintf(&b, " %s=%s", kv[0], kv[1])
		}
	}
	if f.Truncated {
		b.WriteString(" truncated")
	}
	if f.Unterminated {
		b.WriteString(" unterminated")
	}
	b.WriteString("\n")
	for _, l := range f.Lines {
		fmt.Fprintf(&b, "    | %s\n", l)
	}
	return b.String()
}

func scanAll(t testing.TB, input string) []Finding {
	t.Helper()
	sc := NewScanner(strings.NewReader(input))
	var out []Finding
	for sc.Scan() {
		out = append(out, sc.Finding())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

// TestScanGolden runs the scanner over real-world samples of every input
// kind and compares with reviewed golden output (go test -update rewrites).
func TestScanGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, ".golden") || strings.Contains(file, "/fuzz") {
			continue
		}
		t.Run(filepath.Base(file), func(t *testing.T) {
			in, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range scanAll(t, string(in)) {
				b.WriteString(describe(f))
			}
			got := b.String()
			golden := file + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden (run go test -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("findings differ from %s\n--- got\n%s\n--- want\n%s", golden, got, want)
			}
		})
	}
}
