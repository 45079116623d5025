package saslserver

import (
	"errors"
	"testing"

	"github.com/emersion/go-sasl"
)

var errBad = errors.New("bad credentials")

func check(u, p string) error {
	if u == "alice" && p == "s3cret" {
		return nil
	}
	return errBad
}

// run drives a client against a server as an SMTP session would.
func run(c sasl.Client, s sasl.Server) error {
	_, ir, err := c.Start()
	if err != nil {
		return err
	}
	resp := ir
	for {
		challenge, done, err := s.Next(resp)
		if done || err != nil {
			return err
		}
		if resp, err = c.Next(challenge); err != nil {
			return err
		}
	}
}

func TestLogin(t *testing.T) {
	// go-sasl's client sends the user name as an initial response.
	if err := run(sasl.NewLoginClient("alice", "s3cret"), NewLoginServer(check)); err != nil {
		t.Fatalf("good credentials: %v", err)
	}
	if err := run(sasl.NewLoginClient("alice", "wrong"), NewLoginServer(check)); !errors.Is(err, errBad) {
		t.Fatalf("wrong password: %v", err)
	}
	// Without an initial response the server asks for the user name.
	s := NewLoginServer(check)
	for i, step := range []struct {
		resp      []byte
		challenge string
		done      bool
	}{{nil, "Username:", false}, {[]byte("alice"), "Password:", false}, {[]byte("s3cret"), "", true}} {
		c, done, err := s.Next(step.resp)
		if string(c) != step.challenge || done != step.done || err != nil {
			t.Fatalf("step %d: %q %v %v", i, c, done, err)
		}
	}
	if _, _, err := s.Next([]byte("more")); !errors.Is(err, ErrUnexpected) {
		t.Fatalf("response after the end: %v", err)
	}
}

func TestCramMD5(t *testing.T) {
	secret := func(u string) (string, bool) { return "tanstaaftanstaaf", u == "tim" }
	s := NewCramMD5Server("<1896.697170952@postoffice.reston.mci.net>", secret, errBad)
	if c, done, _ := s.Next(nil); string(c) != "<1896.697170952@postoffice.reston.mci.net>" || done {
		t.Fatalf("challenge %q", c)
	}
	// The worked example of RFC 2195 section 2.
	if _, done, err := s.Next([]byte("tim b913a602c7eda7a495b4e6e7334d3890")); !done || err != nil {
		t.Fatalf("RFC 2195 example refused: %v", err)
	}
	for _, resp := range []string{"tim 00000000000000000000000000000000", "bob b913a602c7eda7a495b4e6e7334d3890", "no-space"} {
		s := NewCramMD5Server("<1896.697170952@postoffice.reston.mci.net>", secret, errBad)
		s.Next(nil)
		if _, _, err := s.Next([]byte(resp)); !errors.Is(err, errBad) {
			t.Fatalf("%q accepted: %v", resp, err)
		}
	}
}
