//go:build integration

package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// Postfix refuses the client 127.0.0.3 with its own RBL wording (a cidr
// access map, so the listing is the test's choice, not the system
// resolver's). The probe connects from that address and checks the
// listing against a DNS world of the test: listed there, the cause is
// confirmed; not listed, it is contradicted.
func TestPostfixRBLRefusalIsChecked(t *testing.T) {
	s := need(t)
	user := s.get(t, "SMTPPROBE_IT_USER")
	listed := dnstest.Zone{
		"3.0.0.127.zen.spamhaus.org.": {A: []string{"127.0.0.2"}, TXT: []string{"https://check.spamhaus.org/query/ip/127.0.0.3"}},
		"example.org.":                {TXT: []string{"v=spf1 -all"}},
	}
	tests := []struct {
		name   string
		zone   dnstest.Zone
		status string
		dnsbl  string
	}{
		{"listed in the DNS world", listed, "confirmed", "listed"},
		{"not listed", dnstest.Zone{"example.org.": {TXT: []string{"v=spf1 -all"}}}, "contradicted", "not-listed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dns := dnstest.Start(t, tc.zone)
			r := s.runProbe(t, "SMTPPROBE_PORT_RBL", "--to", user, "--from", "probe@example.org",
				"--local-interface", "127.0.0.3", "--dns-server", dns)
			want{exit: 24, phase: "rcpt", code: 554, categories: []string{"ip-blocklisted"}, replyMatch: `blocked using zen\.spamhaus\.org`}.check(t, r)
			var out struct {
				Diagnosis struct {
					Confirmation string   `json:"confirmation"`
					Evidence     []string `json:"evidence"`
					NextSteps    []string `json:"next_steps"`
				} `json:"diagnosis"`
				Checks []struct{ Name, Subject, Result, IP, Detail string } `json:"checks"`
			}
			if err := json.Unmarshal(r.stdout, &out); err != nil {
				t.Fatal(err)
			}
			if out.Diagnosis.Confirmation != tc.status {
				t.Errorf("confirmation %q, want %q; evidence %q", out.Diagnosis.Confirmation, tc.status, out.Diagnosis.Evidence)
			}
			var found bool
			for _, c := range out.Checks {
				if c.Name == "dnsbl" && c.Subject == "zen.spamhaus.org" && c.IP == "127.0.0.3" {
					found = true
					if c.Result != tc.dnsbl {
						t.Errorf("dnsbl %+v, want %s", c, tc.dnsbl)
					}
				}
			}
			if !found {
				t.Errorf("no dnsbl check of zen.spamhaus.org for 127.0.0.3: %+v", out.Checks)
			}
			if tc.status == "confirmed" && !strings.Contains(strings.Join(out.Diagnosis.NextSteps, " "), "spamhaus.org") {
				t.Errorf("next steps name no delisting page: %q", out.Diagnosis.NextSteps)
			}
		})
	}
	// Any other client is served as the MX: the refusal is about 127.0.0.3.
	want{exit: 0, code: 250}.check(t, s.runProbe(t, "SMTPPROBE_PORT_RBL", "--to", user, "--from", "probe@example.org"))
}
