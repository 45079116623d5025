package transcript

import (
	"bytes"
	"encoding/json"
	"github.com/smtpprobe/smtpprobe/sendercheck"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

func fakeClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return func() time.Time {
		t = t.Add(1500 * time.Microsecond)
		return t
	}
}

func TestRecorderRedaction(t *testing.T) {
	for _, show := range []bool{false, true} {
		r := NewRecorder(RecorderOptions{Now: fakeClock(), ShowSecrets: show})
		r.AddSecret("hunter2-pass")
		r.AddSecret("ab") // too short to scrub safely: ignored
		r.SentSecret(true, "AUTH PLAIN AGFsaWNlAGh1bnRlcjItcGFzcw==", "AUTH PLAIN "+Redacted)
		r.Received(true, "535 5.7.8 bad password hunter2-pass", true)
		r.Errorf("login with %s failed", "aHVudGVyMi1wYXNz") // base64 of the password
		r.Infof("about ab")
		var all []string
		for _, e := range r.Events() {
			all = append(all, e.Text)
		}
		joined := strings.Join(all, "\n")
		leaked := strings.Contains(joined, "hunter2-pass") || strings.Contains(joined, "aHVudGVyMi1wYXNz") || strings.Contains(joined, "AGFsaWNl")
		if leaked == !show {
			t.Fatalf("show=%v: leaked=%v in\n%s", show, leaked, joined)
		}
		if !strings.Contains(joined, "about ab") {
			t.Fatal("short secret mangled the transcript")
		}
	}
}

func TestRecorderBodyCap(t *testing.T) {
	r := NewRecorder(RecorderOptions{BodyLines: 3})
	r.BeginBody()
	for i := 0; i < 1000; i++ {
		r.BodyLine(false, "line")
	}
	r.EndBody(false)
	ev := r.Events()
	if len(ev) != 4 || !strings.Contains(ev[3].Text, "997 of 1000 message lines (6000 bytes in all) not shown") {
		t.Fatalf("events %+v", ev)
	}
	r = NewRecorder(RecorderOptions{BodyLines: -1})
	r.BeginBody()
	r.BodyLine(false, "secret body")
	r.EndBody(false)
	if ev := r.Events(); len(ev) != 1 || strings.Contains(ev[0].Text, "secret body") {
		t.Fatalf("suppressed body shown: %+v", ev)
	}
}

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"plain text":          "plain text",
		"tab\tok":             "tab\tok",
		"nul\x00esc\x1b[31m":  `nul\x00esc\x1b[31m`,
		"cr\rdel\x7f":         `cr\x0ddel\x7f`,
		"bad utf8 \xff":       `bad utf8 \xff`,
		"ünïcode ok":          "ünïcode ok",
		"c1 control \u009b2J": `c1 control \xc2\x9b2J`,
	}
	for in, want := range tests {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

func sampleReport() *Report {
	r := NewRecorder(RecorderOptions{Now: fakeClock()})
	r.Infof("Connected")
	r.Received(false, "220 mx ESMTP", false)
	r.Sent(false, "STARTTLS")
	r.Sent(true, "RCPT TO:<b@x.test>")
	r.Received(true, "554 5.7.1 Relay access denied\x1b[2J", true)
	return &Report{
		Version: SchemaVersion, Tool: Tool{Name: "smtpprobe", Version: "test"}, Command: []string{"probe"},
		Target: Target{Host: "mx.test", Port: 25, TLSMode: "optional"}, Events: r.Events(),
		Result: Result{ExitCode: 24, Phase: "rcpt", Command: "RCPT TO:<b@x.test>", ExitMeaning: "no recipient accepted",
			Reply: &Reply{Code: 554, EnhancedCode: "5.7.1", Lines: []string{"554 5.7.1 Relay access denied"}}},
		Diagnosis: &diagnose.Diagnosis{Category: "relay-denied"},
	}
}

func TestWriteText(t *testing.T) {
	var b bytes.Buffer
	err := WriteText(&b, sampleReport(), TextOptions{Timestamps: true, Diagnosis: func(w io.Writer, d diagnose.Diagnosis) error {
		_, err := io.WriteString(w, "DIAGNOSIS "+d.Category+"\n")
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"=== Connected", "<-  220 mx ESMTP", " -> STARTTLS", " ~> RCPT TO:<b@x.test>", `<** 554 5.7.1 Relay access denied\x1b[2J`, "*** Session failed at RCPT (exit 24", "[+  0.003s]", "DIAGNOSIS relay-denied"} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("raw ESC reached the text output")
	}
}

func TestWriteJSONKeys(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleReport()); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"version", "tool", "command", "started_at", "target", "transcript", "steps", "tls", "result", "diagnosis"} {
		if _, ok := m[k]; !ok {
			t.Errorf("session JSON lacks %q", k)
		}
	}
	tr := m["transcript"].([]any)
	first := tr[0].(map[string]any)
	for _, k := range []string{"t_ms", "dir", "tls", "text"} {
		if _, ok := first[k]; !ok {
			t.Errorf("transcript entry lacks %q", k)
		}
	}
	if tr[3].(map[string]any)["tls"] != true || tr[4].(map[string]any)["dir"] != "recv" {
		t.Errorf("tls/dir wrong: %v", tr)
	}
	res := m["result"].(map[string]any)
	for _, k := range []string{"ok", "exit_code", "phase", "reply"} {
		if _, ok := res[k]; !ok {
			t.Errorf("result lacks %q", k)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMarkdown(&b, sampleReport(), TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"## SMTP probe of mx.test port 25", "### Transcript", "```", "### Diagnosis", "failed at rcpt (exit 24"} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
}

func TestMarkdownFenceOutlastsServerBackticks(t *testing.T) {
	r := sampleReport()
	r.Events = append(r.Events, Event{Dir: Recv, Text: "550 see ```` here"})
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n`````\n") {
		t.Fatalf("fence not longer than the server's backticks:\n%s", b.String())
	}
}

func TestTLSFailureAnnotation(t *testing.T) {
	tests := []struct {
		name string
		r    Report
		want []string
		not  []string
	}{
		{"implicit TLS at connect", Report{Result: Result{ExitCode: 29, Phase: "connect", ExitMeaning: "TLS failed", Error: "TLS handshake at connect (implicit TLS) with mx failed: EOF"}},
			[]string{"*** TLS handshake at connect (implicit TLS) failed (exit 29: TLS failed)"}, []string{"STARTTLS", "failed at CONNECT"}},
		{"after STARTTLS", Report{Result: Result{ExitCode: 29, Phase: "starttls", ExitMeaning: "TLS failed", Error: "TLS handshake with mx failed: EOF"}},
			[]string{"*** TLS handshake after STARTTLS failed (exit 29"}, nil},
		{"fallback then success", Report{TLSFallback: &TLSFallback{Reason: "TLS handshake with mx failed: remote error", ResultType: "validation-failure", Action: "reconnected"}, Result: Result{OK: true, MessageFate: "accepted for delivery"}},
			[]string{"*** TLS finding: STARTTLS was offered but the handshake failed (RFC 8460 validation-failure)", "new connection without STARTTLS", "=== Session succeeded (exit 0)"}, nil},
		{"swaks same connection", Report{TLSFallback: &TLSFallback{Reason: "x", ResultType: "validation-failure", Action: "same-connection"}, Result: Result{ExitCode: 6, Phase: "mail", ExitMeaning: "connection closed unexpectedly"}},
			[]string{"on the same connection (--tls-optional, as swaks does)", "*** Session failed at MAIL (exit 6)"}, nil},
	}
	for _, tc := range tests {
		var b strings.Builder
		if err := WriteAnnotation(&b, &tc.r, TextOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, w := range tc.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: missing %q in\n%s", tc.name, w, b.String())
			}
		}
		for _, n := range tc.not {
			if strings.Contains(b.String(), n) {
				t.Errorf("%s: unexpected %q in\n%s", tc.name, n, b.String())
			}
		}
	}
}

func TestResultTypeIsNullWhenEmpty(t *testing.T) {
	var b strings.Builder
	if err := WriteJSON(&b, &Report{TLS: &TLSInfo{Verified: true}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"result_type": null`) {
		t.Errorf("result_type not null:\n%s", b.String())
	}
	b.Reset()
	_ = WriteJSON(&b, &Report{TLS: &TLSInfo{ResultType: "certificate-expired"}})
	if !strings.Contains(b.String(), `"result_type": "certificate-expired"`) {
		t.Errorf("result_type missing:\n%s", b.String())
	}
}

// Markdown shows the sender checks of a session that succeeded, and a
// backtick run in a check's text cannot close the fence.
func TestMarkdownChecksOnSuccess(t *testing.T) {
	r := &Report{Result: Result{OK: true, MessageFate: "accepted"}, Checks: []sendercheck.Check{
		{Name: "spf", Subject: "example.com", Result: "pass", Detail: "v=spf1 ````weird -all"},
	}}
	var b strings.Builder
	if err := WriteMarkdown(&b, r, TextOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, "### Sender checks") || !strings.Contains(out, "spf") || !strings.Contains(out, "`````\n") {
		t.Errorf("markdown:\n%s", out)
	}
}
