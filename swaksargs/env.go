package swaksargs

import (
	"sort"
	"strings"
)

// EnvArgs returns the options swaks reads from SWAKS_OPT_* environment
// variables, as command-line arguments, in swaks's order (sorted by variable
// name). environ is in os.Environ's "KEY=value" form.
//
// As in swaks, SWAKS_OPT_auth_user=me means "--auth-user me" (underscores
// become dashes, so SWAKS_OPT_h_X_Test=1 is the header shortcut
// "--h-X-Test 1"), and an empty value or "<>" gives the option with no value.
// swaks reads the environment before the command line, so the CLI should
// pass append(EnvArgs(os.Environ()), args...) to Translate: a later option,
// or its --no- form, then overrides or forgets the environment's, as in
// swaks. swaks has no positional arguments, so an environment option without
// a value cannot take one from the command line in any real swaks line.
func EnvArgs(environ []string) []string {
	type kv struct{ key, name, value string }
	var opts []kv
	for _, e := range environ {
		key, value, ok := strings.Cut(e, "=")
		if !ok {
			continue
		}
		name, ok := strings.CutPrefix(key, "SWAKS_OPT_")
		if !ok || name == "" {
			continue
		}
		if value == "<>" {
			value = ""
		}
		opts = append(opts, kv{key, strings.ReplaceAll(name, "_", "-"), value})
	}
	// swaks walks "sort keys %ENV", i.e. the variable names before the
	// underscores are rewritten.
	sort.SliceStable(opts, func(i, j int) bool { return opts[i].key < opts[j].key })
	var args []string
	for _, o := range opts {
		args = append(args, "--"+o.name)
		if o.value != "" {
			args = append(args, o.value)
		}
	}
	return args
}
