package main

import (
	"errors"
	"strings"

	"github.com/smtpprobe/smtpprobe/swaksargs"
	"github.com/smtpprobe/smtpprobe/transcript"
	"github.com/spf13/pflag"
)

// translateArgs turns a swaks-style command line into pflag's canonical
// form (package swaksargs), prompting on a terminal for missing values.
func translateArgs(args []string, fs *pflag.FlagSet, io stdio) ([]string, error) {
	canon, err := swaksargs.Translate(args, fs, io.prompter(map[string]bool{"auth-password": true}))
	if err != nil {
		return nil, hidePasswordInError(args, err)
	}
	return canon, nil
}

// isPasswordOption reports whether tok (without any "=value") names
// --auth-password under one of the spellings swaks accepts.
func isPasswordOption(tok string) bool {
	name := strings.TrimPrefix(strings.TrimPrefix(tok, "-"), "-")
	return name == "ap" || (len(name) >= len("auth-pa") && strings.HasPrefix("auth-password", name))
}

// hidePasswordInError rewrites an "unknown option" error whose option is
// really the value of --auth-password: swaks reads an optional value that
// starts with "-" as the next option, and the error would print the
// password.
func hidePasswordInError(args []string, err error) error {
	var opt string
	var unknown *swaksargs.UnknownOptionError
	var ambiguous *swaksargs.AmbiguousOptionError
	switch {
	case errors.As(err, &unknown):
		opt = unknown.Option
	case errors.As(err, &ambiguous):
		opt = ambiguous.Option
	default:
		return err
	}
	// "-apSECRET": a password glued to its option is no option swaks
	// knows, and the error would print it.
	if name := strings.TrimLeft(opt, "-"); strings.HasPrefix(name, "ap") && len(name) > 2 || strings.HasPrefix(name, "auth-pass") && !isPasswordOption(opt) {
		return errors.New("an unknown option starts like --auth-password (it is not shown: it may hold a password); give the password as --auth-password VALUE, or with --auth-password-file or --auth-password-env")
	}
	for i := 1; i < len(args); i++ {
		given, _, _ := strings.Cut(args[i], "=")
		if given == opt && isPasswordOption(args[i-1]) {
			return errors.New("the value after " + args[i-1] + " starts with '-', so it was read as an option (it is not shown here): give such a password as --auth-password=VALUE, or with --auth-password-file or --auth-password-env")
		}
	}
	return err
}

// redactArgv hides passwords in the argv recorded in reports: the value of
// every --auth-password (all spellings, every occurrence) and the password
// text wherever else it appears.
func redactArgv(argv []string, password string, show bool) []string {
	out := append([]string(nil), argv...)
	if show {
		return out
	}
	for i, a := range out {
		given, _, hasValue := strings.Cut(a, "=")
		if !isPasswordOption(given) || !strings.HasPrefix(a, "-") {
			continue
		}
		if hasValue {
			out[i] = given + "=" + transcript.Redacted
		} else if i+1 < len(out) {
			out[i+1] = transcript.Redacted
		}
	}
	// Very short passwords are left to the option-position rule above:
	// replacing "1" everywhere would mangle "--port 1025" and protect
	// nothing (the recorder makes the same choice).
	if len(password) >= 3 {
		for i, a := range out {
			out[i] = strings.ReplaceAll(a, password, transcript.Redacted)
		}
	}
	return out
}
