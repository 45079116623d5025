package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// TestHelpGolden keeps every --help output as a golden file, and checks what
// a terminal would mangle: no control bytes (pflag prints an optional
// value's internal marker, a NUL, in its own listing) and one layout for
// every subcommand: "Usage:" first, then "Options:", then one flag a line.
func TestHelpGolden(t *testing.T) {
	tests := []struct {
		name    string
		asSwaks bool
		args    []string
	}{
		{"probe", false, []string{"--help"}},
		{"probe-help", false, []string{"help"}},
		{"demo", false, []string{"demo", "--help"}},
		{"explain", false, []string{"explain", "--help"}},
		{"relay-check", false, []string{"relay-check", "--help"}},
		{"dns", false, []string{"dns", "--help"}},
		{"swaks", true, []string{"--help"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var out, errOut string
			if tc.asSwaks {
				code, out, errOut = runAsSwaks(t, tc.args...)
			} else {
				code, out, errOut = runCLI(t, "", tc.args...)
			}
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for i, r := range out {
				if r != '\n' && (unicode.IsControl(r) || r == unicode.ReplacementChar) {
					t.Fatalf("control byte %q at %d: %q", r, i, out[max(0, i-40):min(len(out), i+10)])
				}
			}
			if !strings.HasPrefix(out, "Usage: probe") && !(tc.asSwaks && strings.HasPrefix(out, "Usage: swaks")) {
				t.Errorf("does not start with the usage line: %q", firstLine(out))
			}
			_, opts, ok := strings.Cut(out, "\n\nOptions:\n")
			if !ok {
				t.Fatalf("no Options: section")
			}
			for _, l := range strings.Split(strings.TrimRight(opts, "\n"), "\n") {
				if !strings.HasPrefix(l, "  -") {
					t.Errorf("option line not in the common layout: %q", l)
				}
			}
			path := filepath.Join("testdata", "help", tc.name+".txt")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/probe -run HelpGolden -update)", err)
			}
			if out != string(want) {
				t.Errorf("help differs from %s (run with -update after checking):\n%s", path, out)
			}
		})
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
