package transcript

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The TLS details and warnings keep their JSON names: name_matches is null
// without a certificate, warnings is absent when there are none.
func TestTLSInfoAndWarningsJSON(t *testing.T) {
	decode := func(r *Report) map[string]any {
		t.Helper()
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	r := &Report{TLS: &TLSInfo{ServerName: "mx.example.org", PeerCertificates: []CertInfo{}, ResultType: "starttls-not-supported", VerifySummary: "the server does not offer STARTTLS"}}
	m := decode(r)
	tls := m["tls"].(map[string]any)
	if v, ok := tls["name_matches"]; !ok || v != nil {
		t.Errorf("name_matches %v (present %v), want null", v, ok)
	}
	if tls["result_type"] != "starttls-not-supported" || tls["verify_summary"] != "the server does not offer STARTTLS" || tls["sni"] != "" {
		t.Errorf("tls %v", tls)
	}
	if _, ok := m["warnings"]; ok {
		t.Error("warnings present without any")
	}
	yes := true
	r.TLS.NameMatches = &yes
	r.TLS.PeerCertificates = []CertInfo{{Subject: "CN=mx", SHA256: "ab", Key: "ECDSA P-256", KeyType: "ECDSA", KeyBits: 256, IPAddresses: []string{}}}
	r.Warnings = []Warning{{Kind: "auth-only-in-clear", Message: "m", Evidence: []string{"e"}}}
	m = decode(r)
	tls = m["tls"].(map[string]any)
	cert := tls["peer_certificates"].([]any)[0].(map[string]any)
	for _, k := range []string{"not_before", "ip_addresses", "sha256", "spki_sha256", "key", "key_type", "key_bits", "signature_algorithm", "serial", "self_signed", "is_ca"} {
		if _, ok := cert[k]; !ok {
			t.Errorf("certificate key %s missing", k)
		}
	}
	if tls["name_matches"] != true {
		t.Errorf("name_matches %v", tls["name_matches"])
	}
	w := m["warnings"].([]any)[0].(map[string]any)
	if w["kind"] != "auth-only-in-clear" || w["evidence"].([]any)[0] != "e" {
		t.Errorf("warning %v", w)
	}
}
