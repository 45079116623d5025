package transcript

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

func matrixReport() *Report {
	return &Report{
		Version: SchemaVersion, StartedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Target: Target{Host: "mx2.example.org", Port: 25, Address: "192.0.2.2:25", TLSMode: "optional", Source: "mx", Domain: "example.org"},
		Result: Result{ExitCode: 2, Phase: "connect", Error: "cannot connect to 192.0.2.2:25: connection refused", ExitMeaning: "could not connect"},
		MXMatrix: []MXEntry{
			{Host: "mx1.example.org", Preference: 10, Address: "192.0.2.1", Result: Result{OK: true, Phase: "end-of-data"},
				TLS: &TLSInfo{Version: "TLS 1.3", Verified: true, PeerCertificates: []CertInfo{{Subject: "CN=mx1"}}}, Banner: "mx1.example.org", Outcome: "accepts", DurationMS: 12.4,
				Steps: []Step{{Phase: "helo", Reply: &Reply{Code: 250}}}, Events: []Event{{Dir: Recv, Text: "220 mx1.example.org ESMTP"}}},
			{Host: "mx2.example.org", Preference: 20, Address: "192.0.2.2", Result: Result{ExitCode: 2, Phase: "connect"},
				Failure: "refused", Outcome: "refuses connections", DurationMS: 1.2, Diagnosis: &diagnose.Diagnosis{Category: "connection-failed"},
				Events: []Event{{Dir: Error, Text: "cannot connect"}}},
			{Host: "mx3.example.org", Preference: 30, Address: "2001:db8::3", Result: Result{ExitCode: 24, Phase: "rcpt", Reply: &Reply{Code: 554, EnhancedCode: "5.7.1"}},
				Failure: "reply", Outcome: "refuses at RCPT TO with 554 5.7.1 (ip-blocklisted)", Banner: "evil|\x1b[31mname", DurationMS: 1500,
				Diagnosis: &diagnose.Diagnosis{Category: "ip-blocklisted"}, Events: []Event{{Dir: Recv, Unexpected: true, Text: "554 5.7.1 blocked using ```zen```"}}},
		},
		MXDifferences: []string{"mx2.example.org (192.0.2.2) refuses connections while mx1.example.org (192.0.2.1) accepts"},
		MXSummary:     "2 of 3 addresses failed; exit 2 is that of mx2.example.org (192.0.2.2), the most preferred address that failed",
	}
}

func TestWriteMatrixText(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrix(&b, matrixReport(), MatrixOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lines := strings.Split(out, "\n")
	var table []string
	for _, l := range lines {
		if strings.HasPrefix(l, "HOST ") || strings.HasPrefix(l, "mx") {
			table = append(table, l)
		}
	}
	if len(table) != 4 {
		t.Fatalf("want a header and 3 rows:\n%s", out)
	}
	// Aligned: every column starts where its header does.
	col := strings.Index(table[0], "RESULT")
	for _, l := range table[1:] {
		if l[col-2:col] != "  " || l[col] == ' ' {
			t.Errorf("RESULT column not aligned at %d:\n%s\n%s", col, table[0], l)
		}
	}
	for _, want := range []string{
		"ok", "connect refused (exit 2)", "rcpt 554 5.7.1 ip-blocklisted (exit 24)", "TLS 1.3", "verified", "1500 ms",
		"Differences:\n  - mx2.example.org (192.0.2.2) refuses connections while mx1.example.org (192.0.2.1) accepts",
		"*** 2 of 3 addresses failed", `evil|\x1b[31mname`, "*** Session failed at CONNECT (exit 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") || strings.Contains(out, "=== Session with") || strings.Contains(out, "connection-failed") {
		t.Errorf("raw escape, transcript without asking, or a redundant category:\n%s", out)
	}
	if d, s := strings.Index(out, "Differences:"), strings.Index(out, "2 of 3"); d < strings.Index(out, "HOST") || s < d {
		t.Errorf("order: matrix, differences, summary:\n%s", out)
	}

	b.Reset()
	if err := WriteMatrix(&b, matrixReport(), MatrixOptions{Transcripts: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "=== Session with mx1.example.org (192.0.2.1)\n<-  220 mx1.example.org ESMTP") {
		t.Errorf("verbose output lacks the transcripts:\n%s", b.String())
	}

	r := matrixReport()
	r.MXMatrix, r.MXDifferences = r.MXMatrix[:1], []string{}
	r.Result, r.MXSummary = Result{OK: true}, "the address succeeded (exit 0)"
	b.Reset()
	if err := WriteMatrix(&b, r, MatrixOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "=== the address succeeded (exit 0)") || strings.Contains(b.String(), "***") {
		t.Errorf("success:\n%s", b.String())
	}
}

func TestWriteMatrixMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMatrixMarkdown(&b, matrixReport(), MatrixOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| HOST | PREF | ADDRESS | BANNER | TLS | CERTIFICATE | RESULT | TIME |\n|---|---:|",
		`| mx3.example.org | 30 | 2001:db8::3 | evil\|\x1b[31mname |`,
		"### Differences\n\n- mx2.example.org",
		"<summary>mx3.example.org (2001:db8::3): rcpt 554 5.7.1 ip-blocklisted (exit 24)</summary>",
		"````\n<** 554 5.7.1 blocked using ```zen```\n````",
		"### Diagnosis\n\n````\n\n*** Session failed at CONNECT (exit 2)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "<summary>mx1.example.org") {
		t.Errorf("a successful address's transcript without asking:\n%s", out)
	}
}

func TestMatrixJSON(t *testing.T) {
	decode := func(r *Report) map[string]json.RawMessage {
		var b bytes.Buffer
		if err := WriteJSON(&b, r); err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	plain := decode(&Report{})
	for _, k := range []string{"mx_matrix", "mx_differences", "mx_summary", "mx_skipped"} {
		if _, ok := plain[k]; ok {
			t.Errorf("a session without --all-mx has %q", k)
		}
	}
	r := matrixReport()
	r.MXDifferences = []string{}
	m := decode(r)
	if string(m["mx_differences"]) != "[]" {
		t.Errorf("mx_differences = %s, want []", m["mx_differences"])
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal(m["mx_matrix"], &entries); err != nil || len(entries) != 3 {
		t.Fatalf("mx_matrix: %v %d", err, len(entries))
	}
	for _, k := range []string{"host", "preference", "address", "result", "tls", "diagnosis", "duration_ms", "transcript", "steps", "outcome"} {
		if _, ok := entries[0][k]; !ok {
			t.Errorf("entry lacks %q", k)
		}
	}
	if string(entries[1]["tls"]) != "null" || string(entries[1]["steps"]) != "[]" || !strings.Contains(string(entries[0]["transcript"]), `"recv"`) {
		t.Errorf("entry 1 tls %s steps %s; entry 0 transcript %s", entries[1]["tls"], entries[1]["steps"], entries[0]["transcript"])
	}
}
