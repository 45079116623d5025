package relaycheck

import (
	"bytes"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/probe"
)

// FuzzTricks checks that whatever the user gives as --foreign and
// --domain, every trick address that is built is one the probe may send:
// no CR, LF or angle bracket can reach a RCPT command.
func FuzzTricks(f *testing.F) {
	for _, s := range [][2]string{
		{"relaycheck@example.net", "example.test"},
		{`"a b"@example.net`, "[127.0.0.1]"},
		{"x@y", "[IPv6:2001:db8::1]"},
		{"@", ""},
		{"a@b\r\nRSET", "example.test"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, foreign, domain string) {
		for _, tr := range Tricks(foreign, domain) {
			if err := probe.ValidAddress(tr.Address); err != nil {
				t.Fatalf("trick %s %q is invalid: %v", tr.Check, tr.Address, err)
			}
			if strings.ContainsAny(tr.Address, "\r\n<>\x00") {
				t.Fatalf("trick %q carries a control character or bracket", tr.Address)
			}
			if !strings.HasSuffix(tr.Address, "@"+domain) && !strings.HasPrefix(tr.Address, "@"+domain+":") {
				t.Fatalf("trick %q does not go through %q", tr.Address, domain)
			}
		}
	})
}

// FuzzGuessDomain checks that a guessed domain is always usable in an
// address: postmaster@guess passes ValidAddress.
func FuzzGuessDomain(f *testing.F) {
	for _, s := range []string{"mx1.example.org", "example.org", "127.0.0.1", "[::1]", "IPv6:::1", "a..b.c", "", ".", "x y.z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		g := GuessDomain(host)
		if g == "" {
			return
		}
		if err := probe.ValidAddress("postmaster@" + g); err != nil {
			t.Fatalf("GuessDomain(%q) = %q, unusable: %v", host, g, err)
		}
	})
}

// FuzzSplitServer checks the --server parser never panics and never
// returns a host with whitespace or an out-of-range port.
func FuzzSplitServer(f *testing.F) {
	for _, s := range []string{"mx.example.org", "mx.example.org:587", "[2001:db8::1]:25", "[::1]", ":25", "a:b:c", "host:0", "host:99999"} {
		f.Add(s, 0)
	}
	f.Fuzz(func(t *testing.T, server string, port int) {
		host, p, err := probe.SplitServer(server, port)
		if err != nil {
			return
		}
		if server != "" && host == "" {
			t.Fatalf("SplitServer(%q) gave no host", server)
		}
		if strings.ContainsAny(host, " \t\r\n\x00") {
			t.Fatalf("host %q has whitespace", host)
		}
		if port == 0 && (p < 0 || p > 65535) {
			t.Fatalf("port %d out of range", p)
		}
	})
}

// FuzzWriteCheck checks that nothing a hostile server says (reply text,
// echoed in details and diagnoses) reaches the terminal as a control
// character.
func FuzzWriteCheck(f *testing.F) {
	f.Add("554 5.7.1 Relay access denied", "refused", "relay-denied")
	f.Add("250 ok\x1b[2J\x07", "detail\r\nfake line", "x\x00y")
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, reply, detail, meaning string) {
		c := Check{Name: CheckOpenRelay, Verdict: Warn, Reply: reply, Detail: detail,
			Diagnosis: &diagnose.Diagnosis{Category: "unknown", Meaning: meaning, NextSteps: []string{meaning}}}
		var b bytes.Buffer
		if err := WriteCheck(&b, c, TextOptions{Verbose: true}); err != nil {
			t.Fatal(err)
		}
		for _, r := range b.String() {
			if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				t.Fatalf("control character %U in output %q", r, b.String())
			}
		}
	})
}

// FuzzParseRole checks that only the documented roles are accepted.
func FuzzParseRole(f *testing.F) {
	for _, s := range []string{"auto", "mx", "MX", "submission", "msa", "", "relay"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRole(s)
		if err != nil {
			return
		}
		switch r {
		case RoleAuto, RoleMX, RoleSubmission:
		default:
			t.Fatalf("ParseRole(%q) = %q", s, r)
		}
	})
}
