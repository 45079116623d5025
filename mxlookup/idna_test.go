package mxlookup

import (
	"strings"
	"testing"
)

func TestToASCII(t *testing.T) {
	long63 := strings.Repeat("a", 63)
	// 4 labels of 63 plus 3 dots = 255 octets; trim to exactly 253.
	name253 := long63 + "." + long63 + "." + long63 + "." + strings.Repeat("b", 61)
	tests := []struct {
		in      string
		want    string
		wantErr string // substring of the error; "" means success
	}{
		{in: "example.test", want: "example.test"},
		{in: "Example.TEST.", want: "example.test"},
		{in: "bücher.example", want: "xn--bcher-kva.example"},
		{in: "BÜCHER.example.", want: "xn--bcher-kva.example"},
		{in: "xn--bcher-kva.example", want: "xn--bcher-kva.example"},
		{in: "例え.テスト", want: "xn--r8jz45g.xn--zckzah"},
		{in: "例え。テスト。", want: "xn--r8jz45g.xn--zckzah"}, // ideographic full stops, trailing one is the root
		{in: "ß.de", want: "xn--zca.de"},                // non-transitional (UTS #46 2015+)
		{in: "münchen.de", want: "xn--mnchen-3ya.de"},
		{in: name253, want: name253},
		{in: long63 + ".test", want: long63 + ".test"},
		{in: "", wantErr: "empty"},
		{in: ".", wantErr: "root"},
		{in: "a..b", wantErr: "empty label"},
		{in: "example.test..", wantErr: "empty label"},
		{in: ".example.test", wantErr: "empty label"},
		{in: "example.test\r\nMAIL FROM:<x>", wantErr: "control character"},
		{in: "exam\x00ple.test", wantErr: "control character"},
		{in: "exam\x7fple.test", wantErr: "control character"},
		{in: "exam\u0085ple.test", wantErr: "control character"},
		{in: "exa mple.test", wantErr: "space"},
		{in: "\xff\xfe.test", wantErr: "UTF-8"},
		{in: "a_b.test", wantErr: "disallowed"},
		{in: "-leading.test", wantErr: "invalid label"},
		{in: "xn--zz.test", wantErr: "invalid label"},
		{in: "a\u200db.test", wantErr: "invalid label"}, // ZWJ outside a joining context
		{in: long63 + "a.test", wantErr: "64 octets"},
		{in: name253 + "b", wantErr: "254 octets"},
		{in: strings.Repeat("ü", 60) + ".test", wantErr: "limit is 63"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ToASCII(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ToASCII(%q) = %q, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ToASCII(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func FuzzToASCII(f *testing.F) {
	for _, s := range []string{
		"example.test", "bücher.example.", "例え。テスト。", "a..b", "xn--zz.test",
		"exa\r\nmple", "ß.de", "\u200d", strings.Repeat("a.", 130), "192.0.2.1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := ToASCII(in)
		if err != nil {
			if out != "" {
				t.Fatalf("ToASCII(%q) returned %q with error %v", in, out, err)
			}
			return
		}
		if out == "" || len(out) > maxNameOctets || strings.HasSuffix(out, ".") {
			t.Fatalf("ToASCII(%q) = %q: empty, too long or with a trailing dot", in, out)
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			if c >= 0x80 || c <= ' ' || c == 0x7f || (c >= 'A' && c <= 'Z') {
				t.Fatalf("ToASCII(%q) = %q: octet %#x is not lower-case printable ASCII", in, out, c)
			}
		}
		for label := range strings.SplitSeq(out, ".") {
			if label == "" || len(label) > maxLabelOctets {
				t.Fatalf("ToASCII(%q) = %q: bad label %q", in, out, label)
			}
		}
		again, err := ToASCII(out)
		if err != nil || again != out {
			t.Fatalf("ToASCII not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}
