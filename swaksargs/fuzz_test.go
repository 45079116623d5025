package swaksargs

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// FuzzTranslate feeds Translate arbitrary argument lists (NUL-separated in
// the fuzz input) and checks that it never panics, never invents a CR or LF,
// and only emits what pflag accepts.
func FuzzTranslate(f *testing.F) {
	for _, c := range translateCases {
		f.Add(strings.Join(c.args, "\x00"))
	}
	for _, s := range []string{
		"--h-X\x00a\rb", "--to\x00--no-to", "-S\x00-1", "--=x", "-=", "---", "-\x00--\x00-",
		"--no-h-\x00x", "--header-:\x00v", "-h-a:b\x00c", "--quit-after", "--auth=\n", "--no-",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, joined string) {
		args := strings.Split(joined, "\x00")
		inputHasNewline := strings.ContainsAny(joined, "\r\n")
		prompt := func(string) (string, error) { return "answer\r\n", nil }
		fs := leadFlagSet()
		out, err := Translate(args, fs, prompt)
		if err != nil {
			if out != nil {
				t.Fatalf("output %q with error %v", out, err)
			}
			return
		}
		for _, tok := range out {
			if !inputHasNewline && strings.ContainsAny(tok, "\r\n") {
				t.Fatalf("Translate(%q) produced %q with a CR/LF", args, tok)
			}
		}
		fs.SetOutput(io.Discard)
		if perr := fs.Parse(out); perr != nil && !errors.Is(perr, pflag.ErrHelp) &&
			!strings.Contains(perr.Error(), "invalid argument") {
			// "invalid argument" is a value the flag's type refuses
			// (--silent=99999999999999999999), which is the CLI's to report.
			t.Fatalf("pflag rejects Translate(%q) = %q: %v", args, out, perr)
		}
	})
}

// FuzzEditDistance checks the suggestion helper on arbitrary strings.
func FuzzEditDistance(f *testing.F) {
	f.Add("tsl", "tls")
	f.Add("", "timeout")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := editDistance(a, b, 3)
		if d < 0 || d > 3 {
			t.Fatalf("editDistance(%q, %q) = %d", a, b, d)
		}
		if a == b && d != 0 {
			t.Fatalf("editDistance(%q, %q) = %d, want 0", a, b, d)
		}
		if d2 := editDistance(b, a, 3); d2 != d {
			t.Fatalf("not symmetric: %d vs %d for %q, %q", d, d2, a, b)
		}
	})
}

// FuzzEnvArgs: any environment (NUL-separated entries) gives options that
// Translate can take without panicking.
func FuzzEnvArgs(f *testing.F) {
	f.Add("SWAKS_OPT_to=a@example.com\x00SWAKS_OPT_tls=\x00HOME=/")
	f.Add("SWAKS_OPT_h_X=\x00SWAKS_OPT_from=<>\x00SWAKS_OPT_=")
	f.Fuzz(func(t *testing.T, joined string) {
		environ := strings.Split(joined, "\x00")
		args := EnvArgs(environ)
		want := 0
		for _, e := range environ {
			key, value, ok := strings.Cut(e, "=")
			if name, isOpt := strings.CutPrefix(key, "SWAKS_OPT_"); ok && isOpt && name != "" {
				want++ // the option
				if value != "" && value != "<>" {
					want++ // and its value
				}
			}
		}
		if len(args) != want {
			t.Fatalf("EnvArgs(%q) = %q, want %d arguments", environ, args, want)
		}
		_, _ = Translate(args, leadFlagSet(), nil)
	})
}
