package main

import (
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// "Invalid recipient" is how OpenSMTPD refuses both an unknown user and a
// relay attempt: through the domain's own MX it is an unknown user; named
// with -s it may be a relay refusal, and the diagnosis must say so with
// the doubt it has.
func TestInvalidRecipientDependsOnHowTheServerWasFound(t *testing.T) {
	h, p := startScenario(t, "invalid-recipient")
	dns := dnstest.Start(t, dnstest.Zone{
		// A hosted MX: its name says nothing of the domain.
		"example.net.":      {MX: []dnstest.MX{{Preference: 10, Host: "mx1.hosting.test."}}},
		"mx1.hosting.test.": {A: []string{h}},
	})
	type diag struct {
		Category  string   `json:"category"`
		Meaning   string   `json:"meaning"`
		NextSteps []string `json:"next_steps"`
	}
	run := func(args ...string) diag {
		t.Helper()
		code, out, errOut := runCLI(t, "", append(args, "-t", "bob@example.net", "-f", "alice@example.com", "-p", p, "--json")...)
		if code != 24 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		s := decode(t, out)
		if s.Diagnosis == nil {
			t.Fatal("no diagnosis")
		}
		return diag{s.Diagnosis.Category, s.Diagnosis.Meaning, s.Diagnosis.NextSteps}
	}
	viaMX := run("--dns-server", dns)
	named := run("-s", h)
	if viaMX.Category != "recipient-unknown" || strings.Contains(strings.ToLower(viaMX.Meaning), "relay") {
		t.Errorf("through the MX: %+v, want a plain recipient-unknown", viaMX)
	}
	all := strings.ToLower(named.Meaning + " " + strings.Join(named.NextSteps, " "))
	if !strings.Contains(all, "relay") {
		t.Errorf("named with -s: %+v, want the relay reading stated", named)
	}
}
