package dnsreport

// MTA-STS (RFC 8461) is parsed and fetched here by hand rather than with
// the mtasts package of github.com/mjl-/mox (v0.0.17), the library the
// project's guide prefers. It was tried: its parsers are right, but
// importing it links Prometheus, protobuf, procfs and mox's own resolver into
// the probe (56 more packages, +6.5 MB on a small binary), and its
// FetchPolicy uses a package-level http.Client and mox's resolver, so the
// fetch could neither go through the probe's one DNS client nor be given a
// test server's certificate without changing a global. What is left is two
// small parsers that follow the RFC's ABNF and a plain HTTPS GET.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// MTA-STS limits and names from RFC 8461.
const (
	stsVersion = "STSv1"
	// maxPolicyBytes: RFC 8461 §3.3 lets senders refuse larger bodies
	// ("a maximum size of 64 KiB" is what implementations use).
	maxPolicyBytes = 64 << 10
	// maxMaxAge is RFC 8461 §3.2's largest max_age: one year.
	maxMaxAge = 31557600
	// policyFetchTimeout bounds the HTTPS fetch, whatever client is used:
	// RFC 8461 §3.3 suggests senders wait about a minute, so a slower
	// server is one senders give up on too.
	policyFetchTimeout = time.Minute
	// policyDialTimeout bounds each TCP connect of the default client.
	policyDialTimeout = 15 * time.Second
)

// RFC 8460 result types for the ways an MTA-STS policy can fail.
const (
	resultSTSFetch   = "sts-policy-fetch-error"
	resultSTSInvalid = "sts-policy-invalid"
	resultSTSWebPKI  = "sts-webpki-invalid"
)

// STSPolicy is an MTA-STS policy (RFC 8461 §3.2) as served at
// https://mta-sts.DOMAIN/.well-known/mta-sts.txt.
type STSPolicy struct {
	Version string   `json:"version"` // STSv1
	Mode    string   `json:"mode"`    // enforce, testing or none
	MX      []string `json:"mx"`      // host patterns, "*." allowed as the first label
	MaxAge  int64    `json:"max_age"` // seconds a sender may cache the policy
}

// Matches reports whether host (an MX host name, trailing dot allowed) is
// allowed by one of the policy's mx patterns: a pattern "*.example.com"
// stands for exactly one more label (RFC 8461 §4.1).
func (p *STSPolicy) Matches(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		pat = strings.ToLower(pat)
		if rest, ok := strings.CutPrefix(pat, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == rest {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// ParseSTSRecord parses the _mta-sts TXT record (RFC 8461 §3.1) and returns
// its id. The grammar is applied as written, without tolerance for extra
// spaces at the end: senders built on strict parsers ignore such a record,
// and the probe is there to say so.
func ParseSTSRecord(txt string) (id string, err error) {
	rest, ok := strings.CutPrefix(txt, "v="+stsVersion)
	if !ok {
		return "", fmt.Errorf("does not start with v=%s", stsVersion)
	}
	fields, err := splitTagList(rest)
	if err != nil {
		return "", err
	}
	for _, f := range fields {
		name, value, _ := strings.Cut(f, "=")
		switch {
		case name == "id":
			if id != "" {
				continue // the first one counts, as for policy fields
			}
			if value == "" || len(value) > 32 || !allASCII(value, isAlnum) {
				return "", fmt.Errorf("id=%q is not 1 to 32 letters and digits", value)
			}
			id = value
		case !validExtName(name):
			return "", fmt.Errorf("field %q is not name=value", f)
		case value == "" || !allASCII(value, isExtValueChar):
			return "", fmt.Errorf("field %q has an empty value or one with spaces, '=' or ';'", f)
		}
	}
	if id == "" {
		return "", errors.New("has no id= field (required: senders use it to notice a new policy)")
	}
	return id, nil
}

// splitTagList splits what follows "v=..." in an MTA-STS or TLS-RPT record
// (RFC 8461 §3.1, RFC 8460 §3): one or more *WSP ";" *WSP field, with an
// optional final ";". Every field must contain "=".
func splitTagList(rest string) ([]string, error) {
	if rest == "" {
		return nil, errors.New("has nothing after the version (a required field is missing)")
	}
	trimmed := strings.TrimLeft(rest, " \t")
	if !strings.HasPrefix(trimmed, ";") {
		return nil, fmt.Errorf("the version is not followed by ';' (found %q)", truncate(rest, 20))
	}
	var fields []string
	parts := strings.Split(trimmed[1:], ";")
	for i, part := range parts {
		last := i == len(parts)-1
		f := strings.TrimLeft(part, " \t")
		if !last {
			f = strings.TrimRight(f, " \t")
		}
		if f == "" {
			if last && i > 0 {
				break // a final ";" is allowed
			}
			return nil, errors.New("has an empty field between semicolons")
		}
		if strings.ContainsAny(f, " \t") {
			return nil, fmt.Errorf("field %q contains a space (fields are separated by ';')", f)
		}
		if !strings.Contains(f, "=") {
			return nil, fmt.Errorf("field %q is not name=value", f)
		}
		fields = append(fields, f)
	}
	return fields, nil
}

// ParseSTSPolicy parses an MTA-STS policy body (RFC 8461 §3.2): "key: value"
// lines ended by LF or CRLF, with version, mode and max_age required and at
// least one mx unless the mode is none. Unknown keys are ignored as the RFC
// asks; of a repeated key other than mx the first counts. Blank lines and
// spaces before a key are errors, as in the RFC's grammar.
func ParseSTSPolicy(text string) (*STSPolicy, error) {
	if text == "" {
		return nil, errors.New("the policy is empty")
	}
	body := strings.TrimSuffix(text, "\n")
	body = strings.TrimSuffix(body, "\r")
	p := &STSPolicy{}
	seen := map[string]bool{}
	for n, line := range strings.Split(body, "\n") {
		lineNo := n + 1
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("line %d is blank (the grammar allows no blank line, also not at the end)", lineNo)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("line %d %q is not \"key: value\"", lineNo, truncate(line, 40))
		}
		if !validExtName(key) {
			return nil, fmt.Errorf("line %d: %q is not a valid key (letters, digits, '_', '-', '.'; nothing before it)", lineNo, truncate(key, 40))
		}
		value = strings.TrimRight(strings.TrimLeft(value, " \t"), " \t")
		if strings.ContainsFunc(value, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("line %d: the value of %s contains a control character", lineNo, key)
		}
		first := !seen[key]
		seen[key] = true
		switch key {
		case "version":
			if value != stsVersion {
				return nil, fmt.Errorf("line %d: version %q is not %s", lineNo, value, stsVersion)
			}
			p.Version = value
		case "mode":
			if value != "enforce" && value != "testing" && value != "none" {
				return nil, fmt.Errorf("line %d: mode %q is not enforce, testing or none", lineNo, value)
			}
			if first {
				p.Mode = value
			}
		case "max_age":
			if value == "" || len(value) > 10 || !allASCII(value, isDigit) {
				return nil, fmt.Errorf("line %d: max_age %q is not a number of seconds (1 to 10 digits)", lineNo, value)
			}
			if first {
				p.MaxAge, _ = strconv.ParseInt(value, 10, 64)
			}
		case "mx":
			if !validMXPattern(value) {
				return nil, fmt.Errorf("line %d: mx %q is not a host name or a *.domain pattern", lineNo, value)
			}
			p.MX = append(p.MX, strings.ToLower(value))
		default:
			if value == "" {
				return nil, fmt.Errorf("line %d: %s has no value", lineNo, key)
			}
		}
	}
	for _, k := range []string{"version", "mode", "max_age"} {
		if !seen[k] {
			return nil, fmt.Errorf("the required field %q is missing", k)
		}
	}
	if len(p.MX) == 0 && p.Mode != "none" {
		return nil, fmt.Errorf("no mx line: mode %s needs at least one allowed MX host", p.Mode)
	}
	return p, nil
}

// validMXPattern: ["*."] Domain, with Domain as RFC 5321 §4.1.2 writes it
// (letters, digits and inner hyphens per label; no trailing dot).
func validMXPattern(s string) bool {
	s = strings.TrimPrefix(s, "*.")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if !validLDHLabel(label) {
			return false
		}
	}
	return true
}

// fetchedPolicy is what fetchSTSPolicy got, and why it failed if it did.
type fetchedPolicy struct {
	text       string
	policy     *STSPolicy
	resultType string // RFC 8460 result type of the failure, "" on success
	err        error
	warning    string // a served policy that works but deviates (content type)
}

// errRedirect: RFC 8461 §3.3 forbids following redirects for the policy.
var errRedirect = errors.New("the server answered with a redirect, which RFC 8461 §3.3 forbids senders to follow")

// fetchSTSPolicy GETs https://mta-sts.DOMAIN/.well-known/mta-sts.txt with
// client and parses it. Only a 200 with a body of at most 64 KiB counts.
func fetchSTSPolicy(ctx context.Context, client *http.Client, domain string) fetchedPolicy {
	ctx, cancel := context.WithTimeout(ctx, policyFetchTimeout)
	defer cancel()
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fetchedPolicy{resultType: resultSTSFetch, err: err}
	}
	resp, err := client.Do(req)
	if err != nil {
		rt := resultSTSFetch
		if isCertError(err) {
			rt = resultSTSWebPKI
		}
		return fetchedPolicy{resultType: rt, err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fetchedPolicy{resultType: resultSTSFetch, err: fmt.Errorf("%s answered HTTP %s; only 200 serves a policy", url, resp.Status)}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPolicyBytes+1))
	if err != nil {
		return fetchedPolicy{resultType: resultSTSFetch, err: fmt.Errorf("reading %s: %w", url, err)}
	}
	if len(body) > maxPolicyBytes {
		return fetchedPolicy{resultType: resultSTSInvalid, err: fmt.Errorf("%s is larger than %d KiB, which senders refuse", url, maxPolicyBytes>>10)}
	}
	f := fetchedPolicy{text: string(body)}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		f.warning = fmt.Sprintf("The MTA-STS policy is served as %q; RFC 8461 §3.2 says text/plain, and strict senders may refuse anything else.", resp.Header.Get("Content-Type"))
	}
	f.policy, err = ParseSTSPolicy(f.text)
	if err != nil {
		f.resultType, f.err = resultSTSInvalid, err
	}
	return f
}

// isCertError tells a certificate the sender would not accept (RFC 8460
// sts-webpki-invalid) from other fetch failures.
func isCertError(err error) bool {
	var (
		verr  *tls.CertificateVerificationError
		uerr  x509.UnknownAuthorityError
		herr  x509.HostnameError
		cierr x509.CertificateInvalidError
	)
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cierr)
}

// newPolicyClient is the default client for policy fetches: it resolves
// the host through r (the probe's DNS client, never the system resolver,
// so --dns-server holds for HTTPS too), verifies the certificate against
// roots (nil: the system's WebPKI roots), ignores proxy settings (a proxy
// would fetch from elsewhere than the sender does), follows no redirect
// and keeps no connection.
func newPolicyClient(r dnsclient.Resolver, roots *x509.CertPool) *http.Client {
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialThrough(r, &net.Dialer{Timeout: policyDialTimeout}),
		TLSClientConfig:        &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    policyDialTimeout,
		ResponseHeaderTimeout:  policyFetchTimeout,
		MaxResponseHeaderBytes: maxPolicyBytes,
		DisableKeepAlives:      true,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       policyFetchTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return errRedirect },
	}
}

// dialThrough returns a DialContext that resolves the host with r and
// tries its addresses in order.
func dialThrough(r dnsclient.Resolver, d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		family := "ip"
		switch network {
		case "tcp4":
			family = "ip4"
		case "tcp6":
			family = "ip6"
		}
		ips, err := r.LookupIP(ctx, family, host)
		if err != nil {
			return nil, err
		}
		if len(ips) == 0 {
			return nil, &net.DNSError{Err: "no A or AAAA record", Name: host, IsNotFound: true}
		}
		var errs []error
		for _, ip := range ips {
			conn, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return conn, nil
			}
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
		return nil, errors.Join(errs...)
	}
}
