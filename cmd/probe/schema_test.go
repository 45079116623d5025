package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/examples/scenario"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
	"github.com/smtpprobe/smtpprobe/transcript/schematest"
)

// jsonDocuments splits a stream of JSON documents (demo --all --json
// prints one per scenario).
func jsonDocuments(t *testing.T, out string) []any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber() // as jsonschema.UnmarshalJSON does: integers stay integers
	var docs []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return docs
		}
		if err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		docs = append(docs, v)
	}
}

func mustValidate(t *testing.T, sch *jsonschema.Schema, what, out string) {
	t.Helper()
	docs := jsonDocuments(t, out)
	if len(docs) != 1 {
		t.Fatalf("%s: %d JSON documents, want 1\n%s", what, len(docs), out)
	}
	if err := sch.Validate(docs[0]); err != nil {
		t.Errorf("%s: the output does not match its schema: %v\n%s", what, err, out)
	}
}

func validateMutated(sch *jsonschema.Schema, m map[string]any) error {
	b, _ := json.Marshal(m)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	return sch.Validate(v)
}

// Every scenario of `probe demo --all --json`, as one run prints them.
func TestSchemaDemoAll(t *testing.T) {
	sch, _ := schematest.Compile(t)
	code, out, errOut := runCLI(t, "", "demo", "--all", "--json")
	if code != 0 {
		t.Fatalf("demo --all: exit %d\n%s", code, errOut)
	}
	docs := jsonDocuments(t, out)
	if len(docs) != len(scenario.All()) {
		t.Fatalf("%d documents for %d scenarios", len(docs), len(scenario.All()))
	}
	for i, d := range docs {
		if err := sch.Validate(d); err != nil {
			b, _ := json.MarshalIndent(d, "", "  ")
			t.Errorf("scenario %s: %v\n%s", scenario.All()[i].Name, err, b)
		}
	}
}

// Sessions beyond the demo's: sender checks that confirm and contradict
// the diagnosis, MX mode, --all-mx over good, refusing, closed and
// unresolvable MX hosts, --quit-after and --drop-after, TLS.
func TestSchemaSessions(t *testing.T) {
	sch, _ := schematest.Compile(t)
	ok, okPort := startScenario(t, "ok")
	blocked, blockedPort := startScenario(t, "blocklisted-ip")
	refusing, refusingPort := refusingServer(t, "192.0.2.9")
	dns := dnstest.Start(t, dnstest.Zone{
		"example.com.":                {TXT: []string{"v=spf1 ip4:127.0.0.0/8 -all"}, A: []string{"192.0.2.1"}, MX: []dnstest.MX{{Preference: 10, Host: "mx.example.com."}}},
		"_dmarc.example.com.":         {TXT: []string{"v=DMARC1; p=reject; sp=quarantine; rua=mailto:d@example.com"}},
		"mx.example.com.":             {A: []string{"192.0.2.1"}},
		"3.0.0.127.zen.spamhaus.org.": {A: []string{"127.0.0.2"}, TXT: []string{"Listed by SBL, see https://check.spamhaus.org/query/ip/127.0.0.3"}},
		// --all-mx: the good server, a closed port (127.0.0.2 on the same
		// port) and a host that does not resolve.
		"example.net.":     {MX: []dnstest.MX{{Preference: 10, Host: "mx1.example.net."}, {Preference: 20, Host: "mx2.example.net."}, {Preference: 30, Host: "gone.example.net."}}},
		"mx1.example.net.": {A: []string{ok}},
		"mx2.example.net.": {A: []string{"127.0.0.2"}},
		"example.org.":     {MX: []dnstest.MX{{Preference: 10, Host: "mx.example.org."}}},
		"mx.example.org.":  {A: []string{blocked, "127.0.0.2"}},
	})
	tests := []struct {
		name string
		args []string
		// defect, when set, names a known fault of the output: the case
		// is skipped while it does not validate, and passes once fixed.
		defect string
	}{
		{"check-sender", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--check-sender", "--dnsbl", "zen.spamhaus.org", "--dnsbl", "list.example"}, ""},
		{"checks confirm the blocklisting", []string{"-s", blocked, "-p", blockedPort, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--local-interface", "127.0.0.3", "--check-sender", "--dnsbl", "zen.spamhaus.org"}, ""},
		{"checks contradict", []string{"-s", refusing, "-p", refusingPort, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--local-interface", "127.0.0.3", "--check-sender", "--dnsbl", "zen.spamhaus.org"}, ""},
		{"all-mx", []string{"-t", "bob@example.net", "-f", "alice@example.com", "-p", okPort, "--dns-server", dns, "--all-mx", "--check-sender"}, ""},
		{"all-mx refusing", []string{"-t", "bob@example.org", "-f", "alice@example.com", "-p", blockedPort, "--dns-server", dns, "--all-mx"}, ""},
		{"mx", []string{"-t", "bob@example.net", "-f", "alice@example.com", "-p", okPort, "--dns-server", dns}, ""},
		{"quit-after rcpt", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "--quit-after", "rcpt"}, ""},
		{"drop-after first-helo", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "--drop-after", "first-helo"}, ""},
		{"drop-after tls", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "--tls", "--drop-after", "tls"}, ""},
		{"quit-after first-helo", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "--quit-after", "first-helo"}, ""},
		{"drop-after dot", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "--drop-after", "dot"}, ""},
		{"tls", []string{"-s", ok, "-p", okPort, "-t", "bob@example.net", "--tls"}, ""},
		{"connection refused", []string{"-s", "127.0.0.2", "-p", okPort, "-t", "bob@example.net"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, out, errOut := runCLI(t, "", append(tc.args, "--json", "--timeout", "5s")...)
			if out == "" {
				t.Fatalf("no output: %s", errOut)
			}
			docs := jsonDocuments(t, out)
			if len(docs) != 1 {
				t.Fatalf("%d JSON documents, want 1\n%s", len(docs), out)
			}
			if err := sch.Validate(docs[0]); err != nil {
				if tc.defect != "" {
					t.Skipf("known defect: %s: %v", tc.defect, err)
				}
				t.Errorf("the output does not match its schema: %v\n%s", err, out)
			}
		})
	}
}

// dkimTestKey writes an Ed25519 key file and returns it with its DKIM
// record.
func dkimTestKey(t *testing.T) (file, record string) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	file = filepath.Join(t.TempDir(), "dkim.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if record, err = dkimsign.PublicRecord(key); err != nil {
		t.Fatal(err)
	}
	return file, record
}

// --dkim-key: the published key is checked (pass), and missing (none).
func TestSchemaDKIMKey(t *testing.T) {
	sch, _ := schematest.Compile(t)
	keyFile, record := dkimTestKey(t)
	h, p := startScenario(t, "ok")
	dns := dnstest.Start(t, dnstest.Zone{
		"sel._domainkey.example.com.": {TXT: []string{record}},
		"example.com.":                {TXT: []string{"v=spf1 ip4:127.0.0.1 -all"}, A: []string{"192.0.2.1"}},
	})
	for _, sel := range []string{"sel", "missing"} {
		_, out, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "bob@example.net", "-f", "alice@example.com", "--dns-server", dns, "--check-sender",
			"--dkim-key", keyFile, "--dkim-selector", sel, "--json")
		if !strings.Contains(out, `"dkim-key"`) {
			t.Fatalf("no dkim-key check:\n%s\n%s", out, errOut)
		}
		mustValidate(t, sch, "dkim-key "+sel, out)
	}
}

// relay-check --json: a closed MX, an open relay, AUTH in clear with
// credentials, an unreachable port, a STARTTLS certificate that does not
// verify.
func TestSchemaRelayCheck(t *testing.T) {
	_, sch := schematest.Compile(t)
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}()
	okHost, okPort := startScenario(t, "ok")
	common := []string{"--to", "alice@example.test", "--helo", "client.example.test", "--check-timeout", "3s", "--json"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"mx", []string{"-s", rcServer(t, false, false)}, nil},
		{"open relay", []string{"-s", rcServer(t, true, false)}, nil},
		{"auth in clear", []string{"-s", rcServer(t, false, true), "-au", rcUser, "--auth-password-env", "RC_PW", "--auth-plaintext"}, map[string]string{"RC_PW": rcPassword}},
		{"closed port", []string{"-s", closed}, nil},
		{"untrusted STARTTLS certificate", []string{"-s", net.JoinHostPort(okHost, okPort)}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sio, out, errb := testStdio(tc.env)
			run(context.Background(), append(append([]string{"relay-check"}, tc.args...), common...), sio)
			if out.Len() == 0 {
				t.Fatalf("no output: %s", errb)
			}
			mustValidate(t, sch, tc.name, out.String())
		})
	}
}

// The schema is not vacuous: a real document validates, and the same
// document with version dropped, a category out of the vocabulary or an
// unknown key does not.
func TestSchemaRejectsBrokenOutput(t *testing.T) {
	sch, rc := schematest.Compile(t)
	_, out, _ := runCLI(t, "", "demo", "relay-denied", "--json")
	mutations := map[string]func(m map[string]any){
		"unchanged":         func(map[string]any) {},
		"no version":        func(m map[string]any) { delete(m, "version") },
		"bad category":      func(m map[string]any) { m["diagnosis"].(map[string]any)["category"] = "relay-refused" },
		"unknown party":     func(m map[string]any) { m["diagnosis"].(map[string]any)["party"] = "postmaster" },
		"bad confirmation":  func(m map[string]any) { m["diagnosis"].(map[string]any)["confirmation"] = "yes" },
		"misspelt key":      func(m map[string]any) { m["durations_ms"] = 1 },
		"step phase":        func(m map[string]any) { m["steps"].([]any)[1].(map[string]any)["phase"] = "ehlo" },
		"transcript dir":    func(m map[string]any) { m["transcript"].([]any)[0].(map[string]any)["dir"] = "in" },
		"null steps":        func(m map[string]any) { m["steps"] = nil },
		"result without ok": func(m map[string]any) { delete(m["result"].(map[string]any), "ok") },
	}
	for name, mutate := range mutations {
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		err := validateMutated(sch, m)
		if name == "unchanged" {
			if err != nil {
				t.Fatalf("the demo's own document does not validate: %v", err)
			}
		} else if err == nil {
			t.Errorf("%s: the broken document validates", name)
		}
	}
	// A relay-check report whose embedded session is broken is broken.
	sio, rcOut, _ := testStdio(nil)
	run(context.Background(), []string{"relay-check", "-s", rcServer(t, false, false), "--to", "alice@example.test", "--check-timeout", "3s", "--json"}, sio)
	var m map[string]any
	if err := json.Unmarshal(rcOut.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if err := validateMutated(rc, m); err != nil {
		t.Fatalf("the relay check's own report does not validate: %v", err)
	}
	broken := false
	for _, s := range m["sessions"].([]any) {
		if sess, ok := s.(map[string]any)["session"].(map[string]any); ok {
			delete(sess, "version")
			broken = true
			break
		}
	}
	if !broken || validateMutated(rc, m) == nil {
		t.Error("a relay-check report with a session lacking version validates")
	}
	if err := json.Unmarshal(rcOut.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	m["verdict"] = "ok"
	if validateMutated(rc, m) == nil {
		t.Error("a relay-check report with verdict ok validates")
	}
}
