package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

func osStdio() stdio {
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		isTerminal: func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
		readPassword: func() (string, error) {
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(os.Stderr)
			return string(b), err
		},
		getenv:  os.Getenv,
		environ: os.Environ,
	}
}

// prompter asks for a missing option value, but only on a terminal: swaks
// prompts forever on a closed stdin, a script deserves a usage error.
func (io stdio) prompter(sensitive map[string]bool) func(option string) (string, error) {
	return func(option string) (string, error) {
		if io.isTerminal == nil || !io.isTerminal() {
			return "", fmt.Errorf("--%s needs a value (prompting only works on a terminal)", option)
		}
		fmt.Fprintf(io.err, "%s: ", promptLabel(option))
		if sensitive[option] && io.readPassword != nil {
			return io.readPassword()
		}
		line, err := bufio.NewReader(io.in).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("--%s: no value given", option)
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
}

func promptLabel(option string) string {
	switch option {
	case "auth-user":
		return "Username"
	case "auth-password":
		return "Password"
	}
	return strings.ToUpper(option[:1]) + option[1:]
}
