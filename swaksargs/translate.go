package swaksargs

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Translate rewrites a swaks command line (args without argv[0] and without
// any subcommand) into canonical pflag form:
//
//   - every option becomes "--name=value", or "--name" for a switch, where
//     name is swaks's canonical long name (or, when fs lacks that name but
//     defines one of the option's aliases, that alias);
//   - an Optional option given without a value becomes "--name" when the
//     flag has a pflag NoOptDefVal, and "--name=" otherwise, so that pflag
//     never takes the next argument as its value;
//   - "--h-Name value" and "--header-Name value" become "--header=Name: value";
//   - arguments that are not options are kept, and "--" and everything
//     after it are copied unchanged.
//
// The swaks rules reproduced (Getopt::Long with no_ignore_case, plus swaks's
// own pre-processing):
//
//   - Every option may be written with one or two dashes: -tls, --tls,
//     -tlsc, --4. There is no bundling: -S2 is the option "S2", not -S 2.
//   - Names are case-sensitive: -s is --server, -S is --silent.
//   - A unique prefix of any name or alias is accepted (--auth-pass, -ti,
//     --no-stl). An exact name or alias always wins over longer ones (--tls,
//     -a, --quit). A prefix is ambiguous (*AmbiguousOptionError) only when
//     the names it matches belong to different options, as in Getopt::Long:
//     --output-f matches output-file, output-file-stdout and
//     output-file-stderr, three options, so it is an error; --lp is exact;
//     a "no-" form counts as an option of its own.
//   - "--opt=value" and "--opt value" are equivalent.
//   - A Greedy option takes the next argument whatever it is. Every other
//     option with a value takes the next argument only if it does not look
//     like an option: "-" (standard input) is taken, "--" and anything that
//     starts with "-" followed by at least one character are not. --silent
//     takes the next argument only if it is an integer (so -S -1 works).
//   - "--no-OPT" (or a unique prefix of it, like --no-show-time) makes swaks
//     forget every earlier occurrence of OPT. Translate drops those earlier
//     tokens from its output, then emits "--no-OPT" when fs defines that
//     flag, "--OPT=false" when OPT is a bool flag, and nothing otherwise: an
//     option that was never given is exactly what "unset" means to swaks. A
//     caller that layers SWAKS_OPT_* environment options in front of the
//     command line gets swaks's semantics for free. "--no-h-Name" and
//     "--no-header-Name" forget all --header options, as in swaks.
//   - A Required option given without a value (or with an empty one) makes
//     swaks prompt for it if it has a Prompt, and fail otherwise. Translate
//     does the same, after the whole line is parsed and only for occurrences
//     that a later occurrence or --no- form did not replace, by calling
//     prompt(canonical name) (Lookup(name).Prompt is swaks's question); an
//     error from prompt is returned wrapped.
//     A nil prompt turns a missing value into *MissingValueError.
//
// An option is known if it is in Table() or fs defines it (fs may add flags
// that swaks lacks, such as --json, and pflag shorthands). A name that is
// exactly a swaks name or alias means the swaks option even if fs has a
// shorthand or flag of that name; a name that is exactly a flag of fs wins
// over a swaks abbreviation; flags of fs are matched exactly, as pflag does,
// and take their value as pflag does. --help is passed through even if fs
// does not define it, since pflag handles it itself.
//
// Deliberate differences from swaks, each in the direction of accepting what
// the user obviously meant: "+opt" is not an option (Getopt::Long's
// getopt_compat would take it), so values may start with "+"; a value
// attached with "=" is always the value, even "--auth=-x"; and only
// arguments in option position are split at "=" or rewritten as header
// shortcuts (swaks also rewrites values, e.g. "--quit-after -x=y"); a switch
// whose fs flag is a bool accepts pflag's "--tls=true|false"; and the -g
// that swaks removed in 2024 (read DATA from standard input) is accepted as
// "--data=-".
//
// Errors: *UnknownOptionError, *AmbiguousOptionError, *NotSupportedError (a
// swaks option fs does not define), *MissingValueError, *ValueError, or the
// prompt's own error. All of them are usage errors. No error message quotes a
// value, since values can be passwords.
func Translate(args []string, fs *pflag.FlagSet, prompt func(option string) (string, error)) ([]string, error) {
	t := newTranslator(fs)
	for i := 0; i < len(args); i++ {
		tok := args[i]
		if tok == "--" {
			for _, rest := range args[i:] {
				t.emit("", rest)
			}
			break
		}
		if !looksLikeOption(tok) {
			t.emit("", tok)
			continue
		}
		consumed, err := t.option(tok, args[i+1:])
		if err != nil {
			return nil, err
		}
		i += consumed
	}
	return t.finish(prompt)
}

// Getopt::Long treats "-" as a value and anything else starting with a dash
// as an option (its prefix pattern is "(--|-)" followed by at least one
// character; "--" alone ends the options).
func looksLikeOption(s string) bool {
	return len(s) > 1 && s[0] == '-'
}

// Getopt::Long's PAT_INT, which --silent's ":i" specification uses.
var integerValue = regexp.MustCompile(`^[-+]?_*[0-9][0-9_]*$`)

// swaks's own pre-processing patterns from fetch_args, applied to the option
// part of a token (after any "=value" is split off).
var (
	headerShortcut   = regexp.MustCompile(`^--?h(?:eader)?-([^:]+):?$`)
	noHeaderShortcut = regexp.MustCompile(`^--?no-h(?:eader)?-`)
)

// target says what an option token resolved to: a swaks option (index into
// the table), a flag that only fs has, or the legacy -g.
type target struct {
	opt     int // index into translator.opts, or -1
	flag    *pflag.Flag
	legacyG bool
	negated bool
}

// entry is one output token. owner groups the tokens of one option so that a
// --no- form can remove them; pending marks a value still to be prompted for
// (or reported missing) once the whole line has been read.
type entry struct {
	owner   string
	tok     string
	pending pendingKind
	opt     int
}

type pendingKind int

const (
	ready pendingKind = iota
	needsPrompt
	missingValue
)

type translator struct {
	fs    *pflag.FlagSet
	opts  []Option
	exact map[string]target // every swaks name and alias, and their "no-" forms
	names []string          // the keys of exact, sorted, for prefix search
	out   []entry
}

func newTranslator(fs *pflag.FlagSet) *translator {
	t := &translator{fs: fs, opts: Table(), exact: map[string]target{}}
	for i, o := range t.opts {
		for _, n := range o.Names() {
			t.exact[n] = target{opt: i}
			t.exact["no-"+n] = target{opt: i, negated: true}
		}
	}
	t.names = make([]string, 0, len(t.exact))
	for n := range t.exact {
		t.names = append(t.names, n)
	}
	sort.Strings(t.names)
	return t
}

func (t *translator) emit(owner, tok string) {
	t.out = append(t.out, entry{owner: owner, tok: tok, opt: -1})
}

func (t *translator) emitPending(owner string, opt int, kind pendingKind) {
	t.out = append(t.out, entry{owner: owner, opt: opt, pending: kind})
}

// forget removes every earlier token of owner, which is what swaks's "no-"
// prefix does.
func (t *translator) forget(owner string) {
	kept := t.out[:0]
	for _, e := range t.out {
		if e.owner != owner {
			kept = append(kept, e)
		}
	}
	t.out = kept
}

// option handles one option token; rest are the arguments after it. It
// returns how many of rest it consumed as a value.
func (t *translator) option(tok string, rest []string) (int, error) {
	singleDash := !strings.HasPrefix(tok, "--")
	body := tok[1:]
	if !singleDash {
		body = tok[2:]
	}
	name, value, attached := body, "", false
	// Like Getopt::Long, an "=" at position 0 does not start a value.
	if k := strings.IndexByte(body, '='); k > 0 {
		name, value, attached = body[:k], body[k+1:], true
	}
	dashes := "--"
	if singleDash {
		dashes = "-"
	}
	given := dashes + name

	if m := headerShortcut.FindStringSubmatch(given); m != nil {
		return t.headerShortcut(given, m[1], value, attached, rest)
	}
	if noHeaderShortcut.MatchString(given) {
		name = "no-header"
	}

	tg, err := t.resolve(name, given, singleDash)
	if err != nil {
		return 0, err
	}
	switch {
	case tg.legacyG:
		if attached {
			return 0, &ValueError{Option: "g", Reason: "takes no value"}
		}
		flagName, err := t.flagFor(t.optIndex("data"), given)
		if err != nil {
			return 0, err
		}
		t.emit("data", "--"+flagName+"=-")
		return 0, nil
	case tg.flag != nil:
		return t.fsFlag(tg, value, attached, rest)
	default:
		return t.swaksOption(tg, given, value, attached, rest)
	}
}

func (t *translator) optIndex(name string) int {
	for i, o := range t.opts {
		if o.Name == name {
			return i
		}
	}
	return -1
}

func (t *translator) headerShortcut(given, header, value string, attached bool, rest []string) (int, error) {
	flagName, err := t.flagFor(t.optIndex("header"), given)
	if err != nil {
		return 0, err
	}
	consumed := 0
	if !attached && len(rest) > 0 {
		// swaks rewrites the next argument into "Name: next" before option
		// parsing, so it is taken whatever it looks like.
		value, consumed = rest[0], 1
	}
	t.emit("header", "--"+flagName+"="+header+": "+value)
	return consumed, nil
}

// resolve finds what an option name means, in this order: an exact swaks
// name or alias (or its "no-" form), an exact flag or shorthand of fs, the
// "no-" form of a flag of fs, the legacy -g, then a unique swaks
// abbreviation.
func (t *translator) resolve(name, given string, singleDash bool) (target, error) {
	if tg, ok := t.exact[name]; ok {
		return tg, nil
	}
	if t.fs != nil && name != "" {
		if f := t.fs.Lookup(name); f != nil {
			return target{opt: -1, flag: f}, nil
		}
		// ShorthandLookup panics on names longer than one byte.
		if singleDash && len(name) == 1 {
			if f := t.fs.ShorthandLookup(name); f != nil {
				return target{opt: -1, flag: f}, nil
			}
		}
		if base, ok := strings.CutPrefix(name, "no-"); ok && base != "" {
			if f := t.fs.Lookup(base); f != nil {
				return target{opt: -1, flag: f, negated: true}, nil
			}
		}
	}
	if name == "g" {
		return target{opt: -1, legacyG: true}, nil
	}
	if name == "" {
		return target{}, &UnknownOptionError{Option: given}
	}
	// Getopt::Long auto_abbrev: all names starting with the abbreviation;
	// ambiguous only if they belong to more than one option (a "no-" form
	// counts as an option of its own).
	lo := sort.SearchStrings(t.names, name)
	hits := map[target]bool{}
	var labels []string
	for j := lo; j < len(t.names) && strings.HasPrefix(t.names[j], name); j++ {
		tg := t.exact[t.names[j]]
		if !hits[tg] {
			hits[tg] = true
			labels = append(labels, t.label(tg))
		}
	}
	switch len(hits) {
	case 0:
		return target{}, &UnknownOptionError{Option: given, Suggestion: t.suggest(name)}
	case 1:
		for tg := range hits {
			return tg, nil
		}
	}
	sort.Strings(labels)
	return target{}, &AmbiguousOptionError{Option: given, Candidates: labels}
}

func (t *translator) label(tg target) string {
	if tg.negated {
		return "no-" + t.opts[tg.opt].Name
	}
	return t.opts[tg.opt].Name
}

// flagFor returns the fs flag name that carries swaks option i: its
// canonical name, else the first alias fs defines.
func (t *translator) flagFor(i int, given string) (string, error) {
	o := t.opts[i]
	if t.fs != nil {
		for _, n := range o.Names() {
			if t.fs.Lookup(n) != nil {
				return n, nil
			}
		}
	}
	if o.Name == "help" {
		// pflag answers --help itself when the FlagSet has no such flag.
		return "help", nil
	}
	return "", &NotSupportedError{Option: o.Name, Given: given}
}

// negate forgets earlier occurrences and emits whatever tells fs the option
// is off; see Translate.
func (t *translator) negate(owner, flagName string, f *pflag.Flag) {
	t.forget(owner)
	switch {
	case t.fs != nil && t.fs.Lookup("no-"+flagName) != nil:
		t.emit(owner, "--no-"+flagName)
	case f != nil && f.Value.Type() == "bool":
		t.emit(owner, "--"+flagName+"=false")
	}
}

func (t *translator) swaksOption(tg target, given, value string, attached bool, rest []string) (int, error) {
	o := t.opts[tg.opt]
	flagName, err := t.flagFor(tg.opt, given)
	if err != nil {
		return 0, err
	}
	var f *pflag.Flag
	if t.fs != nil {
		f = t.fs.Lookup(flagName)
	}
	if tg.negated {
		if attached {
			return 0, &ValueError{Option: "no-" + o.Name, Reason: "takes no value"}
		}
		t.negate(o.Name, flagName, f)
		return 0, nil
	}
	if o.Arity == None {
		if attached {
			// swaks refuses any value here; pflag's own spelling of a bool
			// (as --help shows it: --tls[=true|false]) is accepted so that
			// Translate's output translates to itself.
			if _, perr := strconv.ParseBool(value); perr == nil && f != nil && f.Value.Type() == "bool" {
				t.emit(o.Name, "--"+flagName+"="+value)
				return 0, nil
			}
			return 0, &ValueError{Option: o.Name, Reason: "takes no value"}
		}
		t.emit(o.Name, "--"+flagName)
		return 0, nil
	}

	consumed := 0
	switch {
	case attached:
		if o.Integer && !integerValue.MatchString(value) {
			return 0, &ValueError{Option: o.Name, Reason: "takes an integer value"}
		}
	case o.Greedy:
		if len(rest) == 0 {
			return 0, &MissingValueError{Option: o.Name}
		}
		value, consumed = rest[0], 1
	case o.Integer:
		if len(rest) > 0 && integerValue.MatchString(rest[0]) {
			value, consumed = rest[0], 1
		}
	default:
		if len(rest) > 0 && !looksLikeOption(rest[0]) {
			value, consumed = rest[0], 1
		}
	}

	switch {
	case value != "" || (attached && o.Arity == Optional):
		t.emit(o.Name, "--"+flagName+"="+value)
	case o.Arity == Optional:
		if f != nil && f.NoOptDefVal != "" {
			t.emit(o.Name, "--"+flagName)
		} else {
			t.emit(o.Name, "--"+flagName+"=")
		}
	case o.Prompt != "":
		t.emitPending(o.Name, tg.opt, needsPrompt)
	default:
		t.emitPending(o.Name, tg.opt, missingValue)
	}
	return consumed, nil
}

// fsFlag handles a flag that only fs defines, with pflag's own rules for
// its value.
func (t *translator) fsFlag(tg target, value string, attached bool, rest []string) (int, error) {
	f := tg.flag
	if tg.negated {
		if attached {
			return 0, &ValueError{Option: "no-" + f.Name, Reason: "takes no value"}
		}
		t.negate(f.Name, f.Name, f)
		return 0, nil
	}
	switch {
	case attached:
		t.emit(f.Name, "--"+f.Name+"="+value)
		return 0, nil
	case f.NoOptDefVal != "":
		t.emit(f.Name, "--"+f.Name)
		return 0, nil
	case len(rest) > 0:
		t.emit(f.Name, "--"+f.Name+"="+rest[0])
		return 1, nil
	default:
		return 0, &MissingValueError{Option: f.Name}
	}
}

// finish resolves the values still missing: an occurrence that a later one
// replaces is dropped (swaks keeps only the last value of a non-repeatable
// option), the others are prompted for in command-line order.
func (t *translator) finish(prompt func(string) (string, error)) ([]string, error) {
	lastIndex := map[string]int{}
	for k, e := range t.out {
		if e.owner != "" {
			lastIndex[e.owner] = k
		}
	}
	out := make([]string, 0, len(t.out))
	for k, e := range t.out {
		if e.pending == ready {
			out = append(out, e.tok)
			continue
		}
		o := t.opts[e.opt]
		if !o.Repeatable && lastIndex[e.owner] != k {
			continue
		}
		if e.pending == missingValue || prompt == nil {
			return nil, &MissingValueError{Option: o.Name}
		}
		v, err := prompt(o.Name)
		if err != nil {
			return nil, fmt.Errorf("reading a value for --%s: %w", o.Name, err)
		}
		flagName, err := t.flagFor(e.opt, "--"+o.Name)
		if err != nil {
			return nil, err
		}
		// A line read from a terminal may keep its end of line; a value
		// never should.
		out = append(out, "--"+flagName+"="+strings.TrimRight(v, "\r\n"))
	}
	return out, nil
}

// suggest returns the closest swaks option name (as "--name") within a small
// edit distance, for the unknown-option message.
func (t *translator) suggest(name string) string {
	if len(name) < 3 {
		return ""
	}
	best, bestD := "", 3
	for _, o := range t.opts {
		for _, n := range o.Names() {
			if d := editDistance(name, n, bestD); d < bestD {
				best, bestD = o.Name, d
			}
		}
	}
	if best == "" {
		return ""
	}
	return "--" + best
}

// editDistance is the optimal-string-alignment distance between a and b
// (Levenshtein plus transposition of neighbours, the commonest typo: --tsl),
// or limit when it is at least limit, which keeps long garbage input cheap.
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d >= limit || -d >= limit {
		return limit
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
			rowMin = min(rowMin, cur[j])
		}
		if rowMin >= limit {
			return limit
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[len(b)], limit)
}
