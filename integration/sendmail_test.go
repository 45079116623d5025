//go:build integration

package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Sendmail 8.17 (sendmail.sh, started by servers.sh): an MX port (STARTTLS,
// no AUTH), a submission port (AUTH PLAIN/LOGIN through Cyrus SASL's
// sasldb, offered only inside STARTTLS, required for any mail) and the same
// submission over implicit TLS. Local mail
// is written one file per message under SMTPPROBE_IT_SENDMAIL_MAIL/USER/,
// mail for other domains under SMTPPROBE_IT_SENDMAIL_RELAYED/ADDRESS/ by a
// catch-all mailertable entry: nothing leaves the machine.

const (
	smMX      = "SMTPPROBE_PORT_SENDMAIL"
	smSub     = "SMTPPROBE_PORT_SENDMAIL_SUBMISSION"
	smTLS     = "SMTPPROBE_PORT_SENDMAIL_TLS"
	smMail    = "SMTPPROBE_IT_SENDMAIL_MAIL"
	smRelayed = "SMTPPROBE_IT_SENDMAIL_RELAYED"
)

var (
	sendmailOnce sync.Once
	sendmailSkip string // non-empty: why the Sendmail tests skip (outside CI only)
	sendmailErr  error
)

// needSendmail returns the suite once Sendmail answers. servers.sh starts
// it; when the servers were started before Sendmail was part of them (or
// it was not unpacked then), sendmail.sh start is run here, once, and the
// daemon is left running for `servers.sh stop`. Outside CI a Sendmail that
// is not unpacked is a skip; under CI=true sendmail.sh installs it and any
// failure is a failure.
func needSendmail(t *testing.T) *suite {
	t.Helper()
	s := need(t)
	sendmailOnce.Do(func() {
		host := s.env["SMTPPROBE_IT_HOST"]
		ports := []string{s.env[smMX], s.env[smSub], s.env[smTLS]}
		script := s.env["SMTPPROBE_IT_SENDMAIL_SCRIPT"]
		if slices.Contains(ports, "") || script == "" {
			sendmailErr = fmt.Errorf("servers.sh env lists no Sendmail ports: is sendmail.sh hooked into servers.sh?")
			return
		}
		up := func() bool {
			for _, p := range ports {
				c, err := net.DialTimeout("tcp", net.JoinHostPort(host, p), time.Second)
				if err != nil {
					return false
				}
				c.Close()
			}
			return true
		}
		if up() {
			return
		}
		start := time.Now()
		out, err := run(2*time.Minute, "bash", script, "start")
		if err != nil {
			sendmailErr = fmt.Errorf("sendmail.sh start: %v\n%s", err, out)
			return
		}
		if !up() {
			if os.Getenv("CI") == "true" {
				sendmailErr = fmt.Errorf("Sendmail is not listening after sendmail.sh start:\n%s", out)
			} else {
				sendmailSkip = "Sendmail not running (run `sudo integration/sendmail.sh install --yes`, or set CI=true):\n" + string(out)
			}
			return
		}
		t.Logf("started Sendmail in %v (left running for servers.sh stop)", time.Since(start).Round(time.Millisecond))
	})
	if sendmailErr != nil {
		t.Fatal(sendmailErr)
	}
	if sendmailSkip != "" {
		t.Skip(sendmailSkip)
	}
	return s
}

// sendmailQueueID checks that the probe took Sendmail's queue ID out of
// "250 2.0.0 6B81JdsA015121 Message accepted for delivery".
func sendmailQueueID(t *testing.T, r probeRun) {
	t.Helper()
	var out struct {
		Result struct {
			QueueID string `json:"queue_id"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.stdout, &out); err != nil {
		t.Fatalf("session JSON: %v", err)
	}
	eod, _ := r.session.StepReply("end-of-data")
	m := regexp.MustCompile(`^250 2\.0\.0 (\S+) Message accepted for delivery$`).FindStringSubmatch(eod.Text())
	if m == nil {
		t.Fatalf("reply after the dot %q is not Sendmail's", eod.Text())
	}
	if out.Result.QueueID != m[1] {
		t.Errorf("result.queue_id %q, want %q from %q", out.Result.QueueID, m[1], eod.Text())
	}
}

// sendmailDelivered checks the delivered file for Sendmail's own Received
// line: the message went through this Sendmail and its local mailer.
func sendmailDelivered(root string) func(t *testing.T, r probeRun) {
	return func(t *testing.T, r probeRun) {
		t.Helper()
		var id string
		for _, a := range r.session.Command {
			if v, ok := strings.CutPrefix(a, "Message-ID: "); ok {
				id = v
			}
		}
		if id == "" {
			t.Fatalf("no Message-ID header in the command %q", r.session.Command)
		}
		path := waitMailbox(t, root, id)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`(?m)^\s+by sendmail\.example\.test \(8\.17\.[0-9.]+/8\.17\.[0-9.]+\) with ESMTPS?A? id `).Match(data) {
			t.Errorf("%s has no Received line from Sendmail 8.17:\n%s", path, data)
		}
	}
}

func TestSendmailSessions(t *testing.T) {
	s := needSendmail(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	auth := func(mech, pw string) []string {
		return []string{"--auth=" + mech, "--auth-user", user, "--auth-password", pw}
	}
	ca := []string{"--tls-sni", "mx.example.test", "--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT")}
	mail, relayed := s.get(t, smMail), s.get(t, smRelayed)
	localUser := strings.SplitN(user, "@", 2)[0]
	accepted := `^250 2\.0\.0 \S+ Message accepted for delivery$`
	tests := []mtaCase{
		{
			// Port 2720 is neither 465 nor 587: STARTTLS when offered.
			name:    "mx delivers to the mailbox over STARTTLS by default",
			port:    smMX,
			args:    []string{"--to", user, "--from", sender},
			want:    want{exit: 0, code: 250, enhanced: "2.0.0", replyMatch: accepted, tls: true},
			mailbox: smMail,
			check: func(t *testing.T, r probeRun) {
				sendmailQueueID(t, r)
				sendmailDelivered(filepath.Join(mail, localUser))(t, r)
			},
		},
		{
			name:    "mx delivers to the mailbox in clear",
			port:    smMX,
			args:    []string{"--to", user, "--from", sender, "--no-tls"},
			want:    want{exit: 0, code: 250, enhanced: "2.0.0", replyMatch: accepted},
			mailbox: smMail,
			check:   sendmailQueueID,
		},
		{
			name:    "mx postmaster has a mailbox",
			port:    smMX,
			args:    []string{"--to", "postmaster@example.test", "--from", sender},
			want:    want{exit: 0, code: 250},
			mailbox: smMail,
			check:   sendmailDelivered(filepath.Join(mail, "postmaster")),
		},
		{
			name: "mx refuses relay",
			port: smMX,
			args: []string{"--to", "someone@remote.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "5.7.1", categories: []string{"relay-denied"},
				replyMatch: `^550 5\.7\.1 <someone@remote\.test>\.\.\. Relaying denied\. Proper authentication required\.$`},
		},
		{
			name: "mx unknown local user",
			port: smMX,
			args: []string{"--to", "nobody@example.test", "--from", sender},
			want: want{exit: 24, phase: "rcpt", code: 550, enhanced: "5.1.1", categories: []string{"recipient-unknown"},
				replyMatch: `^550 5\.1\.1 <nobody@example\.test>\.\.\. User unknown$`},
		},
		{
			name: "mx quit after rcpt",
			port: smMX,
			args: []string{"--to", user, "--from", sender, "--quit-after", "rcpt"},
			want: want{exit: 0},
		},
		{
			name: "mx STARTTLS verifies against the test CA",
			port: smMX,
			args: append([]string{"--to", user, "--from", sender, "--tls", "--tls-verify"}, ca...),
			want: want{exit: 0, code: 250, tls: true},
			check: func(t *testing.T, r probeRun) {
				if r.session.TLS == nil || !r.session.TLS.Verified {
					t.Errorf("tls.verified is not true: %+v", r.session.TLS)
				}
			},
		},
		{
			name: "mx --tls-verify fails on an unknown CA",
			port: smMX,
			args: []string{"--to", user, "--from", sender, "--tls", "--tls-verify"},
			want: want{exit: 29, phase: "starttls"},
		},
		{
			// M=A on this port: no AUTH at all, even inside TLS.
			name: "mx offers no AUTH",
			port: smMX,
			args: append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", pass)...),
			want: want{exit: 28, phase: "auth", categories: []string{"auth-failed"}, tls: true},
			check: func(t *testing.T, r probeRun) {
				if sentInClear(r, "AUTH") {
					t.Errorf("the probe sent AUTH without TLS")
				}
			},
		},
		{
			name:    "submission STARTTLS and AUTH PLAIN deliver to the mailbox",
			port:    smSub,
			args:    append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", pass)...),
			want:    want{exit: 0, code: 250, enhanced: "2.0.0", replyMatch: accepted, tls: true},
			mailbox: smMail,
			check:   sendmailDelivered(filepath.Join(mail, localUser)),
		},
		{
			// The relayed message is filed on this machine by the
			// catch-all mailertable entry.
			name:    "submission STARTTLS and AUTH LOGIN relay, and the message stays here",
			port:    smSub,
			args:    append([]string{"--to", "friend@remote.test", "--from", user, "--tls"}, auth("LOGIN", pass)...),
			want:    want{exit: 0, code: 250, replyMatch: accepted, tls: true},
			mailbox: smRelayed,
			check:   sendmailDelivered(filepath.Join(relayed, "friend@remote.test")),
		},
		{
			name: "submission verifies against the test CA",
			port: smSub,
			args: append(append([]string{"--to", user, "--from", user, "--tls", "--tls-verify"}, ca...), auth("PLAIN", pass)...),
			want: want{exit: 0, code: 250, tls: true},
		},
		{
			name: "submission wrong password",
			port: smSub,
			args: append([]string{"--to", user, "--from", user, "--tls"}, auth("PLAIN", "not-"+pass)...),
			want: want{exit: 28, phase: "auth", code: 535, enhanced: "5.7.0", categories: []string{"auth-failed"},
				replyMatch: `^535 5\.7\.0 authentication failed$`, tls: true},
		},
		{
			name: "submission wrong password with LOGIN",
			port: smSub,
			args: append([]string{"--to", user, "--from", user, "--tls"}, auth("LOGIN", "not-"+pass)...),
			want: want{exit: 28, phase: "auth", code: 535, categories: []string{"auth-failed"}, tls: true},
		},
		{
			// M=a: no transaction at all without AUTH.
			name: "submission refuses mail without AUTH",
			port: smSub,
			args: []string{"--to", user, "--from", sender, "--tls"},
			want: want{exit: 23, phase: "mail", code: 530, enhanced: "5.7.0", categories: []string{"auth-required"},
				replyMatch: `^530 5\.7\.0 Authentication required$`, tls: true},
		},
		{
			// In clear the same 530 is read as "TLS first", since AUTH
			// is not even offered before STARTTLS.
			name: "submission refuses mail in clear without AUTH",
			port: smSub,
			args: []string{"--to", user, "--from", sender, "--no-tls"},
			want: want{exit: 23, phase: "mail", code: 530, enhanced: "5.7.0",
				categories: []string{"auth-required", "tls-required"}, replyMatch: `^530 5\.7\.0 Authentication required$`},
		},
		{
			name:    "implicit TLS with AUTH delivers to the mailbox",
			port:    smTLS,
			args:    append([]string{"--to", user, "--from", user, "--tls-on-connect"}, auth("PLAIN", pass)...),
			want:    want{exit: 0, code: 250, enhanced: "2.0.0", replyMatch: accepted, tls: true},
			mailbox: smMail,
			check:   sendmailQueueID,
		},
		{
			name: "implicit TLS verifies against the test CA",
			port: smTLS,
			args: append(append([]string{"--to", "friend@remote.test", "--from", user, "--tls-on-connect", "--tls-verify"}, ca...), auth("LOGIN", pass)...),
			want: want{exit: 0, code: 250, tls: true},
		},
		{
			name: "implicit TLS: --tls-verify fails on an unknown CA",
			port: smTLS,
			args: []string{"--to", user, "--from", user, "--tls-on-connect", "--tls-verify"},
			want: want{exit: 29},
		},
		{
			name: "implicit TLS refuses mail without AUTH",
			port: smTLS,
			args: []string{"--to", user, "--from", sender, "--tls-on-connect"},
			want: want{exit: 23, phase: "mail", code: 530, enhanced: "5.7.0", categories: []string{"auth-required"},
				replyMatch: `^530 5\.7\.0 Authentication required$`, tls: true},
		},
		{
			name: "implicit TLS wrong password",
			port: smTLS,
			args: append([]string{"--to", user, "--from", user, "--tls-on-connect"}, auth("PLAIN", "not-"+pass)...),
			want: want{exit: 28, phase: "auth", code: 535, enhanced: "5.7.0", categories: []string{"auth-failed"}, tls: true},
		},
		{
			// AuthOptions=p: no AUTH before TLS; the probe sends none.
			name: "submission without TLS: no AUTH is sent",
			port: smSub,
			args: append([]string{"--to", user, "--from", user, "--no-tls"}, auth("PLAIN", pass)...),
			want: want{exit: 28, phase: "auth"},
			check: func(t *testing.T, r probeRun) {
				if sentInClear(r, "AUTH") {
					t.Errorf("the probe sent AUTH without TLS")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, s, pass)
		})
	}
}

func TestSendmailRelayCheck(t *testing.T) {
	s := needSendmail(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	creds := []string{"--auth-user", user, "--auth-password", pass}
	ca := []string{"--tls-ca-path", s.get(t, "SMTPPROBE_IT_CERT"), "--tls-sni", "mx.example.test"}
	tests := []relayCheckCase{
		{
			name: "MX", port: smMX,
			args: append([]string{"--role", "mx", "--to", user}, ca...), wantExit: 0,
			checks: map[string]string{"open-relay": "pass", "open-relay/percent-hack": "pass",
				"open-relay/quoted-local-part": "pass", "open-relay/source-route": "pass",
				"open-relay/bang-path": "pass", "open-relay/null-sender": "pass",
				// The virtusertable's catch-all refuses unknown local
				// senders too: "550 5.1.1 <relaycheck@example.test>...
				// User unknown" at MAIL FROM, so nothing is proven.
				"open-relay/own-domain-sender": "inconclusive",
				"local-delivery":               "pass", "auth-before-tls": "pass", "starttls": "pass"},
		},
		{
			name: "submission", port: smSub,
			args: append(append([]string{"--role", "submission", "--tls", "--to", user}, ca...), creds...), wantExit: 0,
			checks: map[string]string{"open-relay": "pass", "open-relay/null-sender": "pass",
				"local-delivery": "pass", "auth-before-tls": "pass", "starttls": "pass",
				"auth-mechanisms": "pass", "auth-valid": "pass", "relay-after-auth": "pass", "auth-invalid": "pass",
				// Nothing binds a login to its sender addresses here.
				"sender-mismatch": "warn"},
		},
		{
			name: "submission over implicit TLS", port: smTLS,
			args: append(append([]string{"--role", "submission", "--tls-on-connect", "--to", user}, ca...), creds...), wantExit: 0,
			checks: map[string]string{"open-relay": "pass", "local-delivery": "pass", "starttls": "pass",
				"auth-valid": "pass", "relay-after-auth": "pass", "auth-invalid": "pass", "sender-mismatch": "warn"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.run(t, s, pass)
			// Every refusal Sendmail gives here is a 5xx: no check may pass
			// on a temporary (4xx) reply, which proves nothing.
			_, rep, _ := s.runRelayCheck(t, tt.port, tt.args...)
			for _, ch := range rep.Checks {
				if ch.Verdict == "pass" && strings.HasPrefix(ch.Reply, "4") {
					t.Errorf("check %s: PASS on a temporary reply %q", ch.Name, ch.Reply)
				}
				if strings.HasPrefix(ch.Name, "open-relay") && ch.Verdict == "pass" && !strings.HasPrefix(ch.Reply, "5") {
					t.Errorf("check %s: PASS without a 5xx refusal (reply %q)", ch.Name, ch.Reply)
				}
			}
		})
	}
}

func TestSendmailSwaksCompat(t *testing.T) {
	s := needSendmail(t)
	user, pass := s.get(t, "SMTPPROBE_IT_USER"), s.get(t, "SMTPPROBE_IT_PASS")
	mx, sub, smtps := s.get(t, smMX), s.get(t, smSub), s.get(t, smTLS)
	creds := []string{"-au", user, "-ap", pass}
	lines := []swaksLine{
		{"mx local delivery, no TLS unless asked", []string{"-p", mx, "-t", user, "-f", sender}, 0},
		{"mx local delivery with STARTTLS", []string{"-p", mx, "-tls", "-t", user, "-f", sender}, 0},
		{"mx relay refused", []string{"-p", mx, "-t", "someone@remote.test", "-f", sender}, 24},
		{"mx unknown user", []string{"-p", mx, "-t", "nobody@example.test", "-f", sender}, 24},
		{"mx quit after rcpt", []string{"-p", mx, "-t", user, "-f", sender, "--quit-after", "rcpt"}, 0},
		// "Host did not advertise authentication".
		{"mx offers no AUTH", append([]string{"-p", mx, "-tls", "-a", "PLAIN", "-t", user, "-f", user}, creds...), 28},
		{"submission AUTH without TLS", append([]string{"-p", sub, "-a", "PLAIN", "-t", user, "-f", user}, creds...), 28},
		{"submission STARTTLS AUTH PLAIN", append([]string{"-p", sub, "-tls", "-a", "PLAIN", "-t", user, "-f", user}, creds...), 0},
		{"submission STARTTLS AUTH LOGIN relays", append([]string{"-p", sub, "-tls", "-a", "LOGIN", "-t", "friend@remote.test", "-f", user}, creds...), 0},
		{"submission STARTTLS wrong password", []string{"-p", sub, "-tls", "-a", "PLAIN", "-t", user, "-f", user, "-au", user, "-ap", "not-" + pass}, 28},
		{"submission MAIL without AUTH", []string{"-p", sub, "-tls", "-t", user, "-f", user}, 23},
		{"submission MAIL in clear without AUTH", []string{"-p", sub, "-t", user, "-f", user}, 23},
		{"implicit TLS AUTH", append([]string{"-p", smtps, "-tlsc", "-a", "PLAIN", "-t", user, "-f", user}, creds...), 0},
		{"implicit TLS MAIL without AUTH", []string{"-p", smtps, "-tlsc", "-t", user, "-f", user}, 23},
	}
	for _, l := range lines {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			l.run(t, s, pass)
		})
	}
}
