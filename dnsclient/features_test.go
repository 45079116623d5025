package dnsclient

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// Every outcome is named in the query log and by RCode, never "no record"
// for a failure.
func TestQueryLogNamesEveryOutcome(t *testing.T) {
	big := strings.Repeat("v=spf1 include:x.example ", 2400) // ~60 KiB: only TCP carries it
	addr := dnstest.Start(t, dnstest.Zone{
		"spf.test.":               {TXT: []string{"v=spf1 ip4:192.0.2.1 -all", "other"}},
		"big.test.":               {TXT: []string{big}},
		"nodata.test.":            {A: []string{"192.0.2.1"}},
		"broken.test.":            {ServFail: true},
		"silent.test.":            {Drop: true},
		"1.2.0.192.in-addr.arpa.": {PTR: []string{"mail.example.test."}},
	})
	c, err := New(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	txt, err := c.LookupTXT(ctx, "spf.test")
	if err != nil || !slices.Equal(txt, []string{"v=spf1 ip4:192.0.2.1 -all", "other"}) {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
	if txt, err := c.LookupTXT(ctx, "big.test"); err != nil || len(txt) != 1 || txt[0] != big {
		t.Fatalf("big TXT: %d records, %v", len(txt), err)
	}
	if names, err := c.LookupAddr(ctx, "192.0.2.1"); err != nil || !slices.Equal(names, []string{"mail.example.test."}) {
		t.Fatalf("PTR = %q, %v", names, err)
	}
	if _, err := c.LookupAddr(ctx, "not-an-ip"); err == nil {
		t.Error("PTR of a non-address succeeded")
	}
	if txt, err := c.LookupTXT(ctx, "nodata.test"); err != nil || len(txt) != 0 {
		t.Errorf("NODATA: %q, %v", txt, err)
	}
	_, err = c.LookupTXT(ctx, "missing.test")
	if RCode(err) != RCodeNXDomain {
		t.Errorf("missing: RCode %q (%v)", RCode(err), err)
	}
	_, err = c.LookupTXT(ctx, "broken.test")
	if RCode(err) != RCodeServFail || !IsTemporary(err) {
		t.Errorf("SERVFAIL: RCode %q temporary %v (%v)", RCode(err), IsTemporary(err), err)
	}
	tctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.LookupTXT(tctx, "silent.test")
	if RCode(err) != RCodeTimeout || time.Since(start) > 2*time.Second {
		t.Errorf("silent: RCode %q after %s (%v)", RCode(err), time.Since(start), err)
	}

	want := map[string]string{
		"spf.test/TXT": RCodeNoError, "big.test/TXT": RCodeNoError,
		"nodata.test/TXT": RCodeNoData, "missing.test/TXT": RCodeNXDomain, "broken.test/TXT": RCodeServFail, "silent.test/TXT": RCodeTimeout,
	}
	got := map[string]string{}
	for _, q := range c.Queries() {
		got[q.Name+"/"+q.Type] = q.RCode
		if q.Server != addr || q.MS < 0 {
			t.Errorf("query %+v: server or time wrong", q)
		}
		if q.Name == "spf.test" && (len(q.Answers) != 2 || q.TTL == nil || *q.TTL != dnstest.DefaultTTL) {
			t.Errorf("spf.test logged as %+v", q)
		}
		for _, a := range q.Answers {
			if len(a) > maxLogAnswerLen+40 {
				t.Errorf("a logged answer of %d bytes: the log must summarise", len(a))
			}
		}
	}
	for k, v := range want {
		if v != "" && got[k] != v {
			t.Errorf("log %s: %q, want %q (log %v)", k, got[k], v, got)
		}
	}
	if got["1.2.0.192.in-addr.arpa/PTR"] != RCodeNoError {
		t.Errorf("PTR not logged: %v", got)
	}
}

// The default client reads resolv.conf and answers /etc/hosts names from
// the file, as the system resolver does; localhost is loopback whatever
// the server says.
func TestSystemFilesAndLocalhost(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "resolv.conf")
	hosts := filepath.Join(dir, "hosts")
	os.WriteFile(conf, []byte("# test\nnameserver 127.0.0.53\nnameserver ::1\noptions edns0\n"), 0o644)
	os.WriteFile(hosts, []byte("127.0.0.1 localhost\n192.0.2.7 pinned.example pinned # comment\n2001:db8::7 pinned.example\nbogus line\n"), 0o644)
	c := fromSystemFiles(conf, hosts)
	if !slices.Equal(c.Servers(), []string{"127.0.0.53:53", "[::1]:53"}) {
		t.Errorf("servers %v", c.Servers())
	}
	ips, err := c.LookupIP(context.Background(), "ip4", "PINNED.example.")
	if err != nil || len(ips) != 1 || ips[0].String() != "192.0.2.7" {
		t.Errorf("hosts file: %v %v", ips, err)
	}
	if len(c.Queries()) != 0 {
		t.Errorf("a hosts-file name went to DNS: %v", c.Queries())
	}
	if none := fromSystemFiles(filepath.Join(dir, "absent"), filepath.Join(dir, "absent")); !slices.Equal(none.Servers(), []string{"127.0.0.1:53"}) {
		t.Errorf("no resolv.conf: servers %v, want the C library's 127.0.0.1", none.Servers())
	}
	// An explicit server still answers localhost itself (RFC 6761).
	addr := dnstest.Start(t, dnstest.Zone{})
	ex, _ := New(addr)
	ips, err = ex.LookupIP(context.Background(), "ip", "localhost")
	if err != nil || len(ips) != 2 || len(ex.Queries()) != 0 {
		t.Errorf("localhost: %v %v, queries %v", ips, err, ex.Queries())
	}
}

func TestRCode(t *testing.T) {
	if RCode(nil) != "" || RCode(os.ErrNotExist) != "" {
		t.Error("RCode of a non-DNS error")
	}
}

// TXT records come back as the bytes on the wire, not in zone-file form:
// a tab, a quote, a backslash and UTF-8 inside a record are themselves.
func TestTXTBytesAreUnescaped(t *testing.T) {
	want := "v=DKIM1; p=AB\tCD \"q\" back\\slash caf\u00e9"
	addr := dnstest.Start(t, dnstest.Zone{"odd.test.": {TXT: []string{want}}})
	c, _ := New(addr)
	got, err := c.LookupTXT(context.Background(), "odd.test")
	if err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("TXT = %q, %v; want %q", got, err, want)
	}
	for in, out := range map[string]string{`a\\b`: `a\b`, `\"x\"`: `"x"`, `\009`: "\t", `\195\169`: "\u00e9", `\999`: "999", `end\`: `end\`} {
		if got := unescapeTXT(in); got != out {
			t.Errorf("unescapeTXT(%q) = %q, want %q", in, got, out)
		}
	}
}

func FuzzUnescapeTXT(f *testing.F) {
	for _, s := range []string{`a\\b`, `\"`, `\009`, `\`, `\1`, `\12`, `\256`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if out := unescapeTXT(s); len(out) > len(s) {
			t.Fatalf("unescapeTXT(%q) grew to %q", s, out)
		}
	})
}
