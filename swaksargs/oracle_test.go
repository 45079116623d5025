package swaksargs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// fullFlagSet defines every swaks option under its canonical name, the way a
// CLI implementing all of swaks would: switches are bools, everything else a
// string (repeatable ones string arrays), with no NoOptDefVal.
func fullFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("full", pflag.ContinueOnError)
	for _, o := range Table() {
		switch {
		case o.Arity == None:
			fs.Bool(o.Name, false, "")
		case o.Repeatable:
			fs.StringArray(o.Name, nil, "")
		default:
			fs.String(o.Name, "", "")
		}
	}
	return fs
}

func oraclePrompt(name string) (string, error) { return "PROMPTED(" + name + ")", nil }

// swaksState turns Translate's output into what swaks would have stored:
// canonical name -> values (the last one only, unless repeatable). A
// switch's value is "", an unset one is absent; silent's value goes through
// swaks's process_opt_silent.
func swaksState(out []string) (map[string][]string, error) {
	state := map[string][]string{}
	for _, tok := range out {
		body, ok := strings.CutPrefix(tok, "--")
		if !ok || tok == "--" {
			return nil, fmt.Errorf("leftover %q", tok)
		}
		name, value, _ := strings.Cut(body, "=")
		o, ok := Lookup(name)
		if !ok {
			return nil, fmt.Errorf("translated to non-swaks flag %q", tok)
		}
		if o.Arity == None {
			if value == "false" {
				delete(state, o.Name)
				continue
			}
			value = ""
		}
		if o.Integer {
			switch value {
			case "1", "2", "3":
			default:
				value = "1"
			}
		}
		if o.Repeatable {
			state[o.Name] = append(state[o.Name], value)
		} else {
			state[o.Name] = []string{value}
		}
	}
	return state, nil
}

type oracleResult struct {
	Opts map[string][]string `json:"opts"`
	Err  string              `json:"err"`
}

// runOracle runs testdata/oracle.pl (swaks's own parser) over many argument
// lists at once.
func runOracle(t *testing.T, script string, lines [][]string) []oracleResult {
	t.Helper()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, l := range lines {
		if l == nil {
			l = []string{} // JSON [] rather than null
		}
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("perl", "testdata/oracle.pl")
	cmd.Env = append(os.Environ(), "SWAKS_SCRIPT="+script)
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("oracle: %v: %s", err, stderr.String())
	}
	var res []oracleResult
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r oracleResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("oracle output %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	if len(res) != len(lines) {
		t.Fatalf("oracle answered %d of %d lines", len(res), len(lines))
	}
	return res
}

// knownDeviation reports argument lists where Translate differs from swaks
// on purpose (see Translate's documentation).
func knownDeviation(args []string) bool {
	for i, a := range args {
		if strings.HasPrefix(a, "+") {
			return true // getopt_compat "+opt"
		}
		if i > 0 && greedyOption(args[i-1]) && strings.HasPrefix(a, "-") && strings.Contains(a, "=") {
			return true // swaks splits "-x=y" even in value position
		}
		if name, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "-") && looksLikeOption(value) {
			return true // attached value that looks like an option
		}
		if strings.ContainsAny(a, "\n") {
			return true // Perl's "." and "$" treat newlines specially
		}
		if a == "-g" || a == "--g" || strings.HasPrefix(a, "-g=") || strings.HasPrefix(a, "--g=") {
			return true // removed from swaks, kept here
		}
		if name, value, ok := strings.Cut(a, "="); ok && strings.HasPrefix(name, "-") {
			if _, err := strconv.ParseBool(value); err == nil {
				return true // pflag's --switch=true|false
			}
		}
		if a == "--" {
			return true // swaks refuses anything after "--"; the CLI decides
		}
		if i > 0 && greedyOption(args[i-1]) && (headerShortcut.MatchString(a) || noHeaderShortcut.MatchString(a)) {
			return true // swaks rewrites header shortcuts even in value position
		}
	}
	return false
}

// greedyOption reports whether tok is a Greedy swaks option without an
// attached value, i.e. one that takes the next argument whatever it is.
func greedyOption(tok string) bool {
	if !looksLikeOption(tok) || strings.Contains(tok, "=") {
		return false
	}
	single := !strings.HasPrefix(tok, "--")
	name := strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	tr := newTranslator(nil)
	tg, err := tr.resolve(name, tok, single)
	return err == nil && tg.opt >= 0 && !tg.negated && tr.opts[tg.opt].Greedy
}

// TestAgainstSwaks compares Translate with swaks's own option parser over
// the table tests, random command lines and, if SWAKS_CORPUS names a file of
// JSON argument arrays (e.g. extracted from swaks's regression suite), those.
// It needs perl and SWAKS_SCRIPT pointing at the swaks script.
func TestAgainstSwaks(t *testing.T) {
	script := os.Getenv("SWAKS_SCRIPT")
	if script == "" {
		t.Skip("set SWAKS_SCRIPT to a swaks script to compare with swaks itself")
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl not installed")
	}
	var lines [][]string
	for _, c := range translateCases {
		lines = append(lines, c.args)
	}
	if path := os.Getenv("SWAKS_CORPUS"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			var args []string
			if err := json.Unmarshal(l, &args); err != nil {
				t.Fatalf("corpus line %q: %v", l, err)
			}
			lines = append(lines, args)
		}
	}
	// swaks's parser is slow to set up (about 20ms a line), so the default
	// random sample is small; SWAKS_RANDOM asks for more.
	random := 2000
	if n, err := strconv.Atoi(os.Getenv("SWAKS_RANDOM")); err == nil {
		random = n
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range random {
		lines = append(lines, randomCommandLine(rng))
	}
	results := runOracle(t, script, lines)
	compared, mismatches := 0, 0
	for i, args := range lines {
		if knownDeviation(args) {
			continue
		}
		compared++
		want := results[i]
		out, err := Translate(args, fullFlagSet(), oraclePrompt)
		var got map[string][]string
		if err == nil {
			got, err = swaksState(out)
		}
		switch {
		case (err != nil) != (want.Err != ""):
			mismatches++
			t.Errorf("%q: Translate err=%v out=%q; swaks err=%q opts=%v", args, err, out, want.Err, want.Opts)
		case err == nil && !equalState(got, want.Opts):
			mismatches++
			t.Errorf("%q: Translate %v; swaks %v", args, got, want.Opts)
		}
		if mismatches > 30 {
			t.Fatal("too many mismatches")
		}
	}
	t.Logf("compared %d of %d command lines with swaks, %d mismatches", compared, len(lines), mismatches)
}

func equalState(a, b map[string][]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok || len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

// randomCommandLine builds a command line from swaks names, their prefixes
// and "no-" forms, header shortcuts and values of every shape that matters.
func randomCommandLine(rng *rand.Rand) []string {
	opts := Table()
	values := []string{"x", "a@b.example", "-", "", "-x", "--to", "5", "-1", "2", "@file", "Subject: hi", "h-x", "no", "1_0"}
	n := rng.IntN(8)
	var args []string
	for range n {
		o := opts[rng.IntN(len(opts))]
		names := o.Names()
		name := names[rng.IntN(len(names))]
		switch rng.IntN(6) {
		case 0:
			name = "no-" + name
		case 1:
			if len(name) > 1 {
				name = name[:1+rng.IntN(len(name)-1)]
			}
		case 2:
			name = []string{"h-Subject", "header-X-Test", "h-Y:", "no-h-Z", "no-header-Q", "ti", "au", "tls", "tlsc", "S", "s"}[rng.IntN(11)]
		}
		dashes := "--"
		if rng.IntN(2) == 0 {
			dashes = "-"
		}
		tok := dashes + name
		if rng.IntN(4) == 0 {
			v := values[rng.IntN(len(values))]
			if !looksLikeOption(v) {
				tok += "=" + v
			}
		}
		args = append(args, tok)
		for rng.IntN(3) == 0 {
			args = append(args, values[rng.IntN(len(values))])
		}
	}
	return args
}
