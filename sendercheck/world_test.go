package sendercheck

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// Addresses of the test world (RFC 5737 and RFC 3849 documentation ranges).
const (
	ipGood     = "192.0.2.10"   // PTR mail.good.test, which resolves back: forward-confirmed
	ipMismatch = "192.0.2.11"   // PTR other.good.test, which resolves elsewhere
	ipNoPTR    = "192.0.2.12"   // no reverse name at all (NXDOMAIN)
	ipPTRNoRec = "192.0.2.13"   // reverse name exists without a PTR record (NODATA)
	ipPTRNX    = "192.0.2.14"   // PTR to a name that does not exist
	ipPTRSF    = "192.0.2.15"   // reverse lookup answers SERVFAIL
	ipGeneric  = "192.0.2.16"   // forward-confirmed, but an ISP's generic name
	ipPTRDrop  = "192.0.2.17"   // PTR to a name whose server never answers
	ipHugeTXT  = "192.0.2.18"   // listed in bl.test with a 60 KB TXT reason
	ipOther    = "198.51.100.1" // authorized by no SPF record of the world
	ip6Good    = "2001:db8::10" // PTR mail6.good.test, forward-confirmed
)

// hugeTXT is a TXT record as large as a DNS message allows (the message
// limit is 64 KiB; a record of 60 000 octets plus its length octets fits).
var hugeTXT = strings.Repeat("x", 60000)

// world starts the in-process DNS server with every case the checks meet
// and returns a resolver asking it.
func world(t testing.TB) dnsclient.Resolver {
	t.Helper()
	rev := func(ip string) string { return dnstest.ReverseName(t, ip) }
	spfMany := "v=spf1"
	zone := dnstest.Zone{
		// Reverse DNS.
		rev(ipGood):               {PTR: []string{"mail.good.test"}},
		"mail.good.test":          {A: []string{ipGood}, TXT: []string{"v=spf1 a -all"}},
		rev(ipMismatch):           {PTR: []string{"other.good.test"}},
		"other.good.test":         {A: []string{"192.0.2.99"}},
		rev(ipPTRNoRec):           {TXT: []string{"not a PTR"}},
		rev(ipPTRNX):              {PTR: []string{"gone.good.test"}},
		rev(ipPTRSF):              {ServFail: true},
		rev(ipGeneric):            {PTR: []string{"192-0-2-16.dyn.isp.test"}},
		"192-0-2-16.dyn.isp.test": {A: []string{ipGeneric}},
		rev(ipPTRDrop):            {PTR: []string{"slow.good.test"}},
		"slow.good.test":          {Drop: true},
		rev(ip6Good):              {PTR: []string{"mail6.good.test"}},
		"mail6.good.test":         {AAAA: []string{ip6Good}},
		"helo-sf.good.test":       {ServFail: true},
		"noaddr.good.test":        {TXT: []string{"no address here"}},

		// SPF.
		"pass.test":          {TXT: []string{"google-site-verification=abc", "v=spf1 ip4:192.0.2.0/28 -all"}},
		"softfail.test":      {TXT: []string{"v=spf1 ip4:192.0.2.10 ~all"}},
		"neutral.test":       {TXT: []string{"v=spf1 ?all"}},
		"noall.test":         {TXT: []string{"v=spf1 ip4:192.0.2.10"}},
		"nospf.test":         {TXT: []string{"some-verification=xyz"}},
		"loop.test":          {TXT: []string{"v=spf1 include:loop2.test -all"}},
		"loop2.test":         {TXT: []string{"v=spf1 include:loop.test -all"}},
		"many.test":          {},
		"inc.test":           {TXT: []string{"v=spf1 include:_spf.provider.test -all"}},
		"_spf.provider.test": {TXT: []string{"v=spf1 ip4:192.0.2.10 ip6:2001:db8::/64 -all"}},
		"redir.test":         {TXT: []string{"v=spf1 redirect=pass.test"}},
		"sf.test":            {ServFail: true},
		"tinc.test":          {TXT: []string{"v=spf1 include:sf.test -all"}},
		"badterm.test":       {TXT: []string{"v=spf1 ip4:192.0.2.10 frobnicate -all"}},
		"twospf.test":        {TXT: []string{"v=spf1 -all", "v=spf1 +all"}},
		"huge.test":          {TXT: []string{"v=spf1 " + strings.Repeat("ip4:10.0.0.1 ", 4600) + "-all"}},
		"dropspf.test":       {Drop: true},

		// DMARC.
		"_dmarc.reject.test":    {TXT: []string{"v=DMARC1; p=reject; rua=mailto:d@reject.test"}},
		"_dmarc.quar.test":      {TXT: []string{"v=DMARC1; p=quarantine; pct=50; adkim=s"}},
		"_dmarc.none.test":      {TXT: []string{"v=DMARC1; p=none"}},
		"absent.test":           {A: []string{"192.0.2.40"}},
		"_dmarc.other.test":     {TXT: []string{"unrelated text"}},
		"_dmarc.garbage.test":   {TXT: []string{"v=DMARC1; p=rejekt; ===;;\x01\xff"}},
		"_dmarc.nosemi.test":    {TXT: []string{"v=DMARC1 p=reject"}},
		"_dmarc.twodmarc.test":  {TXT: []string{"v=DMARC1; p=reject", "v=DMARC1; p=none"}},
		"_dmarc.org.test":       {TXT: []string{"v=DMARC1; p=reject; sp=quarantine"}},
		"_dmarc.orgp.test":      {TXT: []string{"v=DMARC1; p=reject"}},
		"_dmarc.sf.test":        {ServFail: true},
		"_dmarc.hugedmarc.test": {TXT: []string{"v=DMARC1; p=reject; x=" + hugeTXT[:50000]}},

		// DNSBL zones: bl.test lists ipGood and ipHugeTXT; err.test answers
		// Spamhaus's "public resolver" code; everything.test lists even
		// 127.0.0.1; hijack.test answers a public address; uri.test
		// answers 127.0.0.1; sfzone.test fails; dropzone.test never answers.
		"10.2.0.192.bl.test": {A: []string{"127.0.0.2"}, TXT: []string{"Listed for spam; see https://bl.test/lookup?ip=192.0.2.10."}},
		"18.2.0.192.bl.test": {A: []string{"127.0.0.3"}, TXT: []string{hugeTXT}},
		"0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.bl.test": {A: []string{"127.0.0.2"}},
		"10.2.0.192.zen.spamhaus.org": {A: []string{"127.0.0.2", "127.0.0.10"}},
		"11.2.0.192.zen.spamhaus.org": {A: []string{"127.255.255.254"}},
		"10.2.0.192.err.test":         {A: []string{"127.255.255.254"}},
		"10.2.0.192.everything.test":  {A: []string{"127.0.0.2"}},
		"1.0.0.127.everything.test":   {A: []string{"127.0.0.2"}},
		"10.2.0.192.hijack.test":      {A: []string{"198.51.100.200"}},
		"10.2.0.192.uri.test":         {A: []string{"127.0.0.1"}},
		"10.2.0.192.mixed.test":       {A: []string{"127.0.0.2", "127.255.255.255"}},
		"10.2.0.192.nodata.test":      {TXT: []string{"odd"}},
		"10.2.0.192.sfzone.test":      {ServFail: true},
		"10.2.0.192.dropzone.test":    {Drop: true},

		// Sender domains.
		"mx.test":       {MX: []dnstest.MX{{Preference: 10, Host: "mail.good.test"}}},
		"nullmx.test":   {MX: dnstest.NullMX()},
		"aonly.test":    {A: []string{"192.0.2.50"}},
		"aaaaonly.test": {AAAA: []string{"2001:db8::50"}},
		"empty.test":    {TXT: []string{"v=spf1 -all"}},
		"sfdomain.test": {ServFail: true},
	}
	// many.test includes eleven records: one DNS lookup too many.
	for i := 1; i <= 11; i++ {
		name := "i" + strconv.Itoa(i) + ".many.test"
		spfMany += " include:" + name
		zone[name] = dnstest.Records{TXT: []string{"v=spf1 ip4:10.0.0." + strconv.Itoa(i) + " -all"}}
	}
	zone["many.test"] = dnstest.Records{TXT: []string{spfMany + " -all"}}

	addr := dnstest.Start(t, zone)
	r, err := dnsclient.NewResolver(addr)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// testCtx bounds every test's DNS work: nothing in the world may hang.
func testCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}
