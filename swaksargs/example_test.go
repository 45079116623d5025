package swaksargs_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/smtpprobe/smtpprobe/swaksargs"
	"github.com/spf13/pflag"
)

func ExampleTranslate() {
	fs := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	to := fs.String("to", "", "envelope recipient")
	server := fs.String("server", "", "server[:port]")
	tls := fs.Bool("tls", false, "require STARTTLS")
	user := fs.String("auth-user", "", "AUTH user")
	headers := fs.StringArray("header", nil, "header to set")

	swaksLine := []string{"-t", "a@example.com", "-s", "smtp.example.com:587", "-tls", "-au", "me", "--h-Subject", "test 1"}
	args, err := swaksargs.Translate(swaksLine, fs, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n", args)
	if err := fs.Parse(args); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(*to, *server, *tls, *user, *headers)
	// Output:
	// ["--to=a@example.com" "--server=smtp.example.com:587" "--tls" "--auth-user=me" "--header=Subject: test 1"]
	// a@example.com smtp.example.com:587 true me [Subject: test 1]
}

func ExampleTranslate_errors() {
	fs := pflag.NewFlagSet("probe", pflag.ContinueOnError)
	fs.String("to", "", "")
	prompt := func(option string) (string, error) {
		// The CLI prompts only on a terminal; here standard input is not one.
		return "", errors.New("standard input is not a terminal")
	}
	for _, line := range []string{"--to x --pipeline", "--to x --aut", "--to x --tsl", "--to"} {
		_, err := swaksargs.Translate(strings.Fields(line), fs, prompt)
		fmt.Println(err)
	}
	// Output:
	// --pipeline is a swaks option not supported yet
	// option --aut is ambiguous (could be --auth, --auth-extra, --auth-hide-password, --auth-map, --auth-optional, --auth-optional-strict, --auth-password, --auth-plaintext, --auth-user)
	// unknown option --tsl (did you mean --tls?)
	// reading a value for --to: standard input is not a terminal
}

func ExampleLookup() {
	o, _ := swaksargs.Lookup("tlsc")
	fmt.Println(o.Name, o.Arity)
	o, _ = swaksargs.Lookup("to")
	fmt.Printf("%s %v prompt=%q\n", o.Name, o.Arity, o.Prompt)
	// Output:
	// tls-on-connect Arg-None
	// to Arg-Required prompt="To: "
}
