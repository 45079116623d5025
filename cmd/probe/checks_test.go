package main

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

type checksJSON struct {
	Result struct {
		ExitCode int `json:"exit_code"`
	} `json:"result"`
	Diagnosis *struct {
		Category     string   `json:"category"`
		Confirmation string   `json:"confirmation"`
		Evidence     []string `json:"evidence"`
		NextSteps    []string `json:"next_steps"`
	} `json:"diagnosis"`
	Checks []struct {
		Name, Subject, Result, Detail, IP string
	} `json:"checks"`
	DNS []struct{ Name, Type, RCode string } `json:"dns"`
}

func (c checksJSON) result(name string) string {
	for _, k := range c.Checks {
		if k.Name == name {
			return k.Result
		}
	}
	return ""
}

// The sender checks run by themselves when the refusal is about the
// sender's identity, against the DNS the user named, and confirm or
// contradict the diagnosis.
func TestSenderChecksConfirmTheCause(t *testing.T) {
	listed := dnstest.Zone{
		// RFC 5782: a list that lists 127.0.0.1 is broken, so the tests
		// connect from 127.0.0.3 (Linux answers on all of 127/8).
		"3.0.0.127.zen.spamhaus.org.": {A: []string{"127.0.0.2"}, TXT: []string{"Listed by SBL, see https://check.spamhaus.org/query/ip/127.0.0.3"}},
		"example.com.":                {TXT: []string{"v=spf1 ip4:192.0.2.0/24 -all"}, MX: []dnstest.MX{{Preference: 10, Host: "mx.example.com."}}},
		"_dmarc.example.com.":         {TXT: []string{"v=DMARC1; p=reject"}},
		"mx.example.com.":             {A: []string{"192.0.2.1"}},
	}
	notListed := dnstest.Zone{"example.com.": {TXT: []string{"v=spf1 +all"}, A: []string{"192.0.2.1"}}}
	tests := []struct {
		scenario string
		zone     dnstest.Zone
		category string
		status   string
		check    string // a check that must be there ...
		result   string // ... with this result
	}{
		{"blocklisted-ip", listed, "ip-blocklisted", "confirmed", "dnsbl", "listed"},
		{"blocklisted-ip", notListed, "ip-blocklisted", "contradicted", "dnsbl", "not-listed"},
		{"spf-fail", listed, "spf-fail", "confirmed", "spf", "fail"},
		{"spf-fail", notListed, "spf-fail", "contradicted", "spf", "pass"},
		{"rdns", listed, "rdns-ptr", "confirmed", "ptr", "none"},
		{"dmarc-policy", listed, "dmarc-policy", "", "dmarc", "reject"},
	}
	for _, tc := range tests {
		t.Run(tc.scenario+"/"+tc.status, func(t *testing.T) {
			h, p := startScenario(t, tc.scenario)
			dns := dnstest.Start(t, tc.zone)
			_, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--json", "--local-interface", "127.0.0.3")
			var s checksJSON
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatalf("%v\n%s\n%s", err, out, errOut)
			}
			if s.Diagnosis == nil || s.Diagnosis.Category != tc.category {
				t.Fatalf("diagnosis %+v", s.Diagnosis)
			}
			if tc.status != "" && s.Diagnosis.Confirmation != tc.status {
				t.Errorf("confirmation %q, want %q; evidence %q; checks %+v", s.Diagnosis.Confirmation, tc.status, s.Diagnosis.Evidence, s.Checks)
			}
			if got := s.result(tc.check); got != tc.result {
				t.Errorf("check %s: %q, want %q (checks %+v)", tc.check, got, tc.result, s.Checks)
			}
			var named bool
			for _, e := range s.Diagnosis.Evidence {
				named = named || strings.Contains(e, tc.check)
			}
			if !named {
				t.Errorf("no evidence line names the %s check: %q", tc.check, s.Diagnosis.Evidence)
			}
			if len(s.DNS) == 0 {
				t.Error("no DNS query logged")
			}
		})
	}
}

// Without --dns-server a loopback session checks nothing (and asks no
// resolver), and says why.
func TestSenderChecksNotOnLoopbackByDefault(t *testing.T) {
	h, p := startScenario(t, "blocklisted-ip")
	_, out, _ := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--json")
	var s checksJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if s.Diagnosis == nil || s.Diagnosis.Confirmation != "not-checked" || len(s.Checks) != 0 || len(s.DNS) != 0 {
		t.Fatalf("diagnosis %+v, checks %+v, dns %+v", s.Diagnosis, s.Checks, s.DNS)
	}
}

// --check-sender on a session that succeeded; --dkim-key signs and checks
// the published key first.
func TestCheckSenderAndDKIM(t *testing.T) {
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_ = pub
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "dkim.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	record, err := dkimsign.PublicRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	h, p := startScenario(t, "ok")
	dns := dnstest.Start(t, dnstest.Zone{
		"sel._domainkey.example.com.": {TXT: []string{record}},
		"example.com.":                {TXT: []string{"v=spf1 ip4:127.0.0.1 -all"}, A: []string{"192.0.2.1"}},
	})
	code, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--check-sender",
		"--dkim-key", keyFile, "--dkim-selector", "sel", "--dnsbl", "list.example", "--json")
	var s checksJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 0 {
		t.Fatalf("exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	// A default list given with --dnsbl too is asked once.
	code, out, _ = runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--check-sender", "--dnsbl", "bl.spamcop.net", "--json")
	var twice checksJSON
	if err := json.Unmarshal([]byte(out), &twice); err != nil || code != 0 {
		t.Fatalf("exit %d %v", code, err)
	}
	n := 0
	for _, c := range twice.Checks {
		if c.Name == "dnsbl" && c.Subject == "bl.spamcop.net" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("bl.spamcop.net asked %d times", n)
	}
	for name, want := range map[string]string{"dkim-key": "pass", "spf": "pass", "ptr": "none", "dnsbl": "not-listed", "sender-domain": "pass"} {
		if got := s.result(name); got != want {
			t.Errorf("%s: %q, want %q (checks %+v)", name, got, want, s.Checks)
		}
	}
	// A key file that is not a key is a usage error naming the file,
	// before connecting.
	bad := filepath.Join(t.TempDir(), "not-a-key.pem")
	os.WriteFile(bad, []byte("hello"), 0o600)
	code, _, errOut = runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "--dkim-key", bad, "--dkim-selector", "sel")
	if code != 1 || !strings.Contains(errOut, bad) {
		t.Errorf("bad key: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "--dkim-key", keyFile); code != 1 || !strings.Contains(errOut, "--dkim-selector") {
		t.Errorf("no selector: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "--dkim-key", keyFile, "--dkim-selector", "a\r\nb"); code != 1 || strings.Contains(errOut, "\r") {
		t.Errorf("CR/LF selector: exit %d %q", code, errOut)
	}
}

// refusingServer greets with a DNSBL refusal naming clientIP as the address
// the server saw (a NAT in between), then says goodbye to QUIT.
func refusingServer(t *testing.T, clientIP string) (string, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fmt.Fprintf(c, "554 5.7.1 Service unavailable; Client host [%s] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/%s\r\n", clientIP, clientIP)
				br := bufio.NewReader(c)
				if l, err := br.ReadString('\n'); err == nil && strings.HasPrefix(l, "QUIT") {
					fmt.Fprint(c, "221 bye\r\n")
				}
			}()
		}
	}()
	h, p, _ := net.SplitHostPort(ln.Addr().String())
	return h, p
}

// Behind a NAT the server names the address it saw: that address is
// checked, and the verdict rests on it, not on this side's.
func TestReportedAddressDecides(t *testing.T) {
	h, p := refusingServer(t, "192.0.2.9")
	dns := dnstest.Start(t, dnstest.Zone{
		// This side's address is listed, the one the server saw is not.
		"3.0.0.127.zen.spamhaus.org.": {A: []string{"127.0.0.2"}},
	})
	_, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--json", "--local-interface", "127.0.0.3", "--check-sender", "--dnsbl", "zen.spamhaus.org")
	var s checksJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, errOut)
	}
	if s.Diagnosis == nil || s.Diagnosis.Confirmation != "contradicted" {
		t.Fatalf("diagnosis %+v (checks %+v)", s.Diagnosis, s.Checks)
	}
	var seen []string
	for _, c := range s.Checks {
		if c.Name == "dnsbl" && c.Subject == "zen.spamhaus.org" {
			seen = append(seen, c.IP+"="+c.Result)
		}
	}
	if !slices.Contains(seen, "192.0.2.9=not-listed") || !slices.Contains(seen, "127.0.0.3=listed") {
		t.Errorf("dnsbl checks %q: both addresses must be shown", seen)
	}
	if !strings.Contains(strings.Join(s.Diagnosis.Evidence, "\n"), "saw 192.0.2.9") {
		t.Errorf("evidence does not say which address decided: %q", s.Diagnosis.Evidence)
	}
}

// A resolver that never answers costs the report its checks, not the user
// minutes: the wait after the session is bounded by --timeout.
func TestDeadResolverDoesNotHoldTheSession(t *testing.T) {
	h, p := startScenario(t, "blocklisted-ip")
	srv := dnstest.NewServer(t, dnstest.Zone{})
	srv.SetDelay(time.Minute)
	start := time.Now()
	code, out, _ := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", srv.Addr, "--json", "--local-interface", "127.0.0.3", "--timeout", "1s")
	took := time.Since(start)
	var s checksJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 21 {
		t.Fatalf("exit %d %v", code, err)
	}
	if took > 4*time.Second {
		t.Errorf("the session took %s with a dead resolver", took)
	}
	ev := ""
	if s.Diagnosis != nil {
		ev = strings.Join(s.Diagnosis.Evidence, "\n")
	}
	if s.Diagnosis == nil || s.Diagnosis.Confirmation != "inconclusive" || !strings.Contains(ev, "did not finish") && !strings.Contains(ev, "TIMEOUT") {
		t.Errorf("diagnosis %+v", s.Diagnosis)
	}
}

// --all-mx on loopback without --dns-server asks no resolver for checks;
// relay-check refuses the DKIM options; a single-label DKIM domain is a
// usage error.
func TestChecksGuards(t *testing.T) {
	h, p := startScenario(t, "blocklisted-ip")
	_, out, _ := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--all-mx", "--json", "--local-interface", "127.0.0.3", "--check-sender")
	var s checksJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatal(err)
	}
	if len(s.DNS) != 0 || len(s.Checks) != 0 || s.Diagnosis == nil || s.Diagnosis.Confirmation != "not-checked" {
		t.Errorf("all-mx on loopback: dns %+v checks %+v diagnosis %+v", s.DNS, s.Checks, s.Diagnosis)
	}
	for _, flag := range []string{"--dkim-key", "--dkim-selector", "--dkim-domain", "--dkim-header"} {
		if code, _, errOut := runCLI(t, "", "relay-check", "-s", h, "-p", p, flag, "x"); code != 1 || !strings.Contains(errOut, flag+" does not apply") {
			t.Errorf("relay-check %s: exit %d %q", flag, code, errOut)
		}
	}
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	keyFile := filepath.Join(t.TempDir(), "k.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	if code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "me@localhost", "--dkim-key", keyFile, "--dkim-selector", "s"); code != 1 || !strings.Contains(errOut, "single label") {
		t.Errorf("single-label d=: exit %d %q", code, errOut)
	}
	if code, _, errOut := runCLI(t, "", "-t", "bob@example.net", "--all-mx-parallel", "4"); code != 1 || !strings.Contains(errOut, "--all-mx") {
		t.Errorf("--all-mx-parallel alone: exit %d %q", code, errOut)
	}
}
