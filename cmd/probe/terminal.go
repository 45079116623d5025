package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/term"
)

func osStdio(ctx context.Context) stdio {
	fd := int(os.Stdin.Fd())
	return stdio{
		in: os.Stdin, out: os.Stdout, err: os.Stderr,
		isTerminal: func() bool { return term.IsTerminal(fd) },
		readPassword: func() (string, error) {
			// ReadPassword turns echo off until it returns; on Ctrl-C it
			// would not return, so the terminal is restored here.
			state, err := term.GetState(fd)
			if err != nil {
				return "", err
			}
			type answer struct {
				b   []byte
				err error
			}
			ch := make(chan answer, 1)
			go func() {
				b, err := term.ReadPassword(fd)
				ch <- answer{b, err}
			}()
			select {
			case a := <-ch:
				fmt.Fprintln(os.Stderr)
				return string(a.b), a.err
			case <-ctx.Done():
				_ = term.Restore(fd, state)
				fmt.Fprintln(os.Stderr)
				return "", errInterrupted
			}
		},
		getenv:  os.Getenv,
		environ: os.Environ,
	}
}

// errInterrupted ends a prompt on Ctrl-C (exit 130, not a usage error).
var errInterrupted = errors.New("interrupted")

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
