//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
	"github.com/smtpprobe/smtpprobe/transcript/schematest"
)

func validateOutput(t *testing.T, sch *jsonschema.Schema, out []byte) {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, out)
	}
	if err := sch.Validate(v); err != nil {
		t.Errorf("the output does not match its schema: %v\n%s", err, out)
	}
}

// The session JSON of real sessions with Postfix, Exim, chasquid,
// OpenSMTPD and Sendmail matches transcript/session.schema.json:
// deliveries, refusals at every phase, TLS, AUTH, sender checks and the
// all-MX matrix.
func TestSchemaRealSessions(t *testing.T) {
	s := need(t)
	sch, _ := schematest.Compile(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	auth := func(mech, pw string) []string {
		return []string{"--auth=" + mech, "--auth-user", user, "--auth-password", pw}
	}
	ca := []string{"--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT"), "--tls-sni", "mx.example.test"}
	listed := dnstest.Start(t, dnstest.Zone{
		"3.0.0.127.zen.spamhaus.org.": {A: []string{"127.0.0.2"}, TXT: []string{"https://check.spamhaus.org/query/ip/127.0.0.3"}},
		"example.org.":                {TXT: []string{"v=spf1 -all"}},
		"_dmarc.example.org.":         {TXT: []string{"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"}},
	})
	notListed := dnstest.Start(t, dnstest.Zone{"example.org.": {TXT: []string{"v=spf1 -all"}}})
	tests := []struct {
		name string
		port string
		args []string
	}{
		// Postfix.
		{"postfix delivery", "SMTPPROBE_PORT_MX", []string{"--to", user, "--from", sender}},
		{"postfix delivery over STARTTLS, verified", "SMTPPROBE_PORT_MX", append([]string{"--to", user, "--from", sender, "--tls", "--tls-verify"}, ca...)},
		{"postfix STARTTLS, unverified", "SMTPPROBE_PORT_MX", []string{"--to", user, "--from", sender, "--tls", "--tls-verify"}},
		{"postfix relay denied", "SMTPPROBE_PORT_MX", []string{"--to", "someone@remote.test", "--from", sender}},
		{"postfix unknown user", "SMTPPROBE_PORT_MX", []string{"--to", "nobody@example.test", "--from", sender}},
		{"postfix quit after rcpt", "SMTPPROBE_PORT_MX", []string{"--to", user, "--from", sender, "--quit-after", "rcpt"}},
		{"postfix submission AUTH", "SMTPPROBE_PORT_SUBMISSION", append([]string{"--to", "friend@remote.test", "--from", user, "--tls"}, auth("PLAIN", pass)...)},
		{"postfix wrong password", "SMTPPROBE_PORT_SUBMISSION", append([]string{"--to", "friend@remote.test", "--from", user, "--tls"}, auth("LOGIN", "not-"+pass)...)},
		{"postfix TLS required", "SMTPPROBE_PORT_SUBMISSION", []string{"--to", "friend@remote.test", "--from", user, "--no-tls"}},
		{"postfix implicit TLS", "SMTPPROBE_PORT_IMPLICIT", append([]string{"--to", user, "--from", user, "--tls-on-connect"}, auth("PLAIN", pass)...)},
		{"postfix 554 banner", "SMTPPROBE_PORT_BANNER554", []string{"--to", user, "--from", sender}},
		{"postfix content refused", "SMTPPROBE_PORT_CONTENT", []string{"--to", user, "--from", sender}},
		{"postfix RBL refusal, listed", "SMTPPROBE_PORT_RBL", []string{"--to", user, "--from", "probe@example.org", "--local-interface", "127.0.0.3", "--dns-server", listed}},
		{"postfix RBL refusal, not listed", "SMTPPROBE_PORT_RBL", []string{"--to", user, "--from", "probe@example.org", "--local-interface", "127.0.0.3", "--dns-server", notListed}},
		{"postfix check-sender on success", "SMTPPROBE_PORT_MX", []string{"--to", user, "--from", "probe@example.org", "--dns-server", listed, "--check-sender"}},
		{"postfix all-mx", "SMTPPROBE_PORT_MX", []string{"--to", user, "--from", sender, "--all-mx"}},
		// Exim.
		{"exim delivery", "SMTPPROBE_PORT_EXIM", []string{"--to", user, "--from", sender}},
		{"exim relay denied", "SMTPPROBE_PORT_EXIM", []string{"--to", "someone@remote.test", "--from", sender}},
		{"exim STARTTLS AUTH", "SMTPPROBE_PORT_EXIM", append([]string{"--to", "friend@remote.test", "--from", user, "--tls"}, auth("PLAIN", pass)...)},
		{"exim no service", "SMTPPROBE_PORT_EXIM_NOSERVICE", []string{"--to", user, "--from", sender}},
		// chasquid.
		{"chasquid delivery", "SMTPPROBE_PORT_CHASQUID", []string{"--to", user, "--from", sender}},
		{"chasquid relay refused", "SMTPPROBE_PORT_CHASQUID", []string{"--to", "someone@remote.test", "--from", sender}},
		{"chasquid submission", "SMTPPROBE_PORT_CHASQUID_SUBMISSION", append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", pass)...)},
		{"chasquid implicit TLS", "SMTPPROBE_PORT_CHASQUID_TLS", append(append([]string{"--to", user, "--from", user, "--tls-on-connect", "--tls-verify"}, ca...), auth("PLAIN", pass)...)},
		// OpenSMTPD.
		{"opensmtpd delivery over STARTTLS", "SMTPPROBE_PORT_OPENSMTPD", []string{"--to", user, "--from", sender, "--tls"}},
		{"opensmtpd relay refused", "SMTPPROBE_PORT_OPENSMTPD", []string{"--to", "someone@remote.test", "--from", sender}},
		{"opensmtpd implicit TLS", "SMTPPROBE_PORT_OPENSMTPD_SMTPS", []string{"--to", user, "--from", sender, "--tls-on-connect"}},
		// Sendmail.
		{"sendmail delivery", "SMTPPROBE_PORT_SENDMAIL", []string{"--to", user, "--from", sender}},
		{"sendmail relay refused", "SMTPPROBE_PORT_SENDMAIL", []string{"--to", "someone@remote.test", "--from", sender}},
		{"sendmail unknown user", "SMTPPROBE_PORT_SENDMAIL", []string{"--to", "nobody@example.test", "--from", sender}},
		{"sendmail STARTTLS verified", "SMTPPROBE_PORT_SENDMAIL", append([]string{"--to", user, "--from", sender, "--tls", "--tls-verify"}, ca...)},
		{"sendmail submission AUTH", "SMTPPROBE_PORT_SENDMAIL_SUBMISSION", append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", pass)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.runProbe(t, tt.port, tt.args...)
			validateOutput(t, sch, r.stdout)
		})
	}
}

// relay-check --json against the real servers matches
// relaycheck/relaycheck.schema.json, its sessions included.
func TestSchemaRealRelayCheck(t *testing.T) {
	s := need(t)
	_, sch := schematest.Compile(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	creds := []string{"--auth-user", user, "--auth-password", pass}
	common := []string{"--domain", "example.test", "--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT"), "--tls-sni", "mx.example.test"}
	tests := []struct {
		name string
		port string
		args []string
	}{
		{"postfix MX", "SMTPPROBE_PORT_MX", []string{"--role", "mx"}},
		{"postfix open relay", "SMTPPROBE_PORT_OPENRELAY", []string{"--role", "mx"}},
		{"postfix AUTH in clear", "SMTPPROBE_PORT_AUTHNOTLS", append([]string{"--role", "mx"}, creds...)},
		{"postfix submission", "SMTPPROBE_PORT_SUBMISSION", append([]string{"--role", "submission", "--tls"}, creds...)},
		{"postfix 554 banner", "SMTPPROBE_PORT_BANNER554", []string{"--role", "mx"}},
		{"exim MX", "SMTPPROBE_PORT_EXIM", []string{"--role", "mx"}},
		{"chasquid MX", "SMTPPROBE_PORT_CHASQUID", []string{"--role", "mx", "--to", user}},
		{"opensmtpd MX", "SMTPPROBE_PORT_OPENSMTPD", []string{"--role", "mx", "--to", user}},
		{"sendmail MX", "SMTPPROBE_PORT_SENDMAIL", []string{"--role", "mx", "--to", user}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full := append([]string{"relay-check", "--server", s.get(t, "SMTPPROBE_IT_HOST"), "--port", s.get(t, tt.port), "--json"}, append(append([]string{}, common...), tt.args...)...)
			ctx, cancel := context.WithTimeout(context.Background(), 2*probeTimeout)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, s.probe, full...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				var exitErr *exec.ExitError
				if !errors.As(err, &exitErr) {
					t.Fatalf("probe %s: %v\n%s", strings.Join(full, " "), err, stderr.Bytes())
				}
			}
			validateOutput(t, sch, stdout.Bytes())
			var rep struct {
				Sessions []struct {
					Session json.RawMessage `json:"session"`
				} `json:"sessions"`
			}
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || len(rep.Sessions) == 0 {
				t.Errorf("no sessions in the report (%v)", err)
			}
		})
	}
}
