package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

func TestDNSCommand(t *testing.T) {
	good := dnstest.Zone{
		"example.test.":            {MX: []dnstest.MX{{Preference: 10, Host: "mx.example.test."}}, TXT: []string{"v=spf1 mx -all"}},
		"mx.example.test.":         {A: []string{"192.0.2.10"}},
		"10.2.0.192.in-addr.arpa.": {PTR: []string{"mx.example.test."}},
		"_dmarc.example.test.":     {TXT: []string{"v=DMARC1; p=reject; rua=mailto:d@example.test"}},
		"broken.test.":             {ServFail: true},
		"nospf.test.":              {MX: []dnstest.MX{{Preference: 10, Host: "mx.example.test."}}},
	}
	dns := dnstest.Start(t, good)
	tests := []struct {
		args   []string
		exit   int
		outHas string
		errHas string
	}{
		{[]string{"dns", "example.test", "--dns-server", dns}, 0, "mx.example.test", ""},
		{[]string{"dns", "nospf.test", "--dns-server", dns}, 4, "SPF", ""},
		{[]string{"dns", "broken.test", "--dns-server", dns}, 5, "", ""},
		{[]string{"dns", "not a domain", "--dns-server", dns}, 1, "", "domain"},
		{[]string{"dns", "example.test", "--ip", "300.1.1.1", "--dns-server", dns}, 1, "", "--ip"},
		{[]string{"dns", "--dns-server", dns}, 1, "", "DOMAIN"},
		{[]string{"dns", "example.test", "--dns-server", "bad server"}, 1, "", "--dns-server"},
	}
	for _, tc := range tests {
		code, out, errOut := runCLI(t, "", tc.args...)
		if code != tc.exit || !strings.Contains(out, tc.outHas) || !strings.Contains(errOut, tc.errHas) {
			t.Errorf("%q: exit %d (want %d)\n%s\n%s", tc.args, code, tc.exit, out, errOut)
		}
	}
	code, out, _ := runCLI(t, "", "dns", "example.test", "--dns-server", dns, "--json")
	var rep struct {
		MXKind   string                               `json:"mx_kind"`
		Problems []string                             `json:"problems"`
		ExitCode int                                  `json:"exit_code"`
		DNS      []struct{ Name, Type, RCode string } `json:"dns"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || rep.MXKind != "normal" || len(rep.DNS) == 0 {
		t.Fatalf("json: exit %d %v %+v\n%s", code, err, rep, out)
	}
}
