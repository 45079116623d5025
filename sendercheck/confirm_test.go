package sendercheck

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestConfirm(t *testing.T) {
	r := world(t)
	ctx := testCtx(t)
	listed := DNSBL(ctx, r, "bl.test", ipGood)
	notListed := DNSBL(ctx, r, "bl.test", ipMismatch)
	refused := DNSBL(ctx, r, "zen.spamhaus.org", ipMismatch)
	servfail := DNSBL(ctx, r, "sfzone.test", ipGood)
	ptrPass := PTR(ctx, r, ipGood)
	ptrFail := PTR(ctx, r, ipMismatch)
	ptrNone := PTR(ctx, r, ipNoPTR)
	ptrGeneric := PTR(ctx, r, ipGeneric)
	ptrTemp := PTR(ctx, r, ipPTRSF)
	heloPass := HELO(ctx, r, "mail.good.test", ipGood, ptrPass.Names)
	heloFail := HELO(ctx, r, "nowhere.good.test", ipMismatch, ptrFail.Names)
	spfFail := SPF(ctx, r, "pass.test", ipOther, "")
	spfPass := SPF(ctx, r, "pass.test", ipGood, "")
	spfPerm := SPF(ctx, r, "loop.test", ipGood, "")
	spfTemp := SPF(ctx, r, "sf.test", ipGood, "")
	spfNone := SPF(ctx, r, "nospf.test", ipGood, "")
	dmarcReject := DMARC(ctx, r, "reject.test")
	dmarcNone := DMARC(ctx, r, "none.test")
	dmarcAbsent := DMARC(ctx, r, "absent.test")
	dmarcTemp := DMARC(ctx, r, "sf.test")
	sdFail := SenderDomain(ctx, r, "nullmx.test")
	sdPass := SenderDomain(ctx, r, "mx.test")
	sdTemp := SenderDomain(ctx, r, "sfdomain.test")
	dkimNone := Check{Name: NameDKIMKey, Subject: "s1._domainkey.reject.test", Result: ResultNone, Detail: "no key"}
	dkimPass := Check{Name: NameDKIMKey, Subject: "s1._domainkey.reject.test", Result: ResultPass, Detail: "key ok"}
	dkimTemp := Check{Name: NameDKIMKey, Subject: "s1._domainkey.reject.test", Result: ResultTempError, Detail: "SERVFAIL"}
	aligned := func(c Check, ok bool) Check {
		d := *c.DMARC
		d.SPFAligned = &ok
		c.DMARC = &d
		return c
	}

	tests := []struct {
		name     string
		category string
		checks   []Check
		want     string
		stepHas  string // "" when no step is expected to matter
	}{
		{"listed", "ip-blocklisted", []Check{notListed, listed}, Confirmed, "https://bl.test/lookup?ip=192.0.2.10"},
		{"listed elsewhere, one refused", "ip-blocklisted", []Check{listed, refused}, Confirmed, "own recursive resolver"},
		{"not listed anywhere", "ip-blocklisted", []Check{notListed}, Contradicted, "the listing may have expired, or the receiver uses its own"},
		{"refused only", "ip-blocklisted", []Check{notListed, refused}, Inconclusive, "own recursive resolver"},
		{"temperror only", "ip-blocklisted", []Check{servfail}, Inconclusive, ""},
		{"no dnsbl check", "ip-blocklisted", []Check{ptrFail, spfFail}, NotChecked, ""},
		{"reputation: listed", "ip-reputation", []Check{listed, ptrPass}, Confirmed, "Request removal"},
		{"reputation: no PTR", "ip-reputation", []Check{notListed, ptrNone}, Confirmed, "Ask the owner of 192.0.2.12"},
		{"reputation: generic PTR", "ip-reputation", []Check{notListed, ptrGeneric}, Confirmed, "dynamic or residential"},
		{"reputation: clean", "ip-reputation", []Check{notListed, ptrPass}, Contradicted, "its own data"},
		{"reputation: PTR temperror", "ip-reputation", []Check{notListed, ptrTemp}, Inconclusive, ""},
		{"rdns: PTR mismatch", "rdns-ptr", []Check{ptrFail, heloFail}, Confirmed, "PTR 192.0.2.11 → nowhere.good.test, and publish nowhere.good.test A 192.0.2.11"},
		{"rdns: no PTR, good HELO", "rdns-ptr", []Check{ptrNone, HELO(ctx, r, "mail.good.test", ipNoPTR, nil)}, Confirmed, "PTR 192.0.2.12 → mail.good.test"},
		{"rdns: all good", "rdns-ptr", []Check{ptrPass, heloPass}, Contradicted, "forward-confirmed"},
		{"rdns: HELO bad only", "rdns-ptr", []Check{ptrPass, HELO(ctx, r, "localhost", ipGood, ptrPass.Names)}, Confirmed, "Use the PTR name mail.good.test as the EHLO name"},
		{"rdns: temperror", "rdns-ptr", []Check{ptrTemp}, Inconclusive, ""},
		{"spf: fail", "spf-fail", []Check{spfFail}, Confirmed, "Add ip4:198.51.100.1 to the SPF record of pass.test, which ends in -all"},
		{"spf: permerror", "spf-fail", []Check{spfPerm}, Confirmed, "Fix the SPF record of loop.test: it needs more than 10 DNS lookups"},
		{"spf: none", "spf-fail", []Check{spfNone}, Confirmed, `"v=spf1 ip4:192.0.2.10 -all"`},
		{"spf: pass", "spf-fail", []Check{spfPass}, Contradicted, "SPF passes now"},
		{"spf: temperror", "spf-fail", []Check{spfTemp}, Inconclusive, ""},
		{"dkim: no key", "dkim-fail", []Check{dkimNone, dmarcReject}, Confirmed, "Publish a valid DKIM public key at s1._domainkey.reject.test"},
		{"dkim: key fine", "dkim-fail", []Check{dkimPass}, Contradicted, "the message changed after signing"},
		{"dkim: key temperror", "dkim-fail", []Check{dkimTemp}, Inconclusive, ""},
		{"dkim: DMARC only", "dkim-fail", []Check{dmarcReject}, Inconclusive, "_dmarc.reject.test TXT"},
		{"dmarc: reject and SPF fail", "dmarc-policy", []Check{dmarcReject, spfFail}, Confirmed, `The DMARC record _dmarc.reject.test TXT "v=DMARC1; p=reject; rua=mailto:d@reject.test" asks receivers to reject`},
		{"dmarc: reject, SPF passes unaligned", "dmarc-policy", []Check{aligned(dmarcReject, false), spfPass}, Confirmed, "sign with DKIM as reject.test"},
		{"dmarc: reject, SPF passes aligned", "dmarc-policy", []Check{aligned(dmarcReject, true), spfPass}, Contradicted, "aligns"},
		{"dmarc: reject, nothing else known", "dmarc-policy", []Check{dmarcReject}, Inconclusive, ""},
		{"dmarc: p=none", "dmarc-policy", []Check{dmarcNone, spfFail}, Contradicted, "asks for no rejection"},
		{"dmarc: absent", "dmarc-policy", []Check{dmarcAbsent}, Contradicted, "absent"},
		{"dmarc: temperror", "dmarc-policy", []Check{dmarcTemp, spfFail}, Inconclusive, ""},
		{"dmarc: reject, DKIM key missing", "dmarc-policy", []Check{dmarcReject, dkimNone}, Confirmed, ""},
		{"sender domain: null MX", "sender-domain-invalid", []Check{sdFail}, Confirmed, "null MX"},
		{"sender domain: fine", "sender-domain-invalid", []Check{sdPass}, Contradicted, "exists and receives mail now"},
		{"sender domain: temperror", "sender-domain-invalid", []Check{sdTemp}, Inconclusive, ""},
		{"category no check confirms", "mailbox-full", []Check{listed, ptrFail}, NotChecked, ""},
		{"no checks", "spf-fail", nil, NotChecked, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Confirm(tt.category, tt.checks)
			if got.Status != tt.want {
				t.Fatalf("Confirm(%s) = %s, want %s\nevidence: %q\nsteps: %q", tt.category, got.Status, tt.want, got.Evidence, got.NextSteps)
			}
			if got.Evidence == nil || got.NextSteps == nil {
				t.Fatalf("nil slices: %+v", got)
			}
			if got.Status == NotChecked && len(got.Evidence) != 0 {
				t.Errorf("not-checked with evidence %q", got.Evidence)
			}
			if got.Status != NotChecked {
				relevant := CategoryChecks(tt.category)
				n := 0
				for _, c := range tt.checks {
					if slices.Contains(relevant, c.Name) {
						n++
					}
				}
				if len(got.Evidence) != n {
					t.Errorf("%d evidence lines for %d relevant checks: %q", len(got.Evidence), n, got.Evidence)
				}
				for _, e := range got.Evidence {
					if !slices.ContainsFunc(relevant, func(name string) bool { return strings.HasPrefix(e, name+" ") }) {
						t.Errorf("evidence line does not name its check: %q", e)
					}
				}
			}
			if tt.stepHas != "" && !slices.ContainsFunc(got.NextSteps, func(s string) bool { return strings.Contains(s, tt.stepHas) }) {
				t.Errorf("no next step contains %q: %q", tt.stepHas, got.NextSteps)
			}
		})
	}
}

// The null MX record is quoted with its root.
func TestNullMXRecord(t *testing.T) {
	c := SenderDomain(testCtx(t), world(t), "nullmx.test")
	if !slices.Equal(c.Records, []string{"nullmx.test MX 0 ."}) {
		t.Fatalf("Records = %q", c.Records)
	}
}

func TestReadDNSBLAnswer(t *testing.T) {
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	tests := []struct {
		zone    string
		answers []netip.Addr
		listed  []string
		problem string
	}{
		{"zen.spamhaus.org", addrs("127.0.0.4"), []string{"127.0.0.4: XBL, a compromised or infected host"}, ""},
		{"zen.spamhaus.org", addrs("127.0.0.11"), []string{"127.0.0.11: PBL (Spamhaus), an end-user range that should not send directly to MX servers"}, ""},
		{"zen.spamhaus.org", addrs("127.255.255.252"), nil, "typing error"},
		{"zen.spamhaus.org", addrs("127.255.255.255"), nil, "too often"},
		{"other.example", addrs("127.255.255.253"), nil, "error codes"},
		{"all.spamrats.com", addrs("127.0.0.37"), []string{"127.0.0.37: RATS-NoPtr, an address without reverse DNS"}, ""},
		{"bl.example", addrs("127.0.0.2"), []string{"127.0.0.2"}, ""},
		{"bl.example", addrs("127.0.0.1"), nil, "never a listing"},
		{"bl.example", addrs("10.0.0.1"), nil, "outside 127.0.0.0/8"},
		{"bl.example", addrs("::ffff:127.0.0.2"), []string{"127.0.0.2"}, ""},
		{"bl.example", addrs("::1"), nil, "outside 127.0.0.0/8"},
		{"bl.example", addrs("127.0.0.2", "192.0.2.1"), nil, "outside"},
		{"bl.example", nil, nil, ""},
	}
	for _, tt := range tests {
		listed, problem := ReadDNSBLAnswer(tt.zone, tt.answers)
		if !slices.Equal(listed, tt.listed) || (tt.problem == "") != (problem == "") || !strings.Contains(problem, tt.problem) {
			t.Errorf("ReadDNSBLAnswer(%s, %v) = %q, %q; want %q, %q", tt.zone, tt.answers, listed, problem, tt.listed, tt.problem)
		}
	}
}

func FuzzReadDNSBLAnswer(f *testing.F) {
	f.Add("zen.spamhaus.org", []byte{127, 0, 0, 2, 127, 0, 0, 10})
	f.Add("zen.spamhaus.org", []byte{127, 255, 255, 254})
	f.Add("bl.example", []byte{127, 0, 0, 1})
	f.Add("all.spamrats.com", []byte{127, 0, 0, 36, 198, 51, 100, 1})
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, zone string, raw []byte) {
		var answers []netip.Addr
		for i := 0; i+4 <= len(raw); i += 4 {
			answers = append(answers, netip.AddrFrom4([4]byte(raw[i:i+4])))
		}
		listed, problem := ReadDNSBLAnswer(zone, answers)
		if problem != "" && listed != nil {
			t.Fatalf("both a listing %q and an error %q", listed, problem)
		}
		for _, a := range answers {
			b := a.As4()
			isError := b[0] != 127 || a == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || b[1] == 255 && b[2] == 255
			if isError && problem == "" {
				t.Fatalf("error answer %s read as a listing %q", a, listed)
			}
		}
		if problem == "" && len(listed) != len(answers) {
			t.Fatalf("%d answers, %d listings", len(answers), len(listed))
		}
	})
}
