package main

import (
	"encoding/json"
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

// --all-mx through the CLI: the matrix in text, mx_matrix in JSON, and a
// bad parallel count is a usage error.
func TestAllMXFlags(t *testing.T) {
	h, p := startScenario(t, "ok")
	dns := dnstest.Start(t, dnstest.Zone{
		"example.net.":      {MX: []dnstest.MX{{Preference: 10, Host: "mx1.hosting.test."}}},
		"mx1.hosting.test.": {A: []string{h}},
	})
	args := []string{"-t", "bob@example.net", "-f", "alice@example.com", "-p", p, "--dns-server", dns, "--all-mx"}
	code, out, errOut := runCLI(t, "", args...)
	if code != 0 || !strings.Contains(out, "mx1.hosting.test") || !strings.Contains(out, "1 address") {
		t.Fatalf("text: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", append(args, "--json")...)
	var s struct {
		MXMatrix []struct {
			Host, Address string
		} `json:"mx_matrix"`
		DNS []struct{ Name, Type, RCode string } `json:"dns"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 || len(s.MXMatrix) != 1 || s.MXMatrix[0].Address != h {
		t.Fatalf("json: exit %d %v %+v\n%s", code, err, s, out)
	}
	if code, out, _ := runCLI(t, "", append(args, "--markdown")...); code != 0 || !strings.Contains(out, "## Every MX address") || !strings.Contains(out, "mx1.hosting.test") || !strings.HasPrefix(out, "# ") {
		t.Errorf("--all-mx --markdown: exit %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(t, "", append(args, "--all-mx-parallel", "0")...); code != 1 || !strings.Contains(errOut, "--all-mx-parallel") {
		t.Errorf("parallel 0: exit %d %q", code, errOut)
	}
}

// The session JSON lists every DNS query with its outcome.
func TestDNSQueryLogInJSON(t *testing.T) {
	h, p := startScenario(t, "ok")
	dns := dnstest.Start(t, dnstest.Zone{
		"example.net.":      {MX: []dnstest.MX{{Preference: 10, Host: "mx1.hosting.test."}}},
		"mx1.hosting.test.": {A: []string{h}},
	})
	code, out, _ := runCLI(t, "", "-t", "bob@example.net", "-f", "alice@example.com", "-p", p, "--dns-server", dns, "--json")
	var s struct {
		DNS []struct {
			Name, Type, Server, RCode string
			Answers                   []string
		} `json:"dns"`
		Checks []any `json:"checks"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 {
		t.Fatalf("exit %d %v", code, err)
	}
	var sawMX bool
	for _, q := range s.DNS {
		if q.Name == "example.net" && q.Type == "MX" && q.RCode == "NOERROR" && q.Server == dns && len(q.Answers) == 1 {
			sawMX = true
		}
	}
	if !sawMX || s.Checks == nil {
		t.Errorf("dns %+v, checks %v", s.DNS, s.Checks)
	}
}
