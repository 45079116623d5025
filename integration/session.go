// Package integration drives the probe binary against real MTAs — private
// Postfix (with Dovecot SASL) and Exim 4 instances on loopback started by
// servers.sh — and checks exit codes, phases, reply codes and diagnoses
// against the contracts in DESIGN.md.
//
// The tests themselves carry the build tag "integration" so that a plain
// `go test ./...` on a machine without the servers runs only the parsers in
// this file and their fuzz targets.
package integration

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Session is the part of the probe's session JSON (DESIGN.md, "Session
// JSON") that the integration tests assert on.
type Session struct {
	Version    json.RawMessage `json:"version"`
	Command    []string        `json:"command"`
	Transcript []Event         `json:"transcript"`
	Steps      []Step          `json:"steps"`
	TLS        *TLSInfo        `json:"tls"`
	Result     Result          `json:"result"`
	Diagnosis  *Diagnosis      `json:"diagnosis"`
	// TLSFallback is set when an offered STARTTLS failed and the session
	// was finished on a new connection in clear, as MTAs do.
	TLSFallback *TLSFallback `json:"tls_fallback"`
}

// TLSFallback records a failed STARTTLS that the session went around.
type TLSFallback struct {
	Reason     string `json:"reason"`
	ResultType string `json:"result_type"` // an RFC 8460 result type
}

// RFC8460ResultTypes are the result types of RFC 8460 section 4.3.
var RFC8460ResultTypes = []string{
	"starttls-not-supported", "certificate-host-mismatch", "certificate-expired",
	"certificate-not-trusted", "validation-failure", "tlsa-invalid", "dnssec-invalid",
	"dane-required", "sts-policy-fetch-error", "sts-policy-invalid", "sts-webpki-invalid",
}

// Event is one transcript line.
type Event struct {
	TMs  float64 `json:"t_ms"`
	Dir  string  `json:"dir"`
	TLS  bool    `json:"tls"`
	Text string  `json:"text"`
}

// Step is one SMTP command and its reply.
type Step struct {
	Phase   string `json:"phase"`
	Command string `json:"command"`
	Reply   Reply  `json:"reply"`
}

// TLSInfo is what the session learned of the TLS connection.
type TLSInfo struct {
	Version  string `json:"version"`
	Cipher   string `json:"cipher"`
	Verified bool   `json:"verified"`
}

// Result is the session's outcome.
type Result struct {
	OK       bool   `json:"ok"`
	ExitCode int    `json:"exit_code"`
	Phase    string `json:"phase"`
	Reply    Reply  `json:"reply"`
}

// Diagnosis is the explain object; only the keys the tests check.
type Diagnosis struct {
	Reply        string `json:"reply"`
	Code         int    `json:"code"`
	EnhancedCode string `json:"enhanced_code"`
	Phase        string `json:"phase"`
	Category     string `json:"category"`
	Party        string `json:"party"`
	Permanent    bool   `json:"permanent"`
}

// Reply is an SMTP reply. DESIGN.md fixes steps[].reply as an object
// {code, enhanced_code, lines} but leaves result.reply's shape open, so
// UnmarshalJSON accepts that object, a plain reply string ("554 5.7.1
// text", lines joined by newlines) or null.
type Reply struct {
	Code         int      `json:"code"`
	EnhancedCode string   `json:"enhanced_code"`
	Lines        []string `json:"lines"`
}

// Text is the reply's lines joined by newlines.
func (r Reply) Text() string { return strings.Join(r.Lines, "\n") }

// UnmarshalJSON implements json.Unmarshaler.
func (r *Reply) UnmarshalJSON(data []byte) error {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0 || bytes.Equal(data, []byte("null")):
		*r = Reply{}
		return nil
	case data[0] == '"':
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return fmt.Errorf("reply string: %w", err)
		}
		*r = ParseReplyText(s)
		return nil
	}
	// A distinct type so the decoder does not recurse into this method.
	type plain Reply
	var p plain
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("reply object: %w", err)
	}
	*r = Reply(p)
	if r.EnhancedCode == "" && len(r.Lines) > 0 {
		// Some producers leave enhanced_code empty and keep it in the text.
		r.EnhancedCode = ParseReplyText(r.Lines[len(r.Lines)-1]).EnhancedCode
	}
	return nil
}

var enhancedRE = regexp.MustCompile(`^[245]\.[0-9]{1,3}\.[0-9]{1,3}$`)

// ParseReplyText reads a reply given as text: one or more lines such as
// "250-mx.example.test" / "250 2.0.0 Ok: queued as ABC". The code comes from
// the first line that starts with three digits, the enhanced code from the
// token after the code when it has the x.y.z form (RFC 3463). Text without
// a code yields Code 0.
func ParseReplyText(s string) Reply {
	var r Reply
	for _, line := range strings.Split(s, "\n") {
		// CRLF and stray CRs at line ends are transport, not text.
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		r.Lines = append(r.Lines, line)
		if r.Code != 0 || len(line) < 3 {
			continue
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 100 || code > 599 {
			continue
		}
		if len(line) > 3 && line[3] != ' ' && line[3] != '-' {
			continue
		}
		r.Code = code
		rest := strings.TrimLeft(line[3:], " -")
		if tok, _, _ := strings.Cut(rest, " "); enhancedRE.MatchString(tok) {
			r.EnhancedCode = tok
		}
	}
	return r
}

// ParseSession decodes the probe's --json output.
func ParseSession(data []byte) (Session, error) {
	var s Session
	if err := json.Unmarshal(data, &s); err != nil {
		return Session{}, fmt.Errorf("decode session JSON: %w", err)
	}
	return s, nil
}

// StepReply returns the reply of the last step in phase, and whether there
// was one.
func (s Session) StepReply(phase string) (Reply, bool) {
	for i := len(s.Steps) - 1; i >= 0; i-- {
		if s.Steps[i].Phase == phase {
			return s.Steps[i].Reply, true
		}
	}
	return Reply{}, false
}

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseEnv reads `servers.sh env` output: KEY=VALUE lines, blank lines and
// #-comments ignored. Values are taken verbatim (servers.sh never quotes).
// A later key overrides an earlier one, as in a shell.
func ParseEnv(r io.Reader) (map[string]string, error) {
	env := make(map[string]string)
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("env line %d: no '=' in %q", n, line)
		}
		if !envKeyRE.MatchString(k) {
			return nil, fmt.Errorf("env line %d: bad key %q", n, k)
		}
		env[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read env: %w", err)
	}
	return env, nil
}

// errFound stops the walk of FindMessage at the first match.
var errFound = errors.New("found")

// FindMessage returns the path of the first regular file under root (a
// folder of maildirs or mbox files) that contains needle, such as a
// Message-ID the test set, or "" when none does yet. A root that does not
// exist yet is no error: the first delivery creates it.
func FindMessage(root, needle string) (string, error) {
	var found string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				// A maildir's tmp/ file renamed into new/ meanwhile.
				return nil
			}
			return err
		}
		if bytes.Contains(data, []byte(needle)) {
			found = path
			return errFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, errFound) {
		return "", fmt.Errorf("search %s: %w", root, err)
	}
	return found, nil
}
