package swaksargs

import (
	"fmt"
	"strings"
)

// Every error type below is a usage error (swaks exits 1 for all of them).
// None of them quotes an option's value: values can be passwords.

// UnknownOptionError reports an option that is neither a swaks option (nor an
// unambiguous abbreviation of one) nor a flag of the FlagSet.
type UnknownOptionError struct {
	// Option is the option as given, with its dashes and without any "=value".
	Option string
	// Suggestion is a close swaks option name ("--timeout"), or empty.
	Suggestion string
}

func (e *UnknownOptionError) Error() string {
	if e.Suggestion != "" {
		return fmt.Sprintf("unknown option %s (did you mean %s?)", e.Option, e.Suggestion)
	}
	return fmt.Sprintf("unknown option %s", e.Option)
}

// AmbiguousOptionError reports an abbreviation that matches several swaks
// options, as Getopt::Long does ("Option a is ambiguous (...)").
type AmbiguousOptionError struct {
	// Option is the option as given, with its dashes.
	Option string
	// Candidates are the matching option names, sorted, without dashes.
	Candidates []string
}

func (e *AmbiguousOptionError) Error() string {
	return fmt.Sprintf("option %s is ambiguous (could be --%s)", e.Option, strings.Join(e.Candidates, ", --"))
}

// NotSupportedError reports a valid swaks option that the FlagSet does not
// define, i.e. one smtpprobe does not implement (yet).
type NotSupportedError struct {
	// Option is the canonical swaks name, without dashes.
	Option string
	// Given is the option as written on the command line, when it differs
	// from "--"+Option.
	Given string
}

func (e *NotSupportedError) Error() string {
	if e.Given != "" && e.Given != "--"+e.Option {
		return fmt.Sprintf("--%s (given as %s) is a swaks option not supported yet", e.Option, e.Given)
	}
	return fmt.Sprintf("--%s is a swaks option not supported yet", e.Option)
}

// MissingValueError reports an option that needs a value, got none, and is
// not one swaks prompts for (or the prompt could not be used).
type MissingValueError struct {
	// Option is the canonical name, without dashes.
	Option string
}

func (e *MissingValueError) Error() string {
	return fmt.Sprintf("option --%s requires a value", e.Option)
}

// ValueError reports a value that the option cannot take.
type ValueError struct {
	// Option is the canonical name, without dashes (or "no-" plus it).
	Option string
	// Reason says what is wrong, e.g. "takes no value".
	Reason string
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("option --%s %s", e.Option, e.Reason)
}
