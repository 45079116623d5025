// Package swaksargs lets smtpprobe accept real swaks command lines unchanged.
//
// swaks parses its options with Perl's Getopt::Long (configured with
// no_ignore_case and its defaults otherwise: auto-abbreviation, one or two
// leading dashes, no bundling) after two rewrites of its own: "--opt=value"
// is split into "--opt value", and "--h-Name value" / "--header-Name value"
// becomes "--header 'Name: value'". Every option also has a "no-" form that
// forgets all earlier occurrences. Translate reproduces those rules and
// rewrites the command line into the canonical "--name=value" form that
// github.com/spf13/pflag parses, so the CLI can define its flags once, under
// swaks's own long names.
//
// The option table and the parsing rules were taken from swaks's source
// (get_option_struct, load_args, fetch_args and get_arg in the swaks script,
// release 20240103.0 plus later fixes) and from Getopt::Long 2.52; the test
// table was checked against that code running under Perl.
package swaksargs

// Arity says whether an option takes a value.
type Arity int

const (
	// None: the option is a switch and takes no value.
	None Arity = iota
	// Required: the option needs a value. swaks lets many of these be given
	// without one and then prompts for it (see Option.Prompt).
	Required
	// Optional: the option may be given with or without a value, and
	// "without" means something different from "not given".
	Optional
)

// String returns the arity's name as swaks's documentation spells it.
func (a Arity) String() string {
	switch a {
	case None:
		return "Arg-None"
	case Required:
		return "Arg-Required"
	case Optional:
		return "Arg-Optional"
	default:
		return "Arg-Invalid"
	}
}

// Option describes one swaks option.
type Option struct {
	// Name is swaks's canonical long name (the first name in its option table).
	Name string
	// Aliases are the other names swaks accepts for the option, in swaks's order.
	Aliases []string
	// Arity says whether a value is taken.
	Arity Arity
	// Greedy options (Getopt::Long "=s") take the next argument as their
	// value whatever it looks like, even "--tls". All other options with a
	// value take the next argument only if it does not look like an option
	// (see Translate).
	Greedy bool
	// Integer options (only --silent) take the next argument only when it is
	// an integer.
	Integer bool
	// Prompt is the question swaks asks when a Required option was given
	// without a value (or with an empty one). Empty means swaks treats a
	// missing value as an error instead. --auth-user and --auth-password are
	// Optional here, as in swaks; swaks prompts for them later ("Username: ",
	// "Password: ") only when authentication is attempted without them.
	Prompt string
	// FromFile options read standard input when the value is "-" and the
	// named file when it is "@path" ("@@x" is the literal "@x").
	FromFile bool
	// Sensitive values are secrets: mask them when prompting and in output.
	Sensitive bool
	// Repeatable options accumulate every occurrence; for the others the
	// last occurrence wins.
	Repeatable bool
	// Deprecated options still work in swaks but will be removed.
	Deprecated bool
}

// Names returns the canonical name followed by the aliases.
func (o Option) Names() []string {
	return append([]string{o.Name}, o.Aliases...)
}

// Table returns every swaks option (canonical names are swaks's long names),
// in the order of swaks's own option table. The slice is new on every call.
func Table() []Option {
	return []Option{
		{Name: "config", Arity: Optional},
		{Name: "from", Aliases: []string{"f"}, Arity: Required, Prompt: "From: "},
		{Name: "to", Aliases: []string{"t"}, Arity: Required, Prompt: "To: "},
		{Name: "cc", Arity: Required, Prompt: "Cc: "},
		{Name: "bcc", Arity: Required, Prompt: "Bcc: "},
		{Name: "helo", Aliases: []string{"ehlo", "lhlo", "h"}, Arity: Required, Prompt: "Helo: "},
		{Name: "server", Aliases: []string{"s"}, Arity: Required, Prompt: "Server: "},
		{Name: "4", Arity: None},
		{Name: "6", Arity: None},
		{Name: "copy-routing", Arity: Required},
		{Name: "port", Aliases: []string{"p"}, Arity: Required, Prompt: "Port: "},
		{Name: "protocol", Arity: Required, Greedy: true},
		{Name: "data", Aliases: []string{"d"}, Arity: Required, Prompt: "Data: ", FromFile: true},
		{Name: "dump-as-body", Aliases: []string{"dab"}, Arity: Optional},
		{Name: "dump-as-body-shows-password", Aliases: []string{"dabsp"}, Arity: None},
		{Name: "timeout", Arity: Required, Prompt: "Timeout: "},
		{Name: "quit-after", Aliases: []string{"quit", "q"}, Arity: Required, Greedy: true},
		{Name: "drop-after", Aliases: []string{"drop", "da"}, Arity: Required, Greedy: true},
		{Name: "drop-after-send", Aliases: []string{"das"}, Arity: Required, Greedy: true},
		{Name: "suppress-data", Aliases: []string{"n"}, Arity: None},
		{Name: "auth", Aliases: []string{"a"}, Arity: Optional},
		{Name: "auth-user", Aliases: []string{"au"}, Arity: Optional},
		{Name: "auth-password", Aliases: []string{"ap"}, Arity: Optional, Sensitive: true},
		{Name: "auth-map", Aliases: []string{"am"}, Arity: Required, Greedy: true},
		{Name: "auth-extra", Aliases: []string{"ae"}, Arity: Required, Greedy: true},
		{Name: "auth-hide-password", Aliases: []string{"ahp"}, Arity: Optional},
		{Name: "auth-plaintext", Aliases: []string{"apt"}, Arity: None},
		{Name: "auth-optional", Aliases: []string{"ao"}, Arity: Optional},
		{Name: "auth-optional-strict", Aliases: []string{"aos"}, Arity: Optional},
		{Name: "support", Arity: None},
		{Name: "local-interface", Aliases: []string{"li"}, Arity: Required, Prompt: "Interface: "},
		{Name: "local-port", Aliases: []string{"lport", "lp"}, Arity: Required, Prompt: "Local Port: "},
		{Name: "tls", Arity: None},
		{Name: "tls-optional", Aliases: []string{"tlso"}, Arity: None},
		{Name: "tls-optional-strict", Aliases: []string{"tlsos"}, Arity: None},
		{Name: "tls-on-connect", Aliases: []string{"tlsc"}, Arity: None},
		{Name: "tls-cert", Arity: Required, Greedy: true},
		{Name: "tls-key", Arity: Required, Greedy: true},
		{Name: "tls-chain", Arity: Required, Greedy: true},
		{Name: "tls-protocol", Aliases: []string{"tlsp"}, Arity: Required, Greedy: true},
		{Name: "tls-cipher", Arity: Required, Greedy: true},
		{Name: "tls-get-peer-cert", Arity: Optional},
		{Name: "tls-get-peer-chain", Arity: Optional},
		{Name: "tls-sni", Arity: Required, Greedy: true},
		{Name: "tls-verify", Arity: None},
		{Name: "tls-verify-ca", Arity: None},
		{Name: "tls-verify-host", Arity: None},
		{Name: "tls-verify-target", Arity: Required, Greedy: true},
		{Name: "tls-ca-path", Arity: Required, Greedy: true},
		{Name: "silent", Aliases: []string{"S"}, Arity: Optional, Integer: true},
		{Name: "no-strip-from", Aliases: []string{"nsf"}, Arity: None},
		{Name: "no-hints", Aliases: []string{"nth"}, Arity: None},
		{Name: "no-send-hints", Aliases: []string{"nsh"}, Arity: None},
		{Name: "no-receive-hints", Aliases: []string{"nrh"}, Arity: None},
		{Name: "no-info-hints", Aliases: []string{"nih"}, Arity: None},
		{Name: "hide-receive", Aliases: []string{"hr"}, Arity: None},
		{Name: "hide-send", Aliases: []string{"hs"}, Arity: None},
		{Name: "protect-prompt", Aliases: []string{"pp"}, Arity: None},
		{Name: "hide-informational", Aliases: []string{"hi"}, Arity: None},
		{Name: "hide-all", Aliases: []string{"ha"}, Arity: None},
		{Name: "show-time-lapse", Aliases: []string{"stl"}, Arity: Optional},
		{Name: "version", Arity: None},
		{Name: "help", Arity: None},
		{Name: "no-data-fixup", Aliases: []string{"ndf"}, Arity: None},
		{Name: "show-raw-text", Aliases: []string{"raw"}, Arity: None},
		{Name: "output", Aliases: []string{"output-file"}, Arity: Required, Greedy: true},
		{Name: "output-file-stdout", Arity: Required, Greedy: true},
		{Name: "output-file-stderr", Arity: Required, Greedy: true},
		{Name: "pipe", Arity: Required, Prompt: "Pipe: "},
		{Name: "socket", Arity: Required, Prompt: "Socket File: "},
		{Name: "body", Arity: Required, Prompt: "Body: ", FromFile: true},
		{Name: "attach-name", Arity: Optional, Repeatable: true},
		{Name: "attach-type", Arity: Required, Repeatable: true},
		{Name: "attach", Arity: Required, FromFile: true, Repeatable: true},
		{Name: "attach-body", Arity: Required, FromFile: true, Repeatable: true},
		{Name: "add-header", Aliases: []string{"ah"}, Arity: Required, Repeatable: true},
		{Name: "header", Arity: Required, Repeatable: true},
		{Name: "dump", Arity: Optional},
		{Name: "dump-mail", Arity: None},
		{Name: "pipeline", Arity: None},
		{Name: "prdr", Arity: None},
		{Name: "force-getpwuid", Arity: None},
		{Name: "xclient", Arity: Required, Prompt: "XCLIENT string: ", Repeatable: true},
		{Name: "xclient-name", Arity: Required, Prompt: "XCLIENT name: "},
		{Name: "xclient-addr", Arity: Required, Prompt: "XCLIENT addr: "},
		{Name: "xclient-port", Arity: Required, Prompt: "XCLIENT port: "},
		{Name: "xclient-proto", Arity: Required, Prompt: "XCLIENT proto: "},
		{Name: "xclient-destaddr", Arity: Required, Prompt: "XCLIENT destaddr: "},
		{Name: "xclient-destport", Arity: Required, Prompt: "XCLIENT destport: "},
		{Name: "xclient-helo", Arity: Required, Prompt: "XCLIENT helo: "},
		{Name: "xclient-login", Arity: Required, Prompt: "XCLIENT login: "},
		{Name: "xclient-reverse-name", Arity: Required, Prompt: "XCLIENT reverse_name: "},
		{Name: "xclient-delim", Arity: None, Repeatable: true},
		{Name: "xclient-optional", Arity: None},
		{Name: "xclient-optional-strict", Arity: None},
		{Name: "xclient-before-starttls", Arity: None},
		{Name: "xclient-no-verify", Arity: None},
		{Name: "proxy", Arity: Required, Prompt: "PROXY string: ", FromFile: true},
		{Name: "proxy-version", Arity: Required, Prompt: "PROXY version: "},
		{Name: "proxy-family", Arity: Required, Prompt: "PROXY family: "},
		{Name: "proxy-command", Arity: Required, Prompt: "PROXY command: "},
		{Name: "proxy-protocol", Arity: Required, Prompt: "PROXY protocol: "},
		{Name: "proxy-source", Arity: Required, Prompt: "PROXY source: "},
		{Name: "proxy-source-port", Arity: Required, Prompt: "PROXY source_port: "},
		{Name: "proxy-dest", Arity: Required, Prompt: "PROXY dest: "},
		{Name: "proxy-dest-port", Arity: Required, Prompt: "PROXY dest_port: "},
		// Exists in swaks only to exercise its deprecation warnings.
		{Name: "trigger-deprecation", Arity: Required, Deprecated: true},
	}
}

// Lookup returns the option whose canonical name or alias is exactly name
// (case-sensitive, no abbreviation, no dashes).
func Lookup(name string) (Option, bool) {
	for _, o := range Table() {
		for _, n := range o.Names() {
			if n == name {
				return o, true
			}
		}
	}
	return Option{}, false
}
