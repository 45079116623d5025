package transcript

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// compileSessionSchema compiles the embedded schema with format assertion
// on (date-time is checked, not just annotated).
func compileSessionSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(SessionSchema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(SessionSchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SessionSchemaURL)
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	return sch
}

func validateJSON(t *testing.T, sch *jsonschema.Schema, doc []byte) error {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, doc)
	}
	return sch.Validate(v)
}

// leafCert is a certificate as smtpclient describes one, built from JSON
// so that the keys of the certificate's extensions need no field names
// here.
func leafCert() CertInfo {
	var c CertInfo
	err := json.Unmarshal([]byte(`{"subject": "CN=mx.example.net", "issuer": "CN=Example CA",
		"not_before": "2026-01-02T03:04:05Z", "not_after": "2027-01-02T03:04:05Z",
		"dns_names": ["mx.example.net"], "ip_addresses": ["192.0.2.25"],
		"sha256": "`+strings.Repeat("ab", 32)+`", "spki_sha256": "`+strings.Repeat("cd", 32)+`",
		"key": "ECDSA P-256", "key_type": "ECDSA", "key_bits": 256, "signature_algorithm": "ECDSA-SHA256",
		"serial": "1f", "self_signed": false, "is_ca": false}`), &c)
	if err != nil {
		panic(err)
	}
	return c
}

// fullReport fills every key the session JSON can hold, extensions and
// all-MX matrix included.
func fullReport() *Report {
	ttl := uint32(300)
	aligned := true
	reply := &Reply{Code: 550, EnhancedCode: "5.7.1", Lines: []string{"550 5.7.1 Service unavailable; client [192.0.2.1] blocked using zen.spamhaus.org"}}
	tls := &TLSInfo{Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Verified: false, VerifyError: "x509: certificate signed by unknown authority",
		PeerCertificates: []CertInfo{leafCert()},
		ServerName:       "mx.example.net", ALPN: "smtp", ResultType: "certificate-not-trusted"}
	diag := &diagnose.Diagnosis{Reply: reply.Lines[0], Code: 550, EnhancedCode: "5.7.1", Phase: "rcpt", Category: "ip-blocklisted", Permanent: true,
		Party: "sender", Meaning: "listed", NextSteps: []string{"delist"}, Confidence: 0.9, Evidence: []string{"zen.spamhaus.org"},
		CodeMeaning: "mailbox unavailable", EnhancedMeaning: "delivery not authorized", RuleID: "spamhaus", Source: "https://check.spamhaus.org/", Confirmation: "confirmed"}
	result := Result{OK: false, ExitCode: 24, Phase: "rcpt", Reply: reply, Command: "RCPT TO:<bob@example.net>", MessageFate: "not sent",
		QueueID: "4Xyz", AcceptedRcpts: []string{"a@example.net"}, RejectedRcpts: []string{"bob@example.net"}, StoppedAfter: "rcpt", Dropped: true,
		ExitMeaning: "refused at RCPT", Interrupted: false, CodeMeaning: "mailbox unavailable"}
	steps := []Step{
		{Phase: "banner", Reply: &Reply{Code: 220, Lines: []string{"220 mx.example.net ESMTP"}}, DurationMS: 1.5},
		{Phase: "rcpt", Command: "RCPT TO:<bob@example.net>", Reply: reply, StartedMS: 3, DurationMS: 1},
		{Phase: "quit", Command: "QUIT", StartedMS: 5, Error: "connection closed"},
	}
	fb := &TLSFallback{Reason: "remote error: tls: handshake failure", ResultType: "validation-failure", Action: "reconnected"}
	return &Report{
		Version: SchemaVersion, Tool: Tool{Name: "smtpprobe", Version: "0.1.0"}, Command: []string{"probe", "-t", "bob@example.net"},
		StartedAt: time.Date(2026, 12, 8, 2, 0, 0, 123, time.UTC),
		Target:    Target{Host: "mx.example.net", Port: 25, Address: "192.0.2.25:25", TLSMode: "optional", Source: "mx", Domain: "example.net"},
		Events:    []Event{{At: time.Millisecond, Dir: Recv, Text: "220 mx.example.net ESMTP"}, {At: 2 * time.Millisecond, Dir: Send, TLS: true, Text: "QUIT"}, {Dir: Info, Text: "x"}, {Dir: Error, Text: "y"}},
		Steps:     steps, TLS: tls, Result: result, Diagnosis: diag, RoundTrips: 3,
		Candidates:  []Candidate{{Host: "mx.example.net", Preference: 10, Address: "192.0.2.25", Outcome: "used"}},
		TLSFallback: fb, Duration: 12.5,
		MXMatrix: []MXEntry{{Host: "mx.example.net", Preference: 10, Address: "192.0.2.25", Result: result, TLS: tls, Diagnosis: diag, DurationMS: 3,
			Implicit: true, Banner: "mx.example.net", Outcome: "refuses at RCPT TO with 550 5.7.1 (ip-blocklisted)", Failure: "reply", TLSFallback: fb,
			StartedMS: 0.5, Steps: steps, Events: []Event{{Dir: Info, Text: "x"}}}},
		MXDifferences: []string{}, MXSummary: "1 of 1 address refuses", MXSkipped: 2,
		Checks: []sendercheck.Check{
			{Name: "dnsbl", Subject: "zen.spamhaus.org", Result: "listed", Detail: "listed", Records: []string{"1.2.0.192.zen.spamhaus.org A 127.0.0.2"}, IP: "192.0.2.1",
				RCode: "NOERROR", Answers: []string{"127.0.0.2"}, Reason: "SBL", DelistURL: "https://check.spamhaus.org/"},
			{Name: "ptr", Subject: "192.0.2.1", Result: "pass", Detail: "ok", Names: []string{"client.example.com"}},
			{Name: "spf", Subject: "example.com", Result: "softfail", Detail: "~all", Mechanism: "~all"},
			{Name: "dmarc", Subject: "example.com", Result: "reject", Detail: "p=reject", DMARC: &sendercheck.DMARCRecord{Domain: "example.com", OrgDomain: "example.com",
				Policy: "reject", SubdomainPolicy: "quarantine", Applied: "reject", Percent: 100, ADKIM: "r", ASPF: "s", RUA: []string{"mailto:d@example.com"}, SPFAligned: &aligned}},
		},
		DNS: []dnsclient.Query{{Name: "example.net.", Type: "MX", Server: "127.0.0.1:53", RCode: "NOERROR", Answers: []string{"10 mx.example.net."}, TTL: &ttl, MS: 1.2, AD: true},
			{Name: "x.example.", Type: "A", Server: "127.0.0.1:53", RCode: "TIMEOUT", Answers: []string{}, Error: "i/o timeout"}},
	}
}

// fullReportWarnings adds a warning and the message's identity to r,
// through JSON for the same reason as leafCert.
func fullReportWarnings(r *Report) *Report {
	if err := json.Unmarshal([]byte(`{"warnings": [{"kind": "auth-only-in-clear", "message": "AUTH is offered only in clear", "evidence": ["250-AUTH PLAIN LOGIN"]}],
		"message": {"size": 312, "sha256": "`+strings.Repeat("0f", 32)+`", "message_id": "<1@client.example>"}}`), r); err != nil {
		panic(err)
	}
	return r
}

func reportJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestSessionSchemaValidatesReports(t *testing.T) {
	sch := compileSessionSchema(t)
	for name, r := range map[string]*Report{
		"full":    fullReportWarnings(fullReport()),
		"minimal": {Version: SchemaVersion, Tool: Tool{Name: "smtpprobe", Version: "0.1.0"}, Command: []string{"probe"}, Target: Target{TLSMode: "none"}, Result: Result{Phase: "connect", ExitCode: 2}},
	} {
		if err := validateJSON(t, sch, reportJSON(t, r)); err != nil {
			t.Errorf("%s: %v\n%s", name, err, reportJSON(t, r))
		}
	}
}

// The schema is not vacuous: each mutation of a valid document must fail.
func TestSessionSchemaRejectsMutations(t *testing.T) {
	sch := compileSessionSchema(t)
	valid := reportJSON(t, fullReportWarnings(fullReport()))
	mutations := map[string]func(m map[string]any){
		"no version":           func(m map[string]any) { delete(m, "version") },
		"version 2":            func(m map[string]any) { m["version"] = 2 },
		"no tool":              func(m map[string]any) { delete(m, "tool") },
		"no target":            func(m map[string]any) { delete(m, "target") },
		"no transcript":        func(m map[string]any) { delete(m, "transcript") },
		"no steps":             func(m map[string]any) { delete(m, "steps") },
		"no result":            func(m map[string]any) { delete(m, "result") },
		"no diagnosis":         func(m map[string]any) { delete(m, "diagnosis") },
		"typo'd top-level key": func(m map[string]any) { m["round_trip"] = 3 },
		"bad category":         func(m map[string]any) { m["diagnosis"].(map[string]any)["category"] = "relay-refused" },
		"bad party":            func(m map[string]any) { m["diagnosis"].(map[string]any)["party"] = "admin" },
		"bad confirmation":     func(m map[string]any) { m["diagnosis"].(map[string]any)["confirmation"] = "maybe" },
		"typo'd diagnosis key": func(m map[string]any) { m["diagnosis"].(map[string]any)["rule"] = "x" },
		"bad dir":              func(m map[string]any) { m["transcript"].([]any)[0].(map[string]any)["dir"] = "in" },
		"bad step phase":       func(m map[string]any) { m["steps"].([]any)[0].(map[string]any)["phase"] = "ehlo" },
		"step phase any":       func(m map[string]any) { m["steps"].([]any)[0].(map[string]any)["phase"] = "any" },
		"bad result phase":     func(m map[string]any) { m["result"].(map[string]any)["phase"] = "dot" },
		"bad result_type":      func(m map[string]any) { m["tls"].(map[string]any)["result_type"] = "certificate-invalid" },
		"empty result_type":    func(m map[string]any) { m["tls"].(map[string]any)["result_type"] = "" },
		"bad tls_mode":         func(m map[string]any) { m["target"].(map[string]any)["tls_mode"] = "starttls" },
		"port as string":       func(m map[string]any) { m["target"].(map[string]any)["port"] = "25" },
		"bad started_at":       func(m map[string]any) { m["started_at"] = "yesterday" },
		"bad enhanced code": func(m map[string]any) {
			m["result"].(map[string]any)["reply"].(map[string]any)["enhanced_code"] = "5.7"
		},
		"no interrupted":          func(m map[string]any) { delete(m["result"].(map[string]any), "interrupted") },
		"check result of another": func(m map[string]any) { m["checks"].([]any)[0].(map[string]any)["result"] = "pass" }, // dnsbl says listed/not-listed
		"unknown check":           func(m map[string]any) { m["checks"].([]any)[0].(map[string]any)["name"] = "rbl" },
		"check records null":      func(m map[string]any) { m["checks"].([]any)[1].(map[string]any)["records"] = nil },
		"dns ttl negative":        func(m map[string]any) { m["dns"].([]any)[0].(map[string]any)["ttl"] = -1 },
		"mx entry bad failure":    func(m map[string]any) { m["mx_matrix"].([]any)[0].(map[string]any)["failure"] = "bounced" },
		"mx entry no transcript":  func(m map[string]any) { delete(m["mx_matrix"].([]any)[0].(map[string]any), "transcript") },
		"mx entry bad diagnosis": func(m map[string]any) {
			m["mx_matrix"].([]any)[0].(map[string]any)["diagnosis"].(map[string]any)["category"] = "nope"
		},
		"fallback action":               func(m map[string]any) { m["tls_fallback"].(map[string]any)["action"] = "retried" },
		"confidence above one":          func(m map[string]any) { m["diagnosis"].(map[string]any)["confidence"] = 1.5 },
		"mx_matrix without differences": func(m map[string]any) { delete(m, "mx_differences") },
	}
	for name, mutate := range mutations {
		var m map[string]any
		if err := json.Unmarshal(valid, &m); err != nil {
			t.Fatal(err)
		}
		mutate(m)
		b, _ := json.Marshal(m)
		if err := validateJSON(t, sch, b); err == nil {
			t.Errorf("%s: the mutated document validates", name)
		}
	}
}

// Every JSON key of the Go structs behind the session JSON is in the
// schema: a key added to a struct and not to the schema fails here even
// when no test output happens to carry it. A schema key the struct lacks
// must be optional: a DESIGN.md contract the code does not emit yet
// (tls_policy), or a key on its way in.
func TestSessionSchemaCoversTheStructs(t *testing.T) {
	type object struct {
		Properties map[string]any `json:"properties"`
		Required   []string       `json:"required"`
	}
	var schema struct {
		object
		Defs map[string]object `json:"$defs"`
	}
	if err := json.Unmarshal(SessionSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	types := map[string]reflect.Type{
		"":            reflect.TypeFor[Report](),
		"tool":        reflect.TypeFor[Tool](),
		"target":      reflect.TypeFor[Target](),
		"event":       reflect.TypeFor[jsonEvent](),
		"step":        reflect.TypeFor[Step](),
		"reply":       reflect.TypeFor[Reply](),
		"tls":         reflect.TypeFor[TLSInfo](),
		"certificate": reflect.TypeFor[CertInfo](),
		"tlsFallback": reflect.TypeFor[TLSFallback](),
		"result":      reflect.TypeFor[Result](),
		"candidate":   reflect.TypeFor[Candidate](),
		"mxEntry":     reflect.TypeFor[MXEntry](),
		"diagnosis":   reflect.TypeFor[diagnose.Diagnosis](),
		"check":       reflect.TypeFor[sendercheck.Check](),
		"dmarcRecord": reflect.TypeFor[sendercheck.DMARCRecord](),
		"dnsQuery":    reflect.TypeFor[dnsclient.Query](),
	}
	if f, ok := reflect.TypeFor[Report]().FieldByName("Warnings"); ok {
		types["warning"] = f.Type.Elem()
	}
	if f, ok := reflect.TypeFor[Report]().FieldByName("Message"); ok {
		types["message"] = f.Type.Elem()
	}
	for def, typ := range types {
		obj := schema.object
		if def != "" {
			obj = schema.Defs[def]
		}
		want := jsonKeys(typ)
		if def == "" || def == "mxEntry" {
			want = append(want, "transcript") // added by WriteJSON, MXEntry.MarshalJSON
		}
		for _, k := range want {
			if _, ok := obj.Properties[k]; !ok {
				t.Errorf("$defs/%s (%s): key %q is not in the schema", def, typ, k)
			}
		}
		for k := range obj.Properties {
			if !slices.Contains(want, k) && slices.Contains(obj.Required, k) {
				t.Errorf("$defs/%s (%s): the schema requires %q, which the struct does not have", def, typ, k)
			}
		}
	}
}

func jsonKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys = append(keys, name)
	}
	return keys
}

func TestSessionSchemaVersionAndID(t *testing.T) {
	var s struct {
		ID         string `json:"$id"`
		Schema     string `json:"$schema"`
		Comment    string `json:"$comment"`
		Properties struct {
			Version struct {
				Const int `json:"const"`
			} `json:"version"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal(SessionSchema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.ID != SessionSchemaURL || s.Schema != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$id %q, $schema %q", s.ID, s.Schema)
	}
	// A key that changes meaning bumps SchemaVersion: the schema must then
	// be updated in the same change.
	if s.Properties.Version.Const != SchemaVersion {
		t.Errorf("schema describes version %d, the code writes %d", s.Properties.Version.Const, SchemaVersion)
	}
	for _, k := range []string{"version", "tool", "target", "transcript", "steps", "result", "diagnosis"} {
		if !slices.Contains(s.Required, k) {
			t.Errorf("%q is not required", k)
		}
	}
	if !strings.Contains(s.Comment, "additionalProperties") {
		t.Error("the $comment does not say why additionalProperties is what it is")
	}
	// The caller's copy is its own.
	b := SessionSchema()
	b[0] = 'x'
	if SessionSchema()[0] == 'x' {
		t.Error("SessionSchema returns the embedded bytes themselves")
	}
}

// The category enum holds every category the rules can give, plus the two
// of probe/local.go and tls-policy (DESIGN.md); the party enum every party.
func TestSessionSchemaVocabulary(t *testing.T) {
	var s struct {
		Defs map[string]struct {
			Enum []string `json:"enum"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(SessionSchema(), &s); err != nil {
		t.Fatal(err)
	}
	e, err := diagnose.New()
	if err != nil {
		t.Fatal(err)
	}
	cats := s.Defs["category"].Enum
	for _, c := range append(e.Categories(), "connection-failed", "tls-failed", "tls-policy", "accepted") {
		if !slices.Contains(cats, c) {
			t.Errorf("category %q missing from the schema", c)
		}
	}
	for _, p := range []string{diagnose.PartySender, diagnose.PartyRecipient, diagnose.PartyMessage, diagnose.PartyReceivingServer, diagnose.PartyUnknown} {
		if e.PartyDescription(p) == "" || !slices.Contains(s.Defs["party"].Enum, p) {
			t.Errorf("party %q: rules or schema lack it", p)
		}
	}
	if !slices.Contains(s.Defs["diagnosisPhase"].Enum, diagnose.PhaseAny) || slices.Contains(s.Defs["phase"].Enum, diagnose.PhaseAny) {
		t.Error(`"any" is a diagnosis phase, never a session phase`)
	}
}
