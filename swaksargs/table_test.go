package swaksargs

import (
	"slices"
	"strings"
	"testing"
)

// documentedArity is what swaks's reference documentation (doc/base.pod,
// the parenthetical "(Arg-...)" of each option) says about every name it
// lists. -g (removed in 2024) and the --h-<header> shortcut are left out.
var documentedArity = map[string]Arity{
	"config": Optional, "s": Required, "server": Required, "p": Required, "port": Required, "li": Required,
	"local-interface": Required, "lp": Required, "local-port": Required, "lport": Required, "copy-routing": Required, "4": None, "6": None, "socket": Required, "pipe": Required, "bcc": Required, "f": Required, "from": Required, "ehlo": Required, "lhlo": Required, "h": Required, "helo": Required, "q": Required, "quit": Required, "quit-after": Required, "da": Required, "drop-after": Required, "das": Required, "drop-after-send": Required, "timeout": Required, "protocol": Required, "pipeline": None, "prdr": None, "force-getpwuid": None,
	"tls": None, "tlso": None, "tls-optional": None, "tlsos": None, "tls-optional-strict": None, "tlsc": None,
	"tls-on-connect": None, "tlsp": Required, "tls-protocol": Required, "tls-cipher": Required, "tls-verify": None, "tls-verify-ca": None, "tls-verify-host": None, "tls-verify-target": Required, "tls-ca-path": Required,
	"tls-cert": Required, "tls-key": Required, "tls-chain": Required, "tls-get-peer-cert": Optional,
	"tls-get-peer-chain": Optional, "tls-sni": Required, "a": Optional, "auth": Optional, "ao": Optional,
	"auth-optional": Optional, "aos": Optional, "auth-optional-strict": Optional, "au": Required, "auth-user": Required, "ap": Required, "auth-password": Required, "ae": Required, "auth-extra": Required, "am": Required,
	"auth-map": Required, "apt": None, "auth-plaintext": None, "ahp": Optional, "auth-hide-password": Optional,
	"xclient-reverse-name": Required, "xclient-delim": None, "xclient": Required, "xclient-no-verify": None,
	"xclient-before-starttls": None, "xclient-optional-strict": None, "proxy-version": Required, "proxy": Required, "proxy-family": Required, "proxy-protocol": Required, "proxy-command": Required, "proxy-source": Required, "proxy-source-port": Required, "proxy-dest": Required, "proxy-dest-port": Required, "d": Required,
	"data": Required, "dab": Optional, "dump-as-body": Optional, "dabsp": None, "dump-as-body-shows-password": None, "body": Required, "attach": Required, "attach-body": Required, "attach-type": Required, "attach-name": Optional, "ah": Required, "add-header": Required, "header": Required, "no-data-fixup": None, "ndf": None,
	"no-strip-from": None, "nsf": None, "n": None, "suppress-data": None, "stl": Optional, "show-time-lapse": Optional, "nth": None, "no-hints": None, "raw": None, "show-raw-text": None, "output-file-stderr": Required,
	"pp": None, "protect-prompt": None, "hr": None, "hide-receive": None, "hs": None, "hide-send": None, "hi": None, "hide-informational": None, "ha": None, "hide-all": None, "S": Optional, "silent": Optional, "support": None, "dump-mail": None, "dump": Optional, "help": None, "version": None}

func TestTableMatchesDocumentation(t *testing.T) {
	for name, want := range documentedArity {
		o, ok := Lookup(name)
		if !ok {
			t.Errorf("documented option %q missing from Table", name)
			continue
		}
		got := o.Arity
		// The documentation calls these Arg-Required because swaks prompts
		// for them when authenticating; on the command line they are
		// optional (OP_ARG_OPT in swaks's option table).
		if o.Name == "auth-user" || o.Name == "auth-password" {
			want = Optional
		}
		if got != want {
			t.Errorf("--%s (as %q): arity %v, documented %v", o.Name, name, got, want)
		}
	}
}

func TestTableInvariants(t *testing.T) {
	opts := Table()
	if len(opts) != 107 {
		t.Errorf("Table has %d options, swaks 20240103.0+ has 107", len(opts))
	}
	seen := map[string]string{}
	for _, o := range opts {
		for _, n := range o.Names() {
			if prev, dup := seen[n]; dup {
				t.Errorf("name %q used by --%s and --%s", n, prev, o.Name)
			}
			seen[n] = o.Name
			if n == "" || strings.HasPrefix(n, "-") || strings.ContainsAny(n, "= \t") {
				t.Errorf("bad name %q", n)
			}
		}
		if o.Greedy && o.Arity != Required {
			t.Errorf("--%s greedy but %v", o.Name, o.Arity)
		}
		if o.Prompt != "" && (o.Arity != Required || o.Greedy) {
			t.Errorf("--%s prompts but is %v, greedy %v", o.Name, o.Arity, o.Greedy)
		}
		if o.Integer != (o.Name == "silent") {
			t.Errorf("--%s Integer=%v", o.Name, o.Integer)
		}
	}
}

func TestTableIsACopy(t *testing.T) {
	a := Table()
	a[0].Name = "changed"
	a[1].Aliases[0] = "changed"
	if b := Table(); b[0].Name == "changed" || b[1].Aliases[0] == "changed" {
		t.Error("Table returns shared state")
	}
}

func TestLookup(t *testing.T) {
	cases := []struct {
		name     string
		wantName string
		wantOK   bool
	}{
		{"to", "to", true},
		{"t", "to", true},
		{"S", "silent", true},
		{"s", "server", true},
		{"ehlo", "helo", true},
		{"h", "helo", true},
		{"tlsc", "tls-on-connect", true},
		{"au", "auth-user", true},
		{"ap", "auth-password", true},
		{"output-file", "output", true},
		{"lport", "local-port", true},
		{"auth-pass", "", false}, // Lookup does not abbreviate
		{"--to", "", false},
		{"TO", "", false},
		{"g", "", false},
	}
	for _, c := range cases {
		o, ok := Lookup(c.name)
		if ok != c.wantOK || o.Name != c.wantName {
			t.Errorf("Lookup(%q) = %q, %v; want %q, %v", c.name, o.Name, ok, c.wantName, c.wantOK)
		}
	}
}

func TestArityString(t *testing.T) {
	got := []string{None.String(), Required.String(), Optional.String(), Arity(9).String()}
	want := []string{"Arg-None", "Arg-Required", "Arg-Optional", "Arg-Invalid"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
