package integration

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestParseReplyText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"empty", "", Reply{}},
		{"single with enhanced", "554 5.7.1 <x@remote.test>: Relay access denied",
			Reply{554, "5.7.1", []string{"554 5.7.1 <x@remote.test>: Relay access denied"}}},
		{"exim without enhanced", "550 relay not permitted",
			Reply{550, "", []string{"550 relay not permitted"}}},
		{"multi-line CRLF", "250-mx.example.test\r\n250 2.0.0 Ok\r\n",
			Reply{250, "", []string{"250-mx.example.test", "250 2.0.0 Ok"}}},
		{"continuation carries enhanced", "550-5.7.1 first\n550 5.7.1 second",
			Reply{550, "5.7.1", []string{"550-5.7.1 first", "550 5.7.1 second"}}},
		{"bare code", "221", Reply{221, "", []string{"221"}}},
		{"no code", "Relay access denied", Reply{0, "", []string{"Relay access denied"}}},
		{"code glued to text is not a code", "550x nope", Reply{0, "", []string{"550x nope"}}},
		{"out of range", "999 nope", Reply{0, "", []string{"999 nope"}}},
		{"enhanced class must match 2/4/5", "550 3.1.1 odd", Reply{550, "", []string{"550 3.1.1 odd"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseReplyText(tt.in)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseReplyText(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseSessionReplyShapes(t *testing.T) {
	tests := []struct {
		name     string
		result   string
		wantCode int
		wantEnh  string
		wantText string
	}{
		{"object", `{"code":554,"enhanced_code":"5.7.1","lines":["554 5.7.1 Relay access denied"]}`,
			554, "5.7.1", "554 5.7.1 Relay access denied"},
		{"object enhanced from text", `{"code":550,"lines":["550 5.1.1 unknown"]}`,
			550, "5.1.1", "550 5.1.1 unknown"},
		{"string", `"250 2.0.0 Ok: queued as 3B95E98CBCA"`,
			250, "2.0.0", "250 2.0.0 Ok: queued as 3B95E98CBCA"},
		{"null", `null`, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := fmt.Sprintf(`{"version":1,"steps":[{"phase":"rcpt","command":"RCPT TO:<x@y>",
				"reply":{"code":554,"enhanced_code":"5.7.1","lines":["554 5.7.1 no"]}}],
				"tls":null,"result":{"ok":false,"exit_code":24,"phase":"rcpt","reply":%s},
				"diagnosis":{"category":"relay-denied","code":554}}`, tt.result)
			s, err := ParseSession([]byte(doc))
			if err != nil {
				t.Fatalf("ParseSession: %v", err)
			}
			r := s.Result.Reply
			if r.Code != tt.wantCode || r.EnhancedCode != tt.wantEnh || r.Text() != tt.wantText {
				t.Errorf("result.reply = %+v, want code %d enhanced %q text %q", r, tt.wantCode, tt.wantEnh, tt.wantText)
			}
			if s.Result.ExitCode != 24 || s.Diagnosis == nil || s.Diagnosis.Category != "relay-denied" {
				t.Errorf("result/diagnosis not decoded: %+v %+v", s.Result, s.Diagnosis)
			}
			if got, ok := s.StepReply("rcpt"); !ok || got.Code != 554 {
				t.Errorf("StepReply(rcpt) = %+v, %v", got, ok)
			}
			if _, ok := s.StepReply("data"); ok {
				t.Errorf("StepReply(data) found a step that does not exist")
			}
		})
	}
}

func TestParseSessionErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"result":{"reply":12}}`, `{"steps":[{"reply":"x"}]}x`} {
		if _, err := ParseSession([]byte(in)); err == nil {
			t.Errorf("ParseSession(%q) succeeded, want error", in)
		}
	}
}

func TestParseEnv(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"typical", "SMTPPROBE_PORT_MX=2525\nSMTPPROBE_IT_PASS=a=b\n",
			map[string]string{"SMTPPROBE_PORT_MX": "2525", "SMTPPROBE_IT_PASS": "a=b"}, false},
		{"comments blanks CRLF", "# servers\r\n\r\nA=1\r\n  # x\nB=\n",
			map[string]string{"A": "1", "B": ""}, false},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}, false},
		{"no equals", "A=1\nbroken\n", nil, true},
		{"bad key", "1A=1\n", nil, true},
		{"empty key", "=1\n", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnv(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseEnv err = %v, wantErr %v", err, tt.wantErr)
			}
			if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseEnv = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseReplyText(f *testing.F) {
	for _, s := range []string{"554 5.7.1 <x>: Relay access denied", "250-a\r\n250 2.0.0 Ok", "550", "", "5", "999 x", "220 \xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := ParseReplyText(s)
		if r.Code != 0 && (r.Code < 100 || r.Code > 599) {
			t.Fatalf("code %d out of range for %q", r.Code, s)
		}
		if r.EnhancedCode != "" && (r.Code == 0 || !enhancedRE.MatchString(r.EnhancedCode)) {
			t.Fatalf("enhanced %q with code %d for %q", r.EnhancedCode, r.Code, s)
		}
		for _, l := range r.Lines {
			if l == "" || strings.Contains(l, "\n") {
				t.Fatalf("bad line %q from %q", l, s)
			}
		}
		// Parsing the parsed lines again is stable.
		if again := ParseReplyText(r.Text()); !reflect.DeepEqual(again, r) {
			t.Fatalf("not idempotent: %+v then %+v", r, again)
		}
	})
}

func FuzzParseSession(f *testing.F) {
	f.Add([]byte(`{"result":{"ok":true,"exit_code":0,"phase":"quit","reply":"221 2.0.0 Bye"},"diagnosis":null}`))
	f.Add([]byte(`{"steps":[{"phase":"rcpt","reply":{"code":554,"lines":["554 5.7.1 x"]}}],"tls":{"version":"TLS1.3"}}`))
	f.Add([]byte(`{"result":{"reply":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSession(data)
		if err != nil {
			return
		}
		// Whatever decoded must encode again: no value the tests later
		// compare is left in a state json cannot represent.
		if _, err := json.Marshal(s); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
	})
}

func FuzzParseEnv(f *testing.F) {
	f.Add("A=1\nB=2\n")
	f.Add("# c\n\nSMTPPROBE_IT_PASS=x=y\r\n")
	f.Add("bad")
	f.Fuzz(func(t *testing.T, in string) {
		env, err := ParseEnv(strings.NewReader(in))
		if err != nil {
			return
		}
		// Writing the map back out and parsing it again gives the same map,
		// unless a value holds a line break (which servers.sh never writes).
		keys := make([]string, 0, len(env))
		for k, v := range env {
			if strings.ContainsAny(v, "\r\n") {
				return
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			b.WriteString(k + "=" + env[k] + "\n")
		}
		again, err := ParseEnv(strings.NewReader(b.String()))
		if err != nil {
			t.Fatalf("reparse %q: %v", b.String(), err)
		}
		if !reflect.DeepEqual(env, again) {
			t.Fatalf("round trip: %v then %v", env, again)
		}
	})
}
