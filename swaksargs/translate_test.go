package swaksargs

import (
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// leadFlagSet mirrors how the CLI defines its flags: swaks's canonical names
// for what it implements, pflag conventions for the rest (bool switches,
// NoOptDefVal where a bare option has a meaning), a few flags of its own
// (--json with shorthand -j, --phase), and one flag defined under a swaks
// alias (output-file) rather than the canonical name (output).
func leadFlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	for _, n := range []string{"to", "from", "server", "port", "helo", "timeout", "quit-after", "body", "data",
		"protocol", "local-interface", "tls-sni", "auth-user", "auth-password", "show-time-lapse",
		"auth-hide-password", "output-file", "cc", "bcc", "tls-protocol", "tls-verify-target", "phase"} {
		fs.String(n, "", "")
	}
	for _, n := range []string{"tls", "tls-optional", "tls-optional-strict", "tls-on-connect", "tls-verify",
		"suppress-data", "4", "6", "hide-send", "hide-receive", "hide-informational", "hide-all",
		"auth-plaintext", "show-raw-text", "version", "no-data-fixup"} {
		fs.Bool(n, false, "")
	}
	for _, n := range []string{"header", "add-header", "attach", "attach-type", "attach-name"} {
		fs.StringArray(n, nil, "")
	}
	fs.String("auth", "", "")
	fs.Lookup("auth").NoOptDefVal = "ANY"
	fs.Int("silent", 0, "")
	fs.Lookup("silent").NoOptDefVal = "1"
	fs.BoolP("json", "j", false, "")
	return fs
}

type translateCase struct {
	source  string // where the command line comes from
	args    []string
	want    []string
	prompts []string // options prompt must be asked for, in order
}

func argv(s string) []string { return strings.Fields(s) }

// translateCases are real swaks command lines: from swaks's documentation
// (QUICK START, recipes), from its regression suite (testing/regressions),
// and the shapes public tutorials use, plus edge cases of each rule.
var translateCases = []translateCase{
	// swaks documentation, QUICK START and recipes.
	{source: "doc quick start", args: argv("--to user@example.com --server test-server.example.net"),
		want: argv("--to=user@example.com --server=test-server.example.net")},
	{source: "doc quick start", args: []string{"--to", "user@example.com", "--from", "me@example.com", "--auth", "CRAM-MD5", "--auth-user", "me@example.com", "--header-X-Test", "test email"},
		want: []string{"--to=user@example.com", "--from=me@example.com", "--auth=CRAM-MD5", "--auth-user=me@example.com", "--header=X-Test: test email"}},
	{source: "doc quick start", args: argv("-t user@example.com --attach - --server test-server.example.com --suppress-data"),
		want: argv("--to=user@example.com --attach=- --server=test-server.example.com --suppress-data")},
	{source: "doc quick start", args: argv("--to user@example.com --body @/path/to/gtube/file"),
		want: argv("--to=user@example.com --body=@/path/to/gtube/file")},
	{source: "doc quick start", args: argv("--to user@example.com --server test-server.example.com --quit-after RCPT --hide-all"),
		want: argv("--to=user@example.com --server=test-server.example.com --quit-after=RCPT --hide-all")},
	{source: "doc recipes (vrfy alias)", args: argv("-q rcpt -t proj-foobar@example.com"),
		want: argv("--quit-after=rcpt --to=proj-foobar@example.com")},
	{source: "doc recipes", args: argv("-q rcpt --silent 3 -t proj-swaks@example.com"),
		want: argv("--quit-after=rcpt --silent=3 --to=proj-swaks@example.com")},
	{source: "doc recipes", args: argv("-q rcpt --silent 2 -t proj-swaks@example.com"),
		want: argv("--quit-after=rcpt --silent=2 --to=proj-swaks@example.com")},
	{source: "doc --h-From example", args: []string{"--from", "fred@example.com", "--h-From:", `"Fred Example" <fred@example.com>`},
		want: []string{"--from=fred@example.com", `--header=From: "Fred Example" <fred@example.com>`}},
	{source: "doc --header example", args: []string{"--header", "Subject: foo"}, want: []string{"--header=Subject: foo"}},
	{source: "doc --header example", args: argv("--h-Subject foo"), want: []string{"--header=Subject: foo"}},

	// swaks regression suite (testing/regressions).
	{source: "t/_options-auth/00022", args: argv("--to user@host1.example --from recip@host1.example --helo hserver --server ser.ver --au USER -ap PASS"),
		want: argv("--to=user@host1.example --from=recip@host1.example --helo=hserver --server=ser.ver --auth-user=USER --auth-password=PASS")},
	{source: "t/_options-auth/00001", args: argv("--to user@host1.example --helo hserver --server ser.ver --au USER -ap PASS --a LOGIN"),
		want: argv("--to=user@host1.example --helo=hserver --server=ser.ver --auth-user=USER --auth-password=PASS --auth=LOGIN")},
	{source: "t/_options-output/00153", args: []string{"--to", "user@host1.example", "--server", "ser ver", "--stl", "i", "--no-stl"},
		want: []string{"--to=user@host1.example", "--server=ser ver"}},
	{source: "t/_options-output/01073", args: argv("--to user@host1.example --no-ha"),
		want: argv("--to=user@host1.example --hide-all=false")},
	{source: "t/_options-data/05254", args: []string{"--to", "user@host1.example", "--data", "@msg.eml", "--h-Header1", "TEST PASSED 1", "--h-Header2", "TEST PASSED 2"},
		want: []string{"--to=user@host1.example", "--data=@msg.eml", "--header=Header1: TEST PASSED 1", "--header=Header2: TEST PASSED 2"}},
	{source: "t/_options-data/05214", args: []string{"--to", "user@host1.example", "--header", "New Header: test string"},
		want: []string{"--to=user@host1.example", "--header=New Header: test string"}},
	{source: "t/_options-data/05524 (--attach for --attach-body)", args: argv("--to u@h.example --attach @body.txt --attach-type text/html --attach @body.html"),
		want: argv("--to=u@h.example --attach=@body.txt --attach-type=text/html --attach=@body.html")},
	{source: "t/_options-data/05520", args: []string{"--to", "u@h.example", "--body", "This is the plain text argument to --body", "--attach", "body.html"},
		want: []string{"--to=u@h.example", "--body=This is the plain text argument to --body", "--attach=body.html"}},
	{source: "t/_options-processing (non-opt data kept)", args: argv("--to user@host1.example non-opt-arg-data --server ser.ver"),
		want: argv("--to=user@host1.example non-opt-arg-data --server=ser.ver")},
	{source: "t/_options-processing (no-data-fixup takes no value)", args: argv("--to u@h.example --no-data-fixup non-opt-arg-data"),
		want: argv("--to=u@h.example --no-data-fixup non-opt-arg-data")},
	{source: "t/_exec-transactions (multiple recipients)", args: argv("--to a@h.example,b@h.example,c@h.example --from r@h.example --helo hserver"),
		want: argv("--to=a@h.example,b@h.example,c@h.example --from=r@h.example --helo=hserver")},
	{source: "t/_options-auth (auth optional value)", args: argv("--to u@h.example --auth PLAIN --auth-user validuser --auth-password validpassword"),
		want: argv("--to=u@h.example --auth=PLAIN --auth-user=validuser --auth-password=validpassword")},
	{source: "t/_options-tls", args: argv("--to u@h.example --server ser.ver --tls-protocol tlsv1_2 --tls-verify"),
		want: argv("--to=u@h.example --server=ser.ver --tls-protocol=tlsv1_2 --tls-verify")},

	// Shapes public tutorials use (submission, implicit TLS, relay tests).
	{source: "tutorial: gmail submission", args: argv("-t to@example.com -f me@gmail.example -s smtp.gmail.example:587 -tls -au me@gmail.example -ap secret"),
		want: argv("--to=to@example.com --from=me@gmail.example --server=smtp.gmail.example:587 --tls --auth-user=me@gmail.example --auth-password=secret")},
	{source: "tutorial: office365 submission", args: argv("--to x@example.com --from y@example.com --server smtp.office365.example --port 587 --auth LOGIN --auth-user y@example.com --auth-password p --tls"),
		want: argv("--to=x@example.com --from=y@example.com --server=smtp.office365.example --port=587 --auth=LOGIN --auth-user=y@example.com --auth-password=p --tls")},
	{source: "tutorial: implicit TLS", args: argv("--to x@example.com --server smtp.example.com --port 465 -tlsc -a PLAIN -au u -ap p"),
		want: argv("--to=x@example.com --server=smtp.example.com --port=465 --tls-on-connect --auth=PLAIN --auth-user=u --auth-password=p")},
	{source: "tutorial: open relay test", args: argv("--to victim@other.example --from spoof@other.example --server mx.example.com --quit-after RCPT"),
		want: argv("--to=victim@other.example --from=spoof@other.example --server=mx.example.com --quit-after=RCPT")},
	{source: "tutorial: HELO name", args: argv("--to x@example.com --server mx.example.com --ehlo client.example.org"),
		want: argv("--to=x@example.com --server=mx.example.com --helo=client.example.org")},
	{source: "tutorial: LMTP", args: argv("--to x@example.com --lhlo me.example --protocol LMTP"),
		want: argv("--to=x@example.com --helo=me.example --protocol=LMTP")},
	{source: "tutorial: opportunistic TLS", args: argv("--to x@example.com -tlso"), want: argv("--to=x@example.com --tls-optional")},
	{source: "tutorial: strict optional TLS", args: argv("--to x@example.com -tlsos"), want: argv("--to=x@example.com --tls-optional-strict")},
	{source: "tutorial: SNI", args: argv("--to x@example.com --server 192.0.2.1 --tls --tls-sni mail.example.com --tls-verify"),
		want: argv("--to=x@example.com --server=192.0.2.1 --tls --tls-sni=mail.example.com --tls-verify")},
	{source: "tutorial: force IPv4", args: argv("-4 --to x@example.com"), want: argv("--4 --to=x@example.com")},
	{source: "tutorial: force IPv6", args: argv("--6 --to x@example.com"), want: argv("--6 --to=x@example.com")},
	{source: "tutorial: body from stdin", args: argv("--to x@example.com --body -"), want: argv("--to=x@example.com --body=-")},
	{source: "tutorial: data from stdin", args: argv("--to x@example.com -d -"), want: argv("--to=x@example.com --data=-")},
	{source: "tutorial: attachment", args: argv("--to x@example.com --attach @report.pdf --attach-type application/pdf --attach-name report.pdf"),
		want: argv("--to=x@example.com --attach=@report.pdf --attach-type=application/pdf --attach-name=report.pdf")},
	{source: "tutorial: extra headers", args: []string{"--to", "x@example.com", "--add-header", "X-Test: 1", "--ah", "X-Other: 2"},
		want: []string{"--to=x@example.com", "--add-header=X-Test: 1", "--add-header=X-Other: 2"}},
	{source: "tutorial: timeout", args: argv("--to x@example.com --timeout 10s"), want: argv("--to=x@example.com --timeout=10s")},
	{source: "tutorial: local interface", args: argv("--to x@example.com -li 192.0.2.7"), want: argv("--to=x@example.com --local-interface=192.0.2.7")},
	{source: "tutorial: save transcript", args: argv("--to x@example.com --output-file out.txt"), want: argv("--to=x@example.com --output-file=out.txt")},
	{source: "tutorial: show AUTH plaintext", args: argv("--to x@example.com -a -au u -ap p -apt"),
		want: argv("--to=x@example.com --auth --auth-user=u --auth-password=p --auth-plaintext")},
	{source: "tutorial: quiet transcript", args: argv("--to x@example.com -hs -hr -hi -n"),
		want: argv("--to=x@example.com --hide-send --hide-receive --hide-informational --suppress-data")},

	// One or two dashes, =value, case sensitivity.
	{source: "rule: one dash long name", args: argv("-to x@example.com -server mx.example.com -tls"), want: argv("--to=x@example.com --server=mx.example.com --tls")},
	{source: "rule: two dash short name", args: argv("--t x@example.com --s mx.example.com"), want: argv("--to=x@example.com --server=mx.example.com")},
	{source: "rule: =value", args: argv("--to=x@example.com -s=mx.example.com:2525 --quit-after=RCPT"), want: argv("--to=x@example.com --server=mx.example.com:2525 --quit-after=RCPT")},
	{source: "rule: value with =", args: argv("--to x@example.com --auth-password p=ss"), want: argv("--to=x@example.com --auth-password=p=ss")},
	{source: "rule: -S is silent, -s is server", args: argv("-S -s mx.example.com"), want: argv("--silent --server=mx.example.com")},
	{source: "rule: -h is helo, not help", args: argv("-h client.example.org"), want: argv("--helo=client.example.org")},
	{source: "rule: -hi is hide-informational (exact alias)", args: argv("-hi"), want: argv("--hide-informational")},

	// Abbreviations.
	{source: "rule: prefix --auth-pass", args: argv("--auth-pass secret"), want: argv("--auth-password=secret")},
	{source: "rule: prefix --auth-u", args: argv("--auth-u me"), want: argv("--auth-user=me")},
	{source: "rule: prefix -ti", args: argv("-ti 30"), want: argv("--timeout=30")},
	{source: "rule: prefix --tls-on", args: argv("--tls-on"), want: argv("--tls-on-connect")},
	{source: "rule: prefix --serv", args: argv("--serv mx.example.com"), want: argv("--server=mx.example.com")},
	{source: "rule: prefix of alias --suppress", args: argv("--suppress"), want: argv("--suppress-data")},
	{source: "rule: exact beats prefix --tls", args: argv("--tls"), want: argv("--tls")},
	{source: "rule: exact alias beats prefix --quit", args: argv("--quit DATA"), want: argv("--quit-after=DATA")},

	// Optional values.
	{source: "rule: optional value not taken from an option", args: argv("--auth --auth-user u"), want: argv("--auth --auth-user=u")},
	{source: "rule: optional value without NoOptDefVal", args: argv("-stl --to x@example.com"), want: argv("--show-time-lapse= --to=x@example.com")},
	{source: "rule: optional value taken", args: argv("-stl i"), want: argv("--show-time-lapse=i")},
	{source: "rule: attach-name without value", args: argv("--attach-name --attach @a.txt"), want: argv("--attach-name= --attach=@a.txt")},
	{source: "rule: silent takes only integers", args: argv("-S 2 --to x@example.com"), want: argv("--silent=2 --to=x@example.com")},
	{source: "rule: silent takes a negative integer", args: argv("-S -1"), want: argv("--silent=-1")},
	{source: "rule: silent leaves a non-integer", args: argv("-S quiet"), want: argv("--silent quiet")},
	{source: "rule: '-' is a value", args: argv("--attach - --to x@example.com"), want: argv("--attach=- --to=x@example.com")},
	{source: "rule: greedy option takes an option-like value", args: argv("--quit-after -tls"), want: argv("--quit-after=-tls")},

	// Prompting.
	{source: "rule: --to without value prompts", args: argv("--to --server mx.example.com"),
		want: argv("--to=ANSWER-to --server=mx.example.com"), prompts: []string{"to"}},
	{source: "rule: empty value prompts", args: []string{"--from", "", "-t", "x@example.com"},
		want: argv("--from=ANSWER-from --to=x@example.com"), prompts: []string{"from"}},
	{source: "rule: --to= prompts", args: argv("--to="), want: argv("--to=ANSWER-to"), prompts: []string{"to"}},
	{source: "rule: later value cancels the prompt", args: argv("--to --to x@example.com"), want: argv("--to=x@example.com")},
	{source: "rule: --no-to cancels the prompt", args: argv("--to --no-to -s mx.example.com"), want: argv("--server=mx.example.com")},
	{source: "rule: prompts in order", args: argv("-s -t"), want: argv("--server=ANSWER-server --to=ANSWER-to"), prompts: []string{"server", "to"}},

	// --no- forms.
	{source: "rule: --no-tls after -tls", args: argv("-tls --to x@example.com --no-tls"), want: argv("--to=x@example.com --tls=false")},
	{source: "rule: option after its --no- form", args: argv("--tls --no-tls --tls"), want: argv("--tls=false --tls")},
	{source: "rule: --no- of a value option", args: argv("--helo a.example --to x@example.com --no-helo"), want: argv("--to=x@example.com")},
	{source: "rule: --no- of a repeatable option", args: []string{"--header", "A: 1", "--h-B", "2", "--no-header", "--header", "C: 3"},
		want: []string{"--header=C: 3"}},
	{source: "rule: --no-header-Name forgets all headers", args: []string{"--header", "A: 1", "--no-header-Subject", "--add-header", "X: y"},
		want: []string{"--add-header=X: y"}},
	{source: "rule: --no-h-Name", args: []string{"--h-A", "1", "-no-h-A"}, want: []string{}},
	{source: "rule: --no- prefix", args: argv("--stl --no-show-time"), want: []string{}},
	{source: "rule: option named no-*", args: argv("--no-data-fixup"), want: argv("--no-data-fixup")},
	{source: "rule: --no- of an option named no-*", args: argv("-ndf --no-no-data-fixup"), want: argv("--no-data-fixup=false")},

	// Header shortcuts.
	{source: "rule: --header-Name=value", args: argv("--header-Subject=hi"), want: []string{"--header=Subject: hi"}},
	{source: "rule: -h-Name", args: argv("-h-Subject x"), want: []string{"--header=Subject: x"}},
	{source: "rule: shortcut at the end", args: argv("--h-X-Mailer"), want: []string{"--header=X-Mailer: "}},
	{source: "rule: shortcut takes an option-like value", args: argv("--h-X-Flag --tls"), want: []string{"--header=X-Flag: --tls"}},

	// Flags of the CLI itself, positional arguments, "--".
	{source: "cli: own flag", args: argv("--to x@example.com --json"), want: argv("--to=x@example.com --json")},
	{source: "cli: own shorthand", args: argv("-j --to x@example.com"), want: argv("--json --to=x@example.com")},
	{source: "cli: own value flag", args: argv("--phase rcpt"), want: argv("--phase=rcpt")},
	{source: "cli: --no- of own flag", args: argv("--json --no-json"), want: argv("--json=false")},
	{source: "cli: flag defined under a swaks alias", args: argv("--output out.txt"), want: argv("--output-file=out.txt")},
	{source: "cli: --help without a help flag", args: argv("--help"), want: argv("--help")},
	{source: "cli: --version", args: argv("--version"), want: argv("--version")},
	{source: "cli: -- ends options", args: argv("--to x@example.com -- --tls"), want: argv("--to=x@example.com -- --tls")},
	{source: "cli: last occurrence wins (both kept)", args: argv("--to=a@example.com --to=b@example.com"), want: argv("--to=a@example.com --to=b@example.com")},
	{source: "cli: pflag bool syntax", args: argv("--tls=true --hide-all=false"), want: argv("--tls=true --hide-all=false")},
	{source: "legacy -g", args: argv("--to x@example.com -g"), want: argv("--to=x@example.com --data=-")},
	{source: "empty line", args: nil, want: []string{}},
}

func TestTranslate(t *testing.T) {
	if len(translateCases) < 60 {
		t.Fatalf("only %d cases", len(translateCases))
	}
	for _, c := range translateCases {
		t.Run(c.source+": "+strings.Join(c.args, " "), func(t *testing.T) {
			var asked []string
			prompt := func(name string) (string, error) {
				asked = append(asked, name)
				return "ANSWER-" + name + "\n", nil
			}
			fs := leadFlagSet()
			got, err := Translate(c.args, fs, prompt)
			if err != nil {
				t.Fatalf("Translate(%q): %v", c.args, err)
			}
			want := c.want
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("Translate(%q)\n got %q\nwant %q", c.args, got, want)
			}
			if !slices.Equal(asked, c.prompts) {
				t.Errorf("prompted for %q, want %q", asked, c.prompts)
			}
			// What Translate emits must be accepted by pflag as is.
			fs.SetOutput(io.Discard)
			if err := fs.Parse(got); err != nil && !errors.Is(err, pflag.ErrHelp) {
				t.Errorf("pflag rejects %q: %v", got, err)
			}
		})
	}
}

func TestTranslateErrors(t *testing.T) {
	errPrompt := errors.New("not a terminal")
	cases := []struct {
		name   string
		args   []string
		prompt func(string) (string, error)
		check  func(error) bool
		msg    string // substring of the message
	}{
		{"unsupported swaks option (socket)", argv("--to x@example.com --socket /var/lda.sock --protocol LMTP"), nil,
			isType[*NotSupportedError], "--socket is a swaks option not supported yet"},
		{"unsupported greedy option", argv("--tls-cert cert.pem"), nil, isType[*NotSupportedError], "--tls-cert is a swaks option not supported yet"},
		{"unsupported pipeline", argv("--pipeline"), nil, isType[*NotSupportedError], "--pipeline is a swaks option not supported yet"},
		{"unsupported via alias", argv("-dab"), nil, isType[*NotSupportedError], "--dump-as-body (given as -dab)"},
		{"unsupported --no- form", argv("--no-pipeline"), nil, isType[*NotSupportedError], "--pipeline (given as --no-pipeline)"},
		{"ambiguous --aut", argv("--aut x"), nil, isType[*AmbiguousOptionError], "--auth, --auth-extra"},
		{"ambiguous --hide", argv("--hide"), nil, isType[*AmbiguousOptionError], "option --hide is ambiguous"},
		{"ambiguous --tls-o", argv("--tls-o"), nil, isType[*AmbiguousOptionError], "tls-on-connect"},
		{"ambiguous --no-", argv("--no-"), nil, isType[*AmbiguousOptionError], "no-"},
		{"ambiguous --output-f", argv("--output-f x"), nil, isType[*AmbiguousOptionError], "--output-file-stderr, --output-file-stdout"},
		{"ambiguous --dump-as", argv("--dump-as"), nil, isType[*AmbiguousOptionError], "--dump-as-body, --dump-as-body-shows-password"},
		{"unknown with suggestion", argv("--tsl"), nil, isType[*UnknownOptionError], "unknown option --tsl (did you mean --tls?)"},
		{"unknown, no bundling", argv("-S2"), nil, isType[*UnknownOptionError], "unknown option -S2"},
		{"unknown, case-sensitive", argv("--Silent"), nil, isType[*UnknownOptionError], "unknown option --Silent"},
		{"unknown keeps value out of message", argv("--passwd=hunter2"), nil, isType[*UnknownOptionError], "--passwd"},
		{"unknown triple dash", argv("---tls"), nil, isType[*UnknownOptionError], "---tls"},
		{"removed option -m", argv("-m"), nil, isType[*UnknownOptionError], "unknown option -m"},
		{"switch with value", argv("--tls=yes"), nil, isType[*ValueError], "option --tls takes no value"},
		{"--no- with value", argv("--no-to=x"), nil, isType[*ValueError], "no-to takes no value"},
		{"silent with non-integer", argv("--silent=loud"), nil, isType[*ValueError], "integer"},
		{"greedy at end", argv("--to x@example.com --quit-after"), nil, isType[*MissingValueError], "--quit-after requires a value"},
		{"greedy empty", argv("--tls-sni="), nil, isType[*MissingValueError], "--tls-sni requires a value"},
		{"required, no prompt", argv("--header --to x@example.com"), nil, isType[*MissingValueError], "--header requires a value"},
		{"attach-type without value", argv("--attach-type"), nil, isType[*MissingValueError], "--attach-type"},
		{"prompt needed, nil prompt", argv("--to"), nil, isType[*MissingValueError], "--to requires a value"},
		{"prompt fails", argv("--server"), func(string) (string, error) { return "", errPrompt },
			func(err error) bool { return errors.Is(err, errPrompt) }, "--server"},
		{"own value flag at end", argv("--phase"), nil, isType[*MissingValueError], "--phase"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Translate(c.args, leadFlagSet(), c.prompt)
			if err == nil {
				t.Fatalf("Translate(%q) = %q, want an error", c.args, got)
			}
			if got != nil {
				t.Errorf("Translate returned output %q with its error", got)
			}
			if c.check != nil && !c.check(err) {
				t.Errorf("error %T %v is not what was expected", err, err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not contain %q", err, c.msg)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q quotes a value", err)
			}
		})
	}
}

func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// TestNegationRule checks the three ways a --no- form reaches pflag.
func TestNegationRule(t *testing.T) {
	cases := []struct {
		name   string
		define func(fs *pflag.FlagSet)
		args   []string
		want   []string
	}{
		{"fs defines no-X", func(fs *pflag.FlagSet) { fs.Bool("tls", false, ""); fs.Bool("no-tls", false, "") },
			argv("--tls --no-tls"), argv("--no-tls")},
		{"bool flag", func(fs *pflag.FlagSet) { fs.Bool("tls", false, "") },
			argv("--tls --no-tls"), argv("--tls=false")},
		{"value flag", func(fs *pflag.FlagSet) { fs.String("from", "", ""); fs.String("to", "", "") },
			argv("--from a@example.com --to b@example.com --no-from"), argv("--to=b@example.com")},
		{"repeatable flag", func(fs *pflag.FlagSet) { fs.StringArray("header", nil, "") },
			[]string{"--header", "A: 1", "--no-header", "--header", "B: 2"}, []string{"--header=B: 2"}},
		{"flag under an alias", func(fs *pflag.FlagSet) { fs.Bool("tlsc", false, "") },
			argv("-tlsc --no-tls-on-connect"), argv("--tlsc=false")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := pflag.NewFlagSet("n", pflag.ContinueOnError)
			c.define(fs)
			got, err := Translate(c.args, fs, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

// TestShorthandPrecedence: a pflag shorthand that is also a swaks alias
// means the swaks option.
func TestShorthandPrecedence(t *testing.T) {
	fs := pflag.NewFlagSet("s", pflag.ContinueOnError)
	fs.StringP("server", "s", "", "")
	fs.BoolP("silent-mode", "S", false, "") // a CLI flag that would steal -S
	fs.Int("silent", 0, "")
	got, err := Translate(argv("-s mx.example.com -S 3"), fs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := argv("--server=mx.example.com --silent=3"); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestNilFlagSet: without a FlagSet every swaks option is unsupported, but
// parsing still reports unknown options first.
func TestNilFlagSet(t *testing.T) {
	if _, err := Translate(argv("--to x"), nil, nil); !isType[*NotSupportedError](err) {
		t.Errorf("--to with nil FlagSet: %v", err)
	}
	if _, err := Translate(argv("--bogus"), nil, nil); !isType[*UnknownOptionError](err) {
		t.Errorf("--bogus with nil FlagSet: %v", err)
	}
	if _, err := Translate(argv("--h-Subject x"), nil, nil); !isType[*NotSupportedError](err) {
		t.Errorf("--h-Subject with nil FlagSet: %v", err)
	}
	got, err := Translate(argv("a b"), nil, nil)
	if err != nil || !slices.Equal(got, argv("a b")) {
		t.Errorf("positional only: %q, %v", got, err)
	}
}

func BenchmarkTranslate(b *testing.B) {
	fs := leadFlagSet()
	args := argv("-t to@example.com -f me@example.com -s smtp.example.com:587 -tls -au me -ap secret --h-Subject test --quit-after RCPT --timeout 10s")
	for b.Loop() {
		if _, err := Translate(args, fs, nil); err != nil {
			b.Fatal(err)
		}
	}
}
