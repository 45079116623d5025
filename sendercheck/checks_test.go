package sendercheck

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPTR(t *testing.T) {
	r := world(t)
	tests := []struct {
		ip, want   string
		names      []string
		detailHas  string
		recordsHas string
	}{
		{ipGood, ResultPass, []string{"mail.good.test"}, "forward-confirmed", "10.2.0.192.in-addr.arpa PTR mail.good.test"},
		{ip6Good, ResultPass, []string{"mail6.good.test"}, "forward-confirmed", "mail6.good.test AAAA 2001:db8::10"},
		{"[192.0.2.10]", ResultPass, []string{"mail.good.test"}, "forward-confirmed", ""},
		{"::ffff:192.0.2.10", ResultPass, []string{"mail.good.test"}, "forward-confirmed", ""},
		{ipMismatch, ResultFail, []string{"other.good.test"}, "other.good.test resolves to 192.0.2.99", "other.good.test A 192.0.2.99"},
		{ipPTRNX, ResultFail, []string{"gone.good.test"}, "gone.good.test does not exist", ""},
		{ipNoPTR, ResultNone, nil, "NXDOMAIN", ""},
		{ipPTRNoRec, ResultNone, nil, "no PTR record", ""},
		{ipPTRSF, ResultTempError, nil, "SERVFAIL", ""},
		{ipGeneric, ResultPass, []string{"192-0-2-16.dyn.isp.test"}, "looks generic", ""},
		{"300.1.2.3", ResultPermError, nil, "not an IP address", ""},
		{"mail.good.test", ResultPermError, nil, "not an IP address", ""},
		{"fe80::1%eth0", ResultPermError, nil, "zone", ""},
	}
	for _, tt := range tests {
		t.Run(tt.ip, func(t *testing.T) {
			c := PTR(testCtx(t), r, tt.ip)
			if c.Name != NamePTR || c.Result != tt.want {
				t.Fatalf("PTR(%s) = %s %s (%s), want %s", tt.ip, c.Name, c.Result, c.Detail, tt.want)
			}
			if !slices.Equal(c.Names, tt.names) {
				t.Errorf("Names = %q, want %q", c.Names, tt.names)
			}
			if !strings.Contains(c.Detail, tt.detailHas) {
				t.Errorf("Detail %q lacks %q", c.Detail, tt.detailHas)
			}
			if tt.recordsHas != "" && !slices.Contains(c.Records, tt.recordsHas) {
				t.Errorf("Records %q lack %q", c.Records, tt.recordsHas)
			}
			if c.Result == ResultTempError && c.RCode != "SERVFAIL" {
				t.Errorf("RCode = %q, want SERVFAIL", c.RCode)
			}
		})
	}
}

func TestHELO(t *testing.T) {
	r := world(t)
	tests := []struct {
		name, helo, ip string
		ptr            []string
		want           string
		detailHas      string
	}{
		{"resolves to ip, is PTR", "mail.good.test", ipGood, []string{"mail.good.test."}, ResultPass, "also the PTR name"},
		{"resolves to ip, differs from PTR", "mail.good.test", ipGood, []string{"other.good.test"}, ResultPass, "differs from the PTR name other.good.test"},
		{"trailing dot and case", "MAIL.good.test.", ipGood, nil, ResultPass, "resolves to the sending address"},
		{"resolves elsewhere", "mail.good.test", ipMismatch, nil, ResultFail, "not to the sending address 192.0.2.11"},
		{"NXDOMAIN", "nowhere.good.test", ipGood, nil, ResultFail, "does not exist"},
		{"no address", "noaddr.good.test", ipGood, nil, ResultFail, "no address record"},
		{"not qualified", "localhost", ipGood, nil, ResultFail, "not fully qualified"},
		{"bare IP", "192.0.2.10", ipGood, nil, ResultFail, "bare IP address"},
		{"empty", "", ipGood, nil, ResultFail, "No EHLO name"},
		{"garbage", "mail good;test", ipGood, nil, ResultFail, "not a valid host name"},
		{"literal matches", "[192.0.2.10]", ipGood, nil, ResultPass, "address literal"},
		{"literal differs", "[192.0.2.99]", ipGood, nil, ResultFail, "not the sending address"},
		{"IPv6 literal", "[IPv6:2001:db8::10]", ip6Good, nil, ResultPass, "address literal"},
		{"IPv6 literal without tag", "[2001:db8::10]", ip6Good, nil, ResultFail, "IPv6: tag"},
		{"broken literal", "[192.0.2.10", ipGood, nil, ResultFail, "neither a host name"},
		{"SERVFAIL", "helo-sf.good.test", ipGood, nil, ResultTempError, "SERVFAIL"},
		{"IPv6 sender", "mail6.good.test", ip6Good, nil, ResultPass, "sending address"},
		{"no ip: resolves", "mail.good.test", "", nil, ResultPass, "resolves to 192.0.2.10"},
		{"bad ip", "mail.good.test", "not-an-ip", nil, ResultPermError, "not an IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := HELO(testCtx(t), r, tt.helo, tt.ip, tt.ptr)
			if c.Name != NameHELO || c.Result != tt.want {
				t.Fatalf("HELO(%q, %q) = %s (%s), want %s", tt.helo, tt.ip, c.Result, c.Detail, tt.want)
			}
			if !strings.Contains(c.Detail, tt.detailHas) {
				t.Errorf("Detail %q lacks %q", c.Detail, tt.detailHas)
			}
		})
	}
}

func TestSPF(t *testing.T) {
	r := world(t)
	tests := []struct {
		name, domain, ip, helo string
		want, mechanism        string
		detailHas              string
		firstRecord            string
	}{
		{"pass ip4", "pass.test", ipGood, "mail.good.test", "pass", "ip4:192.0.2.0/28", "authorizes 192.0.2.10 by ip4:192.0.2.0/28", `pass.test TXT "v=spf1 ip4:192.0.2.0/28 -all"`},
		{"fail -all", "pass.test", ipOther, "mail.good.test", "fail", "-all", "does not authorize 198.51.100.1 (fail) by -all", `pass.test TXT "v=spf1 ip4:192.0.2.0/28 -all"`},
		{"softfail", "softfail.test", ipOther, "", "softfail", "~all", "(softfail) by ~all", ""},
		{"neutral ?all", "neutral.test", ipOther, "", "neutral", "?all", "neutral", ""},
		{"neutral without all", "noall.test", ipOther, "", "neutral", "", "has no all", ""},
		{"none", "nospf.test", ipGood, "", "none", "", "publishes no SPF record", ""},
		{"none NXDOMAIN", "nx-domain.test", ipGood, "", "none", "", "does not exist", ""},
		{"include pass", "inc.test", ipGood, "", "pass", "include:_spf.provider.test", "by include:_spf.provider.test", `inc.test TXT "v=spf1 include:_spf.provider.test -all"`},
		{"include pass IPv6", "inc.test", ip6Good, "", "pass", "include:_spf.provider.test", "", ""},
		{"include no match", "inc.test", ipOther, "", "fail", "-all", "", ""},
		{"redirect", "redir.test", ipGood, "", "pass", "redirect=pass.test", "by redirect=pass.test", `redir.test TXT "v=spf1 redirect=pass.test"`},
		{"include loop", "loop.test", ipGood, "", "permerror", "include:loop2.test", "more than 10 DNS lookups", ""},
		{"more than 10 lookups", "many.test", ipGood, "", "permerror", "include:i11.many.test", "more than 10 DNS lookups", ""},
		{"unknown term", "badterm.test", ipOther, "", "permerror", "", `unknown term "frobnicate"`, ""},
		{"two records", "twospf.test", ipGood, "", "permerror", "", "more than one SPF record", ""},
		{"SERVFAIL", "sf.test", ipGood, "", "temperror", "", "SERVFAIL", ""},
		{"include SERVFAIL", "tinc.test", ipGood, "", "temperror", "include:sf.test", "SERVFAIL", ""},
		{"null sender checks HELO", "", ipGood, "mail.good.test", "pass", "a", "The SPF record of mail.good.test authorizes", `mail.good.test TXT "v=spf1 a -all"`},
		{"huge record", "huge.test", ipGood, "", "fail", "-all", "", ""},
		{"not an IP", "pass.test", "not-an-ip", "", "permerror", "", "not an IP address", ""},
		{"not a domain", "not a domain", ipGood, "", "none", "", "not a fully qualified domain name", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := SPF(testCtx(t), r, tt.domain, tt.ip, tt.helo)
			if c.Name != NameSPF || c.Result != tt.want {
				t.Fatalf("SPF(%q, %s) = %s (%s), want %s", tt.domain, tt.ip, c.Result, c.Detail, tt.want)
			}
			if c.Mechanism != tt.mechanism {
				t.Errorf("Mechanism = %q, want %q (detail %q)", c.Mechanism, tt.mechanism, c.Detail)
			}
			if !strings.Contains(c.Detail, tt.detailHas) {
				t.Errorf("Detail %q lacks %q", c.Detail, tt.detailHas)
			}
			if tt.firstRecord != "" && (len(c.Records) == 0 || c.Records[0] != tt.firstRecord) {
				t.Errorf("Records = %q, want first %q", c.Records, tt.firstRecord)
			}
			for _, rec := range c.Records {
				if len(rec) > maxRecordLen+100 {
					t.Errorf("a record of %d bytes was quoted whole", len(rec))
				}
			}
			if c.Result == "temperror" && c.RCode != "SERVFAIL" {
				t.Errorf("RCode = %q, want SERVFAIL", c.RCode)
			}
		})
	}
}

func TestDMARC(t *testing.T) {
	r := world(t)
	tests := []struct {
		domain, want string
		found        string // DMARC.Domain
		pct          int
		detailHas    string
	}{
		{"reject.test", "reject", "reject.test", 100, "p=reject, pct=100, aspf=r, adkim=r"},
		{"quar.test", "quarantine", "quar.test", 50, "for 50% of it"},
		{"none.test", "none", "none.test", 100, "no action"},
		{"absent.test", "absent", "", 0, "publishes no DMARC record"},
		{"nx-anything.test", "absent", "", 0, "publishes no DMARC record"},
		{"other.test", "absent", "", 0, "publishes no DMARC record"},
		{"garbage.test", "permerror", "", 0, "invalid"},
		{"nosemi.test", "permerror", "", 0, "does not parse"},
		{"twodmarc.test", "permerror", "", 0, "2 DMARC records"},
		{"sub.org.test", "quarantine", "org.test", 100, "organizational domain org.test"},
		{"deep.sub.orgp.test", "reject", "orgp.test", 100, "organizational domain orgp.test"},
		{"org.test", "reject", "org.test", 100, "sp=quarantine"},
		{"sf.test", "temperror", "", 0, "SERVFAIL"},
		{"hugedmarc.test", "reject", "hugedmarc.test", 100, "p=reject"},
		{"not a domain", "permerror", "", 0, "not a domain name"},
		{"203.0.113.5", "permerror", "", 0, "IP address"},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			c := DMARC(testCtx(t), r, tt.domain)
			if c.Name != NameDMARC || c.Result != tt.want {
				t.Fatalf("DMARC(%s) = %s (%s), want %s", tt.domain, c.Result, c.Detail, tt.want)
			}
			if !strings.Contains(c.Detail, tt.detailHas) {
				t.Errorf("Detail %q lacks %q", c.Detail, tt.detailHas)
			}
			if tt.found == "" {
				if c.DMARC != nil {
					t.Errorf("DMARC record %+v, want none", c.DMARC)
				}
				return
			}
			if c.DMARC == nil || c.DMARC.Domain != tt.found || c.DMARC.Percent != tt.pct || c.DMARC.Applied != tt.want {
				t.Fatalf("DMARC record %+v, want found at %s, pct %d, applied %s", c.DMARC, tt.found, tt.pct, tt.want)
			}
			if len(c.Records) != 1 || !strings.HasPrefix(c.Records[0], "_dmarc."+tt.found+" TXT ") || len(c.Records[0]) > maxRecordLen+100 {
				t.Errorf("Records = %.200q", c.Records)
			}
		})
	}
}

func TestOrgDomainAndAligned(t *testing.T) {
	for in, want := range map[string]string{
		"mail.example.org":    "example.org",
		"example.org.":        "example.org",
		"a.b.example.co.uk":   "example.co.uk",
		"sub.org.test":        "org.test",
		"co.uk":               "co.uk",
		"MAIL.Example.ORG":    "example.org",
		"bounces.example.com": "example.com",
	} {
		if got := OrgDomain(in); got != want {
			t.Errorf("OrgDomain(%q) = %q, want %q", in, got, want)
		}
	}
	tests := []struct {
		from, auth, mode string
		want             bool
	}{
		{"example.org", "bounces.example.org", "r", true},
		{"example.org", "bounces.example.org", "s", false},
		{"example.org", "example.org.", "s", true},
		{"example.org", "example.net", "r", false},
		{"example.co.uk", "other.co.uk", "r", false},
		{"", "example.org", "r", false},
	}
	for _, tt := range tests {
		if got := Aligned(tt.from, tt.auth, tt.mode); got != tt.want {
			t.Errorf("Aligned(%q, %q, %q) = %v", tt.from, tt.auth, tt.mode, got)
		}
	}
}

func TestDNSBL(t *testing.T) {
	r := world(t)
	tests := []struct {
		name, zone, ip string
		want           string
		answers        []string
		detailHas      string
		delist         string
	}{
		{"listed with TXT URL", "bl.test", ipGood, ResultListed, []string{"127.0.0.2"}, "Listed for spam", "https://bl.test/lookup?ip=192.0.2.10"},
		{"not listed", "bl.test", ipMismatch, ResultNotListed, nil, "not listed", ""},
		{"IPv6 listed", "bl.test", ip6Good, ResultListed, []string{"127.0.0.2"}, "listed", ""},
		{"huge TXT", "bl.test", ipHugeTXT, ResultListed, []string{"127.0.0.3"}, "xxxx", ""},
		{"zone with trailing dot and case", "BL.test.", ipGood, ResultListed, []string{"127.0.0.2"}, "", ""},
		{"Spamhaus codes named", "zen.spamhaus.org", ipGood, ResultListed, []string{"127.0.0.2", "127.0.0.10"}, "PBL (ISP)", "https://check.spamhaus.org/results/?query=192.0.2.10"},
		{"Spamhaus public resolver", "zen.spamhaus.org", ipMismatch, ResultRefused, []string{"127.255.255.254"}, "public or open resolver", ""},
		{"refusal code elsewhere", "err.test", ipGood, ResultRefused, []string{"127.255.255.254"}, "not a listing", ""},
		{"listing and error code", "mixed.test", ipGood, ResultRefused, []string{"127.0.0.2", "127.255.255.255"}, "too often", ""},
		{"lists everything", "everything.test", ipGood, ResultRefused, []string{"127.0.0.2"}, "lists even its test address", ""},
		{"NXDOMAIN rewriting", "hijack.test", ipGood, ResultRefused, []string{"198.51.100.200"}, "outside 127.0.0.0/8", ""},
		{"127.0.0.1 answer", "uri.test", ipGood, ResultRefused, []string{"127.0.0.1"}, "never a listing", ""},
		{"NODATA", "nodata.test", ipGood, ResultNotListed, nil, "without an A record", ""},
		{"SERVFAIL", "sfzone.test", ipGood, ResultTempError, nil, "SERVFAIL", ""},
		{"retired SORBS", "dnsbl.sorbs.net", ipGood, ResultRefused, nil, "shut down", ""},
		{"zone not a domain", "not a zone!", ipGood, ResultPermError, nil, "not a domain name", ""},
		{"zone single label", "localhost", ipGood, ResultPermError, nil, "single label", ""},
		{"zone empty", "", ipGood, ResultPermError, nil, "empty", ""},
		{"IP not an IP", "bl.test", "999.1.1.1", ResultPermError, nil, "not an IP address", ""},
	}
	// The eager form (a list a refusal named) must judge every case the
	// same way, only asking its three questions at once.
	for _, eager := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/eager=%v", tt.name, eager), func(t *testing.T) {
				c := DNSBL(testCtx(t), r, tt.zone, tt.ip)
				if eager {
					c = DNSBLExpectingListing(testCtx(t), r, tt.zone, tt.ip)
				}
				if c.Name != NameDNSBL || c.Result != tt.want {
					t.Fatalf("DNSBL(%q, %s) = %s (%s), want %s", tt.zone, tt.ip, c.Result, c.Detail, tt.want)
				}
				if !slices.Equal(c.Answers, tt.answers) {
					t.Errorf("Answers = %q, want %q", c.Answers, tt.answers)
				}
				if !strings.Contains(c.Detail, tt.detailHas) {
					t.Errorf("Detail %.300q lacks %q", c.Detail, tt.detailHas)
				}
				if c.DelistURL != tt.delist && tt.delist != "" {
					t.Errorf("DelistURL = %q, want %q", c.DelistURL, tt.delist)
				}
				if c.Result != ResultListed && (c.Reason != "" || c.DelistURL != "") {
					t.Errorf("a %s result carries a listing's reason %q / URL %q", c.Result, c.Reason, c.DelistURL)
				}
				if len(c.Reason) > maxReasonLen+40 || len(c.Detail) > 2000 {
					t.Errorf("reason of %d bytes, detail of %d bytes: a huge TXT record was copied", len(c.Reason), len(c.Detail))
				}
			})
		}
	}
}

// refusingResolver answers every query REFUSED, as a list's servers do to
// resolvers they do not serve; dnstest cannot send that rcode.
type refusingResolver struct{}

func (refusingResolver) err(name string) error {
	return &net.DNSError{Err: "REFUSED (the server could not answer)", Name: name, Server: "127.0.0.1:53", IsTemporary: true}
}
func (f refusingResolver) LookupMX(_ context.Context, n string) ([]*net.MX, error) {
	return nil, f.err(n)
}
func (f refusingResolver) LookupIP(_ context.Context, _, n string) ([]net.IP, error) {
	return nil, f.err(n)
}
func (f refusingResolver) LookupTXT(_ context.Context, n string) ([]string, error) {
	return nil, f.err(n)
}
func (f refusingResolver) LookupAddr(_ context.Context, n string) ([]string, error) {
	return nil, f.err(n)
}

func TestDNSBLRefusedRcode(t *testing.T) {
	c := DNSBL(context.Background(), refusingResolver{}, "b.barracudacentral.org", ipGood)
	if c.Result != ResultRefused || c.RCode != "REFUSED" || !strings.Contains(c.Detail, "barracudacentral.org/account/register") {
		t.Fatalf("got %s %s (%s), want refused naming Barracuda's registration", c.Result, c.RCode, c.Detail)
	}
	// The other checks call a refused lookup a temporary error.
	if c := SPF(context.Background(), refusingResolver{}, "pass.test", ipGood, ""); c.Result != ResultTempError || c.RCode != "REFUSED" {
		t.Errorf("SPF with REFUSED = %s %s, want temperror REFUSED", c.Result, c.RCode)
	}
}

func TestDNSBLName(t *testing.T) {
	for _, tt := range []struct{ ip, want string }{
		{"192.0.2.10", "10.2.0.192.bl.test"},
		{"2001:db8::10", "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test"},
	} {
		a, err := parseIP(tt.ip)
		if err != nil {
			t.Fatal(err)
		}
		if got := dnsblName(a, "bl.test"); got != tt.want {
			t.Errorf("dnsblName(%s) = %s, want %s", tt.ip, got, tt.want)
		}
	}
}

func TestSenderDomain(t *testing.T) {
	r := world(t)
	tests := []struct{ domain, want, detailHas string }{
		{"mx.test", ResultPass, "MX mail.good.test"},
		{"aonly.test", ResultPass, "no MX but has the address 192.0.2.50"},
		{"aaaaonly.test", ResultPass, "2001:db8::50"},
		{"nxsender.test", ResultFail, "does not exist (NXDOMAIN)"},
		{"nullmx.test", ResultFail, "null MX"}, // Records: "nullmx.test MX 0 ."
		{"empty.test", ResultFail, "neither MX nor address"},
		{"sfdomain.test", ResultTempError, "SERVFAIL"},
		{"not a domain", ResultFail, "not a domain name"},
		{"localhost", ResultFail, "not fully qualified"},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			c := SenderDomain(testCtx(t), r, tt.domain)
			if c.Name != NameSenderDomain || c.Result != tt.want || !strings.Contains(c.Detail, tt.detailHas) {
				t.Fatalf("SenderDomain(%s) = %s (%s), want %s with %q", tt.domain, c.Result, c.Detail, tt.want, tt.detailHas)
			}
		})
	}
}

func TestRun(t *testing.T) {
	r := world(t)
	in := Input{
		IP:             "203.0.113.77", // behind NAT: the server saw ipGood
		ReportedIP:     ipGood,
		EHLOName:       "mail.good.test",
		MailFromDomain: "bounces.org.test",
		FromDomain:     "pass.test",
		Zones:          []string{"bl.test", "err.test", "sfzone.test"},
	}
	checks := Run(testCtx(t), r, in)
	var got []string
	for _, c := range checks {
		got = append(got, c.Name+" "+c.Subject+" "+c.Result)
		if c.Name != NameHELO && c.Name != NameDMARC && c.Name != NameSenderDomain && c.IP != ipGood {
			t.Errorf("%s used IP %q, want the reported %s", c.Name, c.IP, ipGood)
		}
	}
	want := []string{
		"ptr 192.0.2.10 pass",
		"helo mail.good.test pass",
		"spf bounces.org.test none",
		"dmarc pass.test absent",
		"sender-domain bounces.org.test fail",
		"dnsbl bl.test listed",
		"dnsbl err.test refused",
		"dnsbl sfzone.test temperror",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Run gave\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(checks[1].Detail, "also the PTR name") {
		t.Errorf("helo was not compared with the PTR names: %s", checks[1].Detail)
	}

	// Only some checks; DMARC with alignment.
	in = Input{IP: ipGood, MailFromDomain: "bounce.org.test", FromDomain: "sub.org.test", Checks: []string{NameDMARC, NameSPF}}
	checks = Run(testCtx(t), r, in)
	if len(checks) != 2 || checks[0].Name != NameSPF || checks[1].Name != NameDMARC {
		t.Fatalf("Run with Checks = %v", checks)
	}
	if d := checks[1].DMARC; d == nil || d.SPFAligned == nil || !*d.SPFAligned || !strings.Contains(checks[1].Detail, "aligns with it") {
		t.Errorf("alignment not judged: %+v %s", d, checks[1].Detail)
	}
	in.MailFromDomain = "provider.test"
	checks = Run(testCtx(t), r, in)
	if d := checks[1].DMARC; d == nil || d.SPFAligned == nil || *d.SPFAligned || !strings.Contains(checks[1].Detail, "does not align") {
		t.Errorf("misalignment not judged: %+v %s", d, checks[1].Detail)
	}

	// Nothing to check.
	if checks := Run(testCtx(t), r, Input{}); len(checks) != 0 {
		t.Errorf("Run(empty) = %v", checks)
	}
}

// Run with a context already cancelled returns at once, every check a
// temperror.
func TestRunCancelled(t *testing.T) {
	r := world(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	checks := Run(ctx, r, Input{IP: ipGood, EHLOName: "mail.good.test", MailFromDomain: "pass.test"})
	if time.Since(start) > 2*time.Second {
		t.Fatalf("Run took %v with a cancelled context", time.Since(start))
	}
	if len(checks) == 0 {
		t.Fatal("no checks")
	}
	for _, c := range checks {
		if c.Result != ResultTempError {
			t.Errorf("%s %s = %s (%s), want temperror", c.Name, c.Subject, c.Result, c.Detail)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	b, err := json.Marshal(Check{Name: NamePTR, Subject: "192.0.2.1", Result: ResultNone})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"name", "subject", "result", "detail", "records"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON %s lacks %q", b, k)
		}
	}
	if recs, ok := m["records"].([]any); !ok || len(recs) != 0 {
		t.Errorf("records = %v, want []", m["records"])
	}
	if _, ok := m["ip"]; ok {
		t.Errorf("empty ip written: %s", b)
	}
	// Inside a slice and through a pointer alike.
	b, _ = json.Marshal([]*Check{{Name: NameSPF}})
	if !strings.Contains(string(b), `"records":[]`) {
		t.Errorf("%s", b)
	}
}

// Servers that never answer (dnstest Drop): each check ends with its
// context, as temperror with TIMEOUT, never a hang, a fail or a listing.
func TestDroppedServerBoundedByContext(t *testing.T) {
	r := world(t)
	for name, check := range map[string]func(context.Context) Check{
		"ptr":   func(ctx context.Context) Check { return PTR(ctx, r, ipPTRDrop) },
		"spf":   func(ctx context.Context) Check { return SPF(ctx, r, "dropspf.test", ipGood, "") },
		"dnsbl": func(ctx context.Context) Check { return DNSBL(ctx, r, "dropzone.test", ipGood) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			defer cancel()
			start := time.Now()
			c := check(ctx)
			if took := time.Since(start); took > 3*time.Second {
				t.Fatalf("took %v with a 700ms context", took)
			}
			if c.Result != ResultTempError {
				t.Fatalf("Result = %s (%s), want temperror", c.Result, c.Detail)
			}
			if c.Name == NameDNSBL && c.RCode != "TIMEOUT" {
				t.Errorf("RCode = %q, want TIMEOUT", c.RCode)
			}
		})
	}
}
