package explain

import (
	"strings"
	"testing"
)

func TestStripPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string
		mk   marker
	}{
		{"<-  220 mx ESMTP", "220 mx ESMTP", markRecv},
		{"<~  250 ok", "250 ok", markRecv},
		{"<** 554 5.7.1 no", "554 5.7.1 no", markError},
		{"<~* 535 5.7.8 bad", "535 5.7.8 bad", markError},
		{" -> RCPT TO:<x@y>", "RCPT TO:<x@y>", markSend},
		{" ~> DATA", "DATA", markSend},
		{"=== Trying mx:25...", "Trying mx:25...", markInfo},
		{"[+0.123s] <** 550 5.1.1 x", "550 5.1.1 x", markError},
		{"+1.5s <- 220 x", "220 x", markRecv},
		{"12:00:01.234 <** 421 4.7.0 x", "421 4.7.0 x", markError},
		{"2024-01-15T10:00:00Z 554 x", "554 x", markNone},
		{"2024-01-15 10:00:00 1rP3xY-0001Ab-Cd ** x", "1rP3xY-0001Ab-Cd ** x", markNone},
		{"> > 550 5.1.1 quoted", "550 5.1.1 quoted", markNone},
		{"550 5.1.1 plain", "550 5.1.1 plain", markNone},
		{"5.7.1 enhanced first", "5.7.1 enhanced first", markNone},
		{"0.5s", "0.5s", markNone}, // a token alone is not a prefix
		{"", "", markNone},
	}
	for _, tt := range tests {
		got, mk := stripPrefix(tt.in)
		if got != tt.want || mk != tt.mk {
			t.Errorf("stripPrefix(%q) = %q, %d; want %q, %d", tt.in, got, mk, tt.want, tt.mk)
		}
	}
}

func TestSplitEmbedded(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"554 5.7.1 single", []string{"554 5.7.1 single"}},
		{"550-5.1.1 a 550-5.1.1 b 550 5.1.1 c", []string{"550-5.1.1 a", "550-5.1.1 b", "550 5.1.1 c"}},
		{`550-first\n550-second\n550 last`, []string{"550-first", "550-second", "550 last"}},
		{"550-5.7.1 costs 550 dollars 550 5.7.1 end", []string{"550-5.7.1 costs", "550 dollars 550 5.7.1 end"}},
		{"451-only continuation", []string{"451-only continuation"}},
		{"not a reply 550-x", []string{"not a reply 550-x"}},
	}
	for _, tt := range tests {
		if got := splitEmbedded(tt.in); strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("splitEmbedded(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPhaseFromCommand(t *testing.T) {
	tests := map[string]string{
		"RCPT TO":                               "rcpt",
		"pipelined RCPT TO:<x@y>":               "rcpt",
		"MAIL FROM:<a@b> SIZE=1234":             "mail",
		"end of DATA":                           "end-of-data",
		"end of data":                           "end-of-data",
		"DATA":                                  "data",
		"initial connection":                    "banner",
		"receiving the initial server greeting": "banner",
		"performing the EHLO handshake":         "helo",
		"HELO client":                           "helo",
		"STARTTLS":                              "starttls",
		"AUTH PLAIN":                            "auth",
		"sending message body":                  "end-of-data",
		"QUIT":                                  "quit",
		"XFORWARD":                              "any",
	}
	for in, want := range tests {
		if got := phaseFromCommand(in); got != want {
			t.Errorf("phaseFromCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFindEmbeddedReply(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"SMTP ERROR: RCPT TO command failed: 550 5.1.1 nope", 36},
		{"request took 500 ms for 404 items", -1},
		{"code 550 5.7.1 mismatch is fine", 5},
		{"mixed class 550 4.7.1 is not a reply", -1},
		{"x550 5.1.1 glued", -1},
		{"reply='421 4.7.0 later'", 7},
	}
	for _, tt := range tests {
		if got := findEmbeddedReply(tt.in); got != tt.want {
			t.Errorf("findEmbeddedReply(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestSplitHostIP(t *testing.T) {
	tests := []struct{ in, host, ip string }{
		{"mx.example.com[192.0.2.1]:25", "mx.example.com", "192.0.2.1"},
		{"mx.example.com. [192.0.2.1]", "mx.example.com", "192.0.2.1"},
		{"[198.51.100.66]:51234", "", "198.51.100.66"},
		{"mx6.example[IPv6:2001:db8::1]", "mx6.example", "2001:db8::1"},
		{"mx.example.com", "mx.example.com", ""},
		{"mx.example.com[broken", "mx.example.com", ""},
	}
	for _, tt := range tests {
		h, ip := splitHostIP(tt.in)
		if h != tt.host || ip != tt.ip {
			t.Errorf("splitHostIP(%q) = %q, %q; want %q, %q", tt.in, h, ip, tt.host, tt.ip)
		}
	}
}

func TestNormalizeReason(t *testing.T) {
	tests := map[string]string{
		"550 5.1.1 <bob@example.com>: User unknown":                        "550 5.1.1 <address> User unknown",
		"554 5.7.1 Client host [203.0.113.5] blocked using zen":            "554 5.7.1 Client host <ip> blocked using zen",
		"421 4.7.0 [TSS04] Messages from 203.0.113.5 deferred - 4.16.55.1": "421 4.7.0 [TSS04] Messages from <ip> deferred - <ip>",
		"250 2.0.0 Ok: queued as 4F2A91C0A3B123":                           "250 2.0.0 Ok: queued as <id>",
	}
	for in, want := range tests {
		if got := normalizeReason(in); got != want {
			t.Errorf("normalizeReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCleanText(t *testing.T) {
	tests := map[string]string{
		"plain":                  "plain",
		"nul\x00here":            "nulhere",
		"esc\x1b[31mred":         "esc[31mred",
		"tab\tok":                "tab\tok",
		"bad\xffutf8":            "bad\uFFFDutf8",
		"ünïcödé 550 5.7.1 fine": "ünïcödé 550 5.7.1 fine",
	}
	for in, want := range tests {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
