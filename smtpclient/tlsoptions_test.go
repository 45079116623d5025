package smtpclient

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseTLSProtocol(t *testing.T) {
	v10, v11, v12, v13 := uint16(tls.VersionTLS10), uint16(tls.VersionTLS11), uint16(tls.VersionTLS12), uint16(tls.VersionTLS13)
	tests := []struct {
		spec    string
		allowed []uint16
		notes   int
		err     string
	}{
		{"tlsv1_2", []uint16{v12}, 0, ""},
		{"TLSv1_3", []uint16{v13}, 0, ""},
		{"tlsv1_3, tlsv1_2", []uint16{v12, v13}, 0, ""},
		{"tlsv1,tlsv1_1", []uint16{v10, v11}, 0, ""},
		{"tlsv1.2", []uint16{v12}, 0, ""},
		{"no_tlsv1,no_tlsv1_1", []uint16{v12, v13}, 0, ""},
		{"no_sslv2,no_sslv3", []uint16{v10, v11, v12, v13}, 0, ""},
		{"no_tlsv1_2", []uint16{v10, v11, v13}, 0, ""},
		{"sslv3,tlsv1_2", []uint16{v12}, 1, ""},
		{"tlsv1_2,", []uint16{v12}, 0, ""},
		{"", nil, 0, `--tls-protocol "": no protocol given`},
		{" , ", nil, 0, "no protocol given"},
		{"tlsv1_4", nil, 0, `--tls-protocol "tlsv1_4": unknown protocol "tlsv1_4"`},
		{"tlsv1_2,no_tlsv1", nil, 0, "cannot mix X and no_X forms"},
		{"sslv2,sslv3", nil, 0, "allows no TLS version Go implements"},
		{"no_tlsv1,no_tlsv1_1,no_tlsv1_2,no_tlsv1_3", nil, 0, "excludes every TLS version"},
		{"no_", nil, 0, "unknown protocol"},
	}
	for _, tc := range tests {
		got, err := ParseTLSProtocol(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if !slices.Equal(got.Allowed, tc.allowed) || len(got.Notes) != tc.notes {
			t.Errorf("%q: allowed %v notes %v, want %v and %d notes", tc.spec, got.Allowed, got.Notes, tc.allowed, tc.notes)
		}
	}
	cfg := &tls.Config{}
	v, _ := ParseTLSProtocol("tlsv1,tlsv1_2")
	v.apply(cfg)
	if cfg.MinVersion != v10 || cfg.MaxVersion != v12 || v.Allows(v11) || !v.Allows(v12) || v.String() != "TLS 1.0, TLS 1.2" {
		t.Errorf("apply: %x-%x, allows 1.1 %v, %q", cfg.MinVersion, cfg.MaxVersion, v.Allows(v11), v)
	}
	if !(TLSVersions{}).Allows(v11) {
		t.Error("no restriction must allow every version")
	}
}

func TestParseTLSCipher(t *testing.T) {
	names := func(ids ...uint16) []string {
		var out []string
		for _, id := range ids {
			out = append(out, tls.CipherSuiteName(id))
		}
		return out
	}
	tests := []struct {
		spec  string
		want  []string // exact suites, in order; nil: only check no error
		has   []string
		hasNo []string
		notes int
		err   string
	}{
		{spec: "ECDHE-RSA-AES128-GCM-SHA256", want: names(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)},
		{spec: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", want: names(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)},
		{spec: "ecdhe-rsa-aes128-gcm-sha256:ECDHE-ECDSA-AES256-GCM-SHA384", want: names(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384)},
		{spec: "ECDHE+AESGCM", want: names(tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384)},
		{spec: "HIGH:!aNULL:!MD5", has: names(tls.TLS_RSA_WITH_AES_128_CBC_SHA), hasNo: names(tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_RC4_128_SHA)},
		{spec: "ALL:!RSA", hasNo: names(tls.TLS_RSA_WITH_AES_128_GCM_SHA256), has: names(tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)},
		{spec: "!RSA:ALL", hasNo: names(tls.TLS_RSA_WITH_AES_128_GCM_SHA256)},
		{spec: "-RSA:ALL", has: names(tls.TLS_RSA_WITH_AES_128_GCM_SHA256)},
		{spec: "3DES:+RSA", want: names(tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA)},
		{spec: "RSA+3DES:ECDHE+3DES:+RSA", want: names(tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA)},
		{spec: "AES128-SHA:AES256-SHA256-NOPE", err: `unknown cipher or keyword "AES256-SHA256-NOPE"`},
		{spec: "DEFAULT", has: names(tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256), hasNo: names(tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256)},
		{spec: "AES128-SHA @STRENGTH AES256-SHA", want: names(tls.TLS_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_256_CBC_SHA)},
		{spec: "AES128-SHA:AES256-SHA:@STRENGTH", want: names(tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA)},
		{spec: "HIGH:@SECLEVEL=2", notes: 1},
		{spec: "DHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384", want: names(tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384), notes: 1},
		{spec: "DHE-RSA-AES256-GCM-SHA384", err: "selects no cipher suite Go implements"},
		{spec: "TLS_AES_128_GCM_SHA256", err: "TLS 1.3 suite"},
		{spec: "aNULL", err: "selects no cipher suite"},
		{spec: "", err: `--tls-cipher "": no cipher given`},
		{spec: "HIGH:!", err: `"!" names nothing`},
		{spec: "HIGH:@FOO", err: "unknown directive"},
		{spec: "ECDHE++AES", err: "empty part"},
		{spec: "bogus", err: `--tls-cipher "bogus": unknown cipher or keyword "bogus"`},
	}
	for _, tc := range tests {
		got, err := ParseTLSCipher(tc.spec)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.spec, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		n := got.Names()
		if tc.want != nil && !slices.Equal(n, tc.want) {
			t.Errorf("%q: %v, want %v", tc.spec, n, tc.want)
		}
		for _, h := range tc.has {
			if !slices.Contains(n, h) {
				t.Errorf("%q: %s missing from %v", tc.spec, h, n)
			}
		}
		for _, h := range tc.hasNo {
			if slices.Contains(n, h) {
				t.Errorf("%q: %s present", tc.spec, h)
			}
		}
		if len(got.Notes) != tc.notes {
			t.Errorf("%q: notes %v, want %d", tc.spec, got.Notes, tc.notes)
		}
	}
}

// Every suite of the table is one Go implements for TLS 1.2 or earlier,
// and every such suite is in the table.
func TestCipherTableMatchesGo(t *testing.T) {
	var goSuites []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		if !slices.Contains(cs.SupportedVersions, tls.VersionTLS13) {
			goSuites = append(goSuites, cs.ID)
		}
	}
	var ours []uint16
	for _, s := range suites {
		ours = append(ours, s.id)
	}
	slices.Sort(goSuites)
	slices.Sort(ours)
	if !slices.Equal(goSuites, ours) {
		t.Errorf("table %v, Go %v", ours, goSuites)
	}
}

func FuzzParseTLSProtocol(f *testing.F) {
	for _, s := range []string{"tlsv1_2", "no_tlsv1,no_tlsv1_1", "sslv3,tlsv1_3", "tlsv1,tlsv1_2", "", ",", "no_"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		v, err := ParseTLSProtocol(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("--tls-protocol %q: ", spec)) {
				t.Fatalf("error does not name the value: %v", err)
			}
			return
		}
		if len(v.Allowed) == 0 || !slices.IsSorted(v.Allowed) {
			t.Fatalf("%q: allowed %v", spec, v.Allowed)
		}
		for _, a := range v.Allowed {
			if !slices.Contains(goVersions, a) {
				t.Fatalf("%q: version %x not implemented", spec, a)
			}
		}
	})
}

func FuzzParseTLSCipher(f *testing.F) {
	for _, s := range []string{"HIGH:!aNULL", "ECDHE+AESGCM:+RSA", "3DES:+RSA", "AES128-SHA @STRENGTH", "!", "DHE-RSA-AES128-SHA", "TLS_AES_128_GCM_SHA256", "-ALL:+HIGH"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		c, err := ParseTLSCipher(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("--tls-cipher %q: ", spec)) {
				t.Fatalf("error does not name the value: %v", err)
			}
			return
		}
		if len(c.Suites) == 0 {
			t.Fatalf("%q: no suite and no error", spec)
		}
		seen := map[uint16]bool{}
		for _, id := range c.Suites {
			if seen[id] {
				t.Fatalf("%q: %x twice", spec, id)
			}
			seen[id] = true
		}
	})
}
