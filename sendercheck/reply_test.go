package sendercheck

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Replies as servers send them (the diagnose corpus and the seeds quote
// most of them; addresses are documentation ranges where the originals
// were redacted).
var replyCases = []struct {
	name  string
	lines []string
	zones []string
	ip    string
}{
	{"Postfix zen with lookup URL", []string{"554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/192.0.2.1"},
		[]string{"zen.spamhaus.org"}, "192.0.2.1"},
	{"Postfix Barracuda zone", []string{"550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using b.barracudacentral.org"},
		[]string{"b.barracudacentral.org"}, "192.0.2.1"},
	{"Postfix without address", []string{"550 5.7.1 Service unavailable; client blocked using b.barracudacentral.org"},
		[]string{"b.barracudacentral.org"}, ""},
	{"Postfix redacted address", []string{"550 5.7.1 Service unavailable; client [xxx.xxx.xxx.xxx] blocked using zen.spamhaus.org"},
		[]string{"zen.spamhaus.org"}, ""},
	{"Spamhaus open-resolver error names the resolver in its URL", []string{"554 5.7.1 Service unavailable; Client host [104.47.21.166] blocked using sbl.spamhaus.org; Error: open resolver; https://www.spamhaus.org/returnc/pub/172.69.79.93"},
		[]string{"sbl.spamhaus.org"}, "104.47.21.166"},
	{"Spamhaus open-resolver error, client redacted", []string{"554 5.7.1 Service unavailable; Client host [37.x.y.z] blocked using zen.spamhaus.org; Error: open resolver; https://www.spamhaus.org/returnc/pub/44.192.176.0"},
		[]string{"zen.spamhaus.org"}, ""},
	{"Barracuda Reputation, multi-line, host name for client", []string{"554-Service unavailable; Client host [bl11-253-215.dsl.telepac.pt] blocked using", "554-Barracuda Reputation;", "554 http://www.barracudanetworks.com/reputation/?r=1&ip=85.244.10.20"},
		[]string{"b.barracudacentral.org"}, "85.244.10.20"},
	{"Barracuda removal URL", []string{"554 5.7.1 Your access to this mail system has been rejected due to the sending MTA's poor reputation. If you believe that this failure is in error, please contact the intended recipient via alternate means. See https://www.barracudacentral.org/rbl/removal-request/203.0.113.5"},
		[]string{"b.barracudacentral.org"}, "203.0.113.5"},
	{"SpamCop zone and URL", []string{"554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using bl.spamcop.net; Blocked - see https://www.spamcop.net/bl.shtml?203.0.113.5"},
		[]string{"bl.spamcop.net"}, "203.0.113.5"},
	{"SpamCop URL only", []string{"554 5.7.1 Rejected - your IP address was found in a blacklist for sending spam. Please visit: http://spamcop.net/bl.shtml?69.89.25.95"},
		[]string{"bl.spamcop.net"}, "69.89.25.95"},
	{"Exim black list", []string{"550 Rejected because 203.0.113.5 is in a black list at psbl.surriel.com"},
		[]string{"psbl.surriel.com"}, "203.0.113.5"},
	{"Sendmail listed at, unknown list", []string{"550 5.7.1 Mail from 203.0.113.5 refused - listed at dnsbl.example-rbl.net"},
		[]string{"dnsbl.example-rbl.net"}, "203.0.113.5"},
	{"URL of a lookup page", []string{"553 http://www.spamhaus.org/query/bl?ip=192.0.2.222"},
		[]string{"zen.spamhaus.org"}, "192.0.2.222"},
	{"Yahoo naming Spamhaus", []string{"553 5.7.1 [BL21] Connections will not be accepted from 198.51.100.9, because the ip is in Spamhaus's list; see http://postmaster.yahoo.com/550-bl23.html"},
		[]string{"zen.spamhaus.org"}, "198.51.100.9"},
	{"Yahoo naming Spamhaus XBL", []string{"553 Mail from 198.51.100.9 not allowed - 5.7.1 [BL23] Connections not accepted from IP addresses on Spamhaus XBL; see http://postmaster.yahoo.com/errors/550-bl23.html [550]"},
		[]string{"xbl.spamhaus.org"}, "198.51.100.9"},
	{"Yahoo deferral, version number after", []string{"421 4.7.0 [TSS04] Messages from 192.0.2.192 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
		nil, "192.0.2.192"},
	{"Yahoo deferral redacted to 0.0.0.0", []string{"421 4.7.0 [TSS04] Messages from 0.0.0.0 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes"},
		nil, ""},
	{"Microsoft banned sending IP", []string{"550 5.7.606 Access denied, banned sending IP [198.51.100.222]. To request removal from this list please visit https://sender.office.com/ and follow the directions. For more information please go to http://go.microsoft.com/fwlink/?LinkID=526655 (AS16012609)"},
		nil, "198.51.100.222"},
	{"Microsoft HELO domain on Spamhaus", []string{"550 5.7.1 Service unavailable, Helo domain is listed in Spamhaus. To request removal from this list see https://www.spamhaus.org/query/lookup/ (S8001) [#.eop-nam02.prod.protection.outlook.com]"},
		nil, ""},
	{"MailFrom domain on Spamhaus, URL broken across lines", []string{"550-5.1.0 MXIN506 MailFrom domain is listed in Spamhaus. To request removal from this list see https:", "550 5.1.0 //www.spamhaus.org/query/lookup/ ;id=DLOkvMxsVeZooDLOkv7hl0;sid=DLOkvMxsVeZoo;mta=mx12-prd-nl1-vmo;d=20251027;t=122826[CET];ipsrc=#.#.#.#;"},
		nil, ""},
	{"Spamhaus DBL", []string{"554 5.7.1 <x@bad.example>: Sender address rejected: domain listed at dbl.spamhaus.org"},
		nil, ""},
	{"Postfix HELO on DBL", []string{"554 5.7.1 Service unavailable; Helo command [bad.example] blocked using dbl.spamhaus.org"},
		nil, ""},
	{"Gmail not authorized", []string{"550-5.7.1 [37.117.183.184] The IP you're using to send mail is not authorized to", "550-5.7.1 send email directly to our servers. Please use the SMTP relay at your", "550-5.7.1 service provider instead. For more information, go to", "550 5.7.1  https://support.google.com/mail/?p=NotAuthorizedError d2si123.45 - gsmtp"},
		nil, "37.117.183.184"},
	{"Gmail pasted as one line", []string{"550-5.7.1 [37.117.183.184] The IP you're using to send mail is not authorized to 550-5.7.1 send email directly to our servers."},
		nil, "37.117.183.184"},
	{"Gmail rate with IPv6 and count", []string{"421-4.7.28 [2001:db8::25      15] Our system has detected an unusual rate of", "421-4.7.28 unsolicited mail originating from your IP address. To protect our", "421 4.7.28 users from spam, mail sent from your IP address has been temporarily rate limited. - gsmtp"},
		nil, "2001:db8::25"},
	{"Orange via Cloudmark", []string{"550 mwinf5c04 ME Adresse IP source bloquee pour incident de spam. Client host blocked for spamming issues. OFR006_102 Ref http://csi.cloudmark.com/reset-request/?ip=203.0.113.44 [102]"},
		nil, "203.0.113.44"},
	{"Orange without address", []string{"421 4.2.0 Service refuse. Veuillez essayer plus tard. Service refused, please try later. OFR005_505 [505]"},
		nil, ""},
	{"GMX block list", []string{"554-gmx.net (mxgmx104) Nemesis ESMTP Service not available", "554-No SMTP service", "554-IP address is block listed.", "554 For explanation visit https://postmaster.gmx.net/en/case?c=r0201&i=ip&v=198.51.100.42&r=1MNcgj-1ue23t3pyV-00S2YR"},
		nil, "198.51.100.42"},
	{"GMX bad PTR", []string{"554-mail.com (mxgmxus002) Nemesis ESMTP Service not available\n554-No SMTP service\n554-Bad DNS PTR resource record.\n554 For explanation visit http://postmaster.gmx.com/en/error-messages?ip=192.0.2.22&c=rdns"},
		nil, "192.0.2.22"},
	{"IPv6 client in brackets", []string{"554 5.7.1 Service unavailable; Client host [2001:db8:1::5] blocked using zen.spamhaus.org"},
		[]string{"zen.spamhaus.org"}, "2001:db8:1::5"},
	{"IPv6 address literal tag", []string{"550 5.7.1 Client host [IPv6:2001:db8::7] rejected: no PTR"},
		nil, "2001:db8::7"},
	{"answer code is not the client", []string{"550 5.7.1 Rejected: 203.0.113.5 listed at zen.spamhaus.org (127.0.0.4)"},
		[]string{"zen.spamhaus.org"}, "203.0.113.5"},
	{"server's own address after its name", []string{"554 mx.example.org [198.51.100.1] ESMTP not accepting messages"},
		nil, ""},
	{"server's own address in parentheses", []string{"421 mx.example.org (198.51.100.1) Service not available, closing transmission channel"},
		nil, ""},
	{"bounce names the remote server", []string{"host mx.example.org[198.51.100.1] said: 550 5.1.1 <u@example.org>: Recipient address rejected: User unknown"},
		nil, ""},
	{"bounce with the server and the client", []string{"host mx.example.org[198.51.100.1] said: 554 5.7.1 Service unavailable; Client host [203.0.113.9] blocked using bl.spamcop.net"},
		[]string{"bl.spamcop.net"}, "203.0.113.9"},
	{"retired list still named", []string{"554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using dnsbl.sorbs.net"},
		[]string{"dnsbl.sorbs.net"}, "203.0.113.5"},
	{"two lists", []string{"550 5.7.1 Client host [203.0.113.5] blocked using bl.spamcop.net, listed in psbl.surriel.com"},
		[]string{"bl.spamcop.net", "psbl.surriel.com"}, "203.0.113.5"},
	{"address in parentheses after connecting", []string{"554 5.7.1 Rejected: connecting host (203.0.113.8) has a poor reputation"},
		nil, "203.0.113.8"},
	{"your IP", []string{"550 5.7.1 Sorry, your IP 203.0.113.9 is on our local block list"},
		nil, "203.0.113.9"},
	{"rejected by a host is no list", []string{"550 5.7.1 Message rejected by mx2.mail.example.org: spam score too high"},
		nil, ""},
	{"user unknown", []string{"550 5.1.1 <user@example.com>: Recipient address rejected: User unknown in virtual mailbox table"},
		nil, ""},
	{"version numbers only", []string{"220 mx.example.org ESMTP Exim 4.96.2 ready, running 1.2.3.4 build"},
		nil, ""},
	{"queued", []string{"250 2.0.0 Ok: queued as 4XyZ1m2N3pQ"},
		nil, ""},
	{"Barracuda content refusal is no IP listing", []string{"554 5.7.1 Barracuda refused the message: content scored as spam"},
		nil, ""},
	{"empty", nil, nil, ""},
}

func TestZonesInReply(t *testing.T) {
	for _, tt := range replyCases {
		t.Run(tt.name, func(t *testing.T) {
			got := ZonesInReply(tt.lines)
			if !slices.Equal(got, tt.zones) {
				t.Errorf("ZonesInReply = %q, want %q", got, tt.zones)
			}
		})
	}
}

func TestReportedIP(t *testing.T) {
	for _, tt := range replyCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := ReportedIP(tt.lines); got != tt.ip {
				t.Errorf("ReportedIP = %q, want %q", got, tt.ip)
			}
		})
	}
}

func FuzzZonesInReply(f *testing.F) {
	for _, tt := range replyCases {
		f.Add(strings.Join(tt.lines, "\n"))
	}
	f.Add("blocked using " + strings.Repeat("a.", 200) + "org")
	f.Add("listed in ..org https:// //")
	f.Fuzz(func(t *testing.T, s string) {
		zones := ZonesInReply(strings.Split(s, "\n"))
		seen := map[string]bool{}
		for _, z := range zones {
			if seen[z] {
				t.Fatalf("duplicate zone %q in %q", z, zones)
			}
			seen[z] = true
			if _, err := normDomain(z); err != nil || !strings.Contains(z, ".") || z != strings.ToLower(z) {
				t.Fatalf("zone %q is not a lower-case domain name: %v", z, err)
			}
			if isDomainList(z) {
				t.Fatalf("domain list %q returned", z)
			}
		}
	})
}

func FuzzReportedIP(f *testing.F) {
	for _, tt := range replyCases {
		f.Add(strings.Join(tt.lines, "\n"))
	}
	f.Add("Client host [::ffff:192.0.2.1] [fe80::1%eth0] 127.0.0.2 ::")
	f.Fuzz(func(t *testing.T, s string) {
		got := ReportedIP(strings.Split(s, "\n"))
		if got == "" {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.Zone() != "" || a.IsUnspecified() || a.Is4In6() {
			t.Fatalf("ReportedIP = %q, not a plain address (%v)", got, err)
		}
		if a.Is4() && a.As4()[0] == 127 && a.As4() != [4]byte{127, 0, 0, 1} {
			t.Fatalf("a DNSBL answer code %s taken for the client", got)
		}
	})
}

// A long reply full of addresses and host names is read in linear time.
func TestReplyParsersLongInput(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 64<<10; i++ {
		b.WriteString("Client host [203.0.113.5] blocked using zen.spamhaus.org, listed on Spamhaus 127.0.0.2 ")
	}
	lines := []string{"554 " + b.String()}
	start := time.Now()
	zones := ZonesInReply(lines)
	ip := ReportedIP(lines)
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("64 KiB reply took %v", took)
	}
	if !slices.Equal(zones, []string{"zen.spamhaus.org"}) || ip != "203.0.113.5" {
		t.Fatalf("got %q, %q", zones, ip)
	}
}
