package explain

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// fakeEngine stands in for the diagnose engine: it classifies by a few
// keywords and records what it was asked.
type fakeEngine struct{ inputs []diagnose.Input }

func (e *fakeEngine) Diagnose(in diagnose.Input) diagnose.Diagnosis {
	e.inputs = append(e.inputs, in)
	reply := strings.Join(in.Lines, "\n")
	d := diagnose.Diagnosis{Reply: reply, Phase: in.Phase, Category: "unknown", Party: diagnose.PartyUnknown,
		Meaning: "fake meaning", NextSteps: []string{"fake step"}, Confidence: 0.5, Evidence: []string{"fake"}}
	if code, _, ok := replyCode(reply); ok {
		d.Code, _ = strconv.Atoi(code)
		d.Permanent = code[0] == '5'
		if n := enhancedAt(reply[4:]); n > 0 {
			d.EnhancedCode = reply[4 : 4+n]
		}
	}
	switch {
	case strings.Contains(reply, "Relay access denied"), strings.Contains(reply, "Relaying denied"):
		d.Category, d.Party = "relay-denied", diagnose.PartySender
	case strings.Contains(reply, "User unknown"), strings.Contains(reply, "does not exist"):
		d.Category, d.Party = "recipient-unknown", diagnose.PartyRecipient
	}
	return d
}

func fakeText(w io.Writer, d diagnose.Diagnosis) error {
	_, err := fmt.Fprintf(w, "[%s %s] %s\n", d.Category, d.Phase, strings.ReplaceAll(d.Reply, "\n", " / "))
	return err
}

type runResult struct {
	code           int
	stdout, stderr string
	engine         *fakeEngine
}

func run(ctx context.Context, opts Options, args []string, stdin string) runResult {
	eng := &fakeEngine{}
	opts.Diagnoser = eng
	opts.WriteText = fakeText
	var out, errb bytes.Buffer
	code := Run(ctx, opts, args, strings.NewReader(stdin), &out, &errb)
	return runResult{code: code, stdout: out.String(), stderr: errb.String(), engine: eng}
}

const postfixSample = `Jan 15 10:00:01 mail postfix/smtpd[2211]: connect from client.example.net[198.51.100.7]
Jan 15 10:00:03 mail postfix/smtp[3321]: 4F2A91C0A3B: to=<bob@example.com>, relay=mx1.example.com[203.0.113.10]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.7.1, status=bounced (host mx1.example.com[203.0.113.10] said: 554 5.7.1 <bob@example.com>: Relay access denied (in reply to RCPT TO command))
Jan 15 10:00:14 mail postfix/smtp[3329]: D29DAEBFC0: to=<judy@example.com>, relay=mx1.example.com[203.0.113.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 12345)
Jan 15 10:00:19 mail postfix/smtp[3332]: 05C0D1E2F3: to=<max@example.com>, relay=mx1.example.com[203.0.113.10]:25, delay=1, delays=0/0/0/1, dsn=5.1.1, status=bounced (host mx1.example.com[203.0.113.10] said: 550 5.1.1 <max@example.com>: User unknown (in reply to RCPT TO command))
`

func TestRunArguments(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		args      []string
		wantCode  int
		wantLines []string
		wantPhase string
		wantOut   string // substring of stdout
		wantErr   string // substring of stderr
	}{
		{name: "single reply text", args: []string{"554 5.7.1 <x@y>: Relay access denied"},
			wantLines: []string{"554 5.7.1 <x@y>: Relay access denied"}, wantPhase: "any",
			wantOut: "[relay-denied any] 554 5.7.1 <x@y>: Relay access denied\n"},
		{name: "multi-line reply as lines", opts: Options{Phase: "rcpt"},
			args:      []string{"550-5.1.1 The email account that you tried to reach does not exist.", "550 5.1.1 Please try again - gsmtp"},
			wantLines: []string{"550-5.1.1 The email account that you tried to reach does not exist.", "550 5.1.1 Please try again - gsmtp"},
			wantPhase: "rcpt", wantOut: "[recipient-unknown rcpt]"},
		{name: "one argument with embedded newlines and markers", args: []string{"<** 550-5.7.1 first\r\n<** 550 5.7.1 second"},
			wantLines: []string{"550-5.7.1 first", "550 5.7.1 second"}, wantPhase: "any"},
		{name: "postfix log line as argument keeps its phase", opts: Options{Phase: "mail"},
			args:      []string{"Jan 15 10:00:03 mail postfix/smtp[3321]: 4F2A91C0A3B: to=<bob@example.com>, relay=mx1.example.com[203.0.113.10]:25, dsn=5.7.1, status=bounced (host mx1.example.com[203.0.113.10] said: 554 5.7.1 <bob@example.com>: Relay access denied (in reply to RCPT TO command))"},
			wantLines: []string{"554 5.7.1 <bob@example.com>: Relay access denied"}, wantPhase: "rcpt",
			wantOut: "--- line 1, argument/postfix-log, mx1.example.com[203.0.113.10], rcpt <bob@example.com>, bounced ---"},
		{name: "text without code is still one reply", args: []string{"Relay access denied"},
			wantLines: []string{"Relay access denied"}, wantPhase: "any"},
		{name: "bad phase", opts: Options{Phase: "helo-world"}, args: []string{"554 x"}, wantCode: 1,
			wantErr: `invalid --phase "helo-world"`},
		{name: "blank arguments", args: []string{" ", ""}, wantCode: 1, wantErr: "no SMTP reply found in input"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(context.Background(), tt.opts, tt.args, "")
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if tt.wantErr != "" && !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantErr)
			}
			if tt.wantOut != "" && !strings.Contains(r.stdout, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", r.stdout, tt.wantOut)
			}
			if tt.wantLines == nil {
				return
			}
			if len(r.engine.inputs) != 1 {
				t.Fatalf("engine called %d times, want 1", len(r.engine.inputs))
			}
			in := r.engine.inputs[0]
			if strings.Join(in.Lines, "\n") != strings.Join(tt.wantLines, "\n") {
				t.Errorf("lines %q, want %q", in.Lines, tt.wantLines)
			}
			if in.Phase != tt.wantPhase {
				t.Errorf("phase %q, want %q", in.Phase, tt.wantPhase)
			}
		})
	}
}

func TestRunJSONSingleObject(t *testing.T) {
	r := run(context.Background(), Options{JSON: true, Phase: "rcpt"}, []string{"554 5.7.1 <x@y>: Relay access denied"}, "")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &obj); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, r.stdout)
	}
	for _, k := range []string{"reply", "code", "enhanced_code", "phase", "phase_inferred", "category", "permanent",
		"party", "meaning", "next_steps", "confidence", "evidence"} {
		if _, ok := obj[k]; !ok {
			t.Errorf("key %q missing in %s", k, r.stdout)
		}
	}
	if obj["code"] != float64(554) || obj["enhanced_code"] != "5.7.1" || obj["phase"] != "rcpt" || obj["category"] != "relay-denied" {
		t.Errorf("unexpected values: %v", obj)
	}
	if _, ok := obj["source"]; ok {
		t.Errorf("a plain argument should give the plain contract object, got source in %s", r.stdout)
	}
}

func TestRunStdinJSONLines(t *testing.T) {
	r := run(context.Background(), Options{JSON: true}, nil, postfixSample)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	var recs []map[string]any
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q is not JSON: %v", sc.Text(), err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d JSON lines, want 2:\n%s", len(recs), r.stdout)
	}
	want := []struct {
		line      float64
		rcpt, cat string
	}{{2, "bob@example.com", "relay-denied"}, {4, "max@example.com", "recipient-unknown"}}
	for i, w := range want {
		m := recs[i]
		if m["line"] != w.line || m["recipient"] != w.rcpt || m["category"] != w.cat || m["found_in"] != SourcePostfix ||
			m["phase"] != "rcpt" || m["remote_host"] != "mx1.example.com" || m["remote_ip"] != "203.0.113.10" {
			t.Errorf("record %d = %v", i, m)
		}
	}
}

func TestRunStdinText(t *testing.T) {
	r := run(context.Background(), Options{}, nil, postfixSample)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "--- line 2, postfix-log, mx1.example.com[203.0.113.10], rcpt <bob@example.com>, bounced ---\n" +
		"[relay-denied rcpt] 554 5.7.1 <bob@example.com>: Relay access denied\n" +
		"\n--- line 4, postfix-log, mx1.example.com[203.0.113.10], rcpt <max@example.com>, bounced ---\n" +
		"[recipient-unknown rcpt] 550 5.1.1 <max@example.com>: User unknown\n"
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
}

func TestRunStdinCases(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		stdin    string
		wantCode int
		wantOut  string
		wantErr  string
		phases   []string // phases given to the engine, in order
	}{
		{name: "empty input", stdin: "", wantCode: 1, wantErr: "no SMTP reply found in input"},
		{name: "only successes", stdin: "220 mx ESMTP\n250 2.0.0 Ok\n", wantCode: 1, wantErr: "no SMTP reply found in input"},
		{name: "phase flag fills in unknown phases only", opts: Options{Phase: "data"},
			stdin:  "554 5.7.1 raw reply\n" + postfixSample,
			phases: []string{"data", "rcpt", "rcpt"}},
		{name: "summary of a clean log", opts: Options{Summary: true},
			stdin:   "Jan 15 mail postfix/smtp[1]: X: to=<a@b>, relay=c[1.2.3.4]:25, dsn=2.0.0, status=sent (250 ok)\n",
			wantOut: "Scanned 1 lines: 0 refusals explained"},
		{name: "summary of nothing", opts: Options{Summary: true}, stdin: "", wantCode: 1, wantErr: "no SMTP reply"},
		{name: "summary text", opts: Options{Summary: true}, stdin: postfixSample,
			wantOut: "By remote host (top):\n         2  100.0%  mx1.example.com[203.0.113.10]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(context.Background(), tt.opts, nil, tt.stdin)
			if r.code != tt.wantCode {
				t.Fatalf("exit %d, want %d (stderr %q)", r.code, tt.wantCode, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.wantOut) {
				t.Errorf("stdout %q lacks %q", r.stdout, tt.wantOut)
			}
			if !strings.Contains(r.stderr, tt.wantErr) {
				t.Errorf("stderr %q lacks %q", r.stderr, tt.wantErr)
			}
			if tt.phases != nil {
				var got []string
				for _, in := range r.engine.inputs {
					got = append(got, in.Phase)
				}
				if strings.Join(got, ",") != strings.Join(tt.phases, ",") {
					t.Errorf("phases %v, want %v", got, tt.phases)
				}
			}
		})
	}
}

func TestRunSummaryJSON(t *testing.T) {
	r := run(context.Background(), Options{Summary: true, JSON: true}, nil, postfixSample+postfixSample)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep SummaryReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, r.stdout)
	}
	if rep.Lines != 8 || rep.Findings != 4 || rep.Permanent != 4 {
		t.Errorf("totals %+v", rep)
	}
	if len(rep.ByCategory) != 2 || rep.ByCategory[0].Count != 2 {
		t.Errorf("by category %+v", rep.ByCategory)
	}
	// Two recipients refused with the same words count as one reason.
	if len(rep.TopReasons) != 2 || rep.TopReasons[0].Count != 2 {
		t.Errorf("top reasons %+v", rep.TopReasons)
	}
	if !strings.Contains(rep.TopReasons[0].Reason, "<address>") {
		t.Errorf("reason not normalised: %q", rep.TopReasons[0].Reason)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := run(ctx, Options{}, nil, postfixSample)
	if r.code != 1 || !strings.Contains(r.stderr, "interrupted") {
		t.Errorf("exit %d stderr %q, want 1 and interrupted", r.code, r.stderr)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestRunWriteError(t *testing.T) {
	var errb bytes.Buffer
	code := Run(context.Background(), Options{JSON: true, Diagnoser: &fakeEngine{}}, nil,
		strings.NewReader(postfixSample), failWriter{}, &errb)
	if code != 1 || !strings.Contains(errb.String(), "broken pipe") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

func TestRunMisconfigured(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Run(context.Background(), Options{}, []string{"554 x"}, nil, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "no diagnosis engine") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := Run(context.Background(), Options{Diagnoser: &fakeEngine{}}, []string{"554 x"}, nil, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "no text renderer") {
		t.Errorf("exit %d stderr %q", code, errb.String())
	}
}

func TestValidatePhase(t *testing.T) {
	for _, p := range append(ValidPhases(), "") {
		if err := ValidatePhase(p); err != nil {
			t.Errorf("ValidatePhase(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"RCPT", "rcpt ", "eod", "end_of_data"} {
		if err := ValidatePhase(p); err == nil {
			t.Errorf("ValidatePhase(%q) accepted", p)
		}
	}
}

// TestJSONHasNoDuplicateKeys runs the real engine, whose diagnoses carry a
// "source" of their own, over every sample input.
func TestJSONHasNoDuplicateKeys(t *testing.T) {
	eng, err := diagnose.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"testdata/postfix.log", "testdata/exim.log", "testdata/dsn-fields.txt", "testdata/postfix-bounce.eml"} {
		in, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := Run(context.Background(), Options{JSON: true, Diagnoser: eng}, nil, bytes.NewReader(in), &out, &errb); code != 0 {
			t.Fatalf("%s: exit %d %s", name, code, errb.String())
		}
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			dec := json.NewDecoder(strings.NewReader(line))
			seen := map[string]bool{}
			depth := 0
			for {
				tok, err := dec.Token()
				if err != nil {
					break
				}
				switch v := tok.(type) {
				case json.Delim:
					if v == '{' || v == '[' {
						depth++
					} else {
						depth--
					}
				case string:
					if depth == 1 && dec.More() {
						// A key at the top level is followed by its value.
						if seen[v] {
							t.Fatalf("%s: duplicate key %q in %s", name, v, line)
						}
						seen[v] = true
						var skip json.RawMessage
						if err := dec.Decode(&skip); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if !seen["found_in"] {
				t.Fatalf("%s: no found_in: %s", name, line)
			}
		}
	}
}

func TestSummaryPermanence(t *testing.T) {
	eng, err := diagnose.New()
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Join([]string{
		"2024-01-15 10:00:02 1rP3xY-0001Ab-Cd ** eve@example.com: Unrouteable address",
		"2024-01-15 10:00:03 1rP3xY-0001Ab-Ce == bob@example.net R=dnslookup T=remote_smtp defer (-44) H=mx.example.net [192.0.2.25]: SMTP error from remote mail server after RCPT TO:<bob@example.net>: 451 4.7.1 Greylisted",
		"Jan 15 10:00:14 mail postfix/smtp[3329]: D29DAEBFC0: to=<judy@example.com>, relay=mx1.example.com[203.0.113.10]:25, delay=1, dsn=5.1.1, status=bounced (host mx1.example.com[203.0.113.10] said: 550 5.1.1 <judy@example.com>: User unknown (in reply to RCPT TO command))",
	}, "\n") + "\n"
	var out, errb bytes.Buffer
	if code := Run(context.Background(), Options{Summary: true, JSON: true, Diagnoser: eng}, nil, strings.NewReader(log), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var r struct{ Permanent, Temporary, Undetermined int }
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	if r.Permanent != 2 || r.Temporary != 1 || r.Undetermined != 0 {
		t.Fatalf("permanent %d temporary %d undetermined %d, want 2 1 0 (Exim ** is final)\n%s", r.Permanent, r.Temporary, r.Undetermined, out.String())
	}
}
