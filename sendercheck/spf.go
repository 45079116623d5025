package sendercheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"

	"blitiri.com.ar/go/spf"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// maxTraceLines bounds the SPF library's trace kept in memory; a record
// that recurses to the lookup limit traces a few dozen lines.
const maxTraceLines = 400

// SPF evaluates the SPF record of domain for ip (RFC 7208 check_host, by
// blitiri.com.ar/go/spf), with helo as the EHLO name; domain "" (the null
// sender) checks helo instead, as receivers do. Result is an RFC 7208
// result name; Records the SPF records consulted (the domain's first);
// Mechanism and Detail name the term that decided. An ip that is not an IP
// address gives permerror, as check_host does.
func SPF(ctx context.Context, r dnsclient.Resolver, domain, ip, helo string) Check {
	target := domain
	if strings.TrimSpace(target) == "" {
		target = helo
	}
	c := Check{Name: NameSPF, Subject: target, IP: ip}
	addr, err := parseIP(ip)
	if err != nil {
		c.Result = ResultPermError
		c.Detail = fmt.Sprintf("No SPF evaluation: %v.", err)
		return c
	}
	c.IP = addr.String()
	d, err := fqdn(target)
	if err != nil {
		// RFC 7208 §4.3: a malformed domain or a single label gives none.
		c.Result = ResultNone
		c.Detail = fmt.Sprintf("No SPF evaluation: %q is not a fully qualified domain name, so SPF gives none (RFC 7208 §4.3).", clip(target, 80))
		return c
	}
	c.Subject = d

	res := &spfResolver{r: r}
	tr := &spfTrace{}
	// The local part is unknown here; "postmaster" is what RFC 7208 §4.3
	// uses when there is none, and only %{l} macros see it.
	sender := "postmaster@" + d
	result, spfErr := spf.CheckHostWithSender(net.IP(addr.AsSlice()), strings.TrimSpace(helo), sender,
		spf.WithContext(ctx), spf.WithResolver(res), spf.WithTraceFunc(tr.add))
	c.Result = string(result)
	c.Records = res.spfRecords(d)
	c.Mechanism = tr.decider(result)

	own := "The SPF record of " + d
	switch result {
	case spf.Pass:
		c.Detail = fmt.Sprintf("%s authorizes %s", own, c.IP) + byMechanism(c.Mechanism) + "."
	case spf.Fail, spf.SoftFail:
		word := map[spf.Result]string{spf.Fail: "fail", spf.SoftFail: "softfail"}[result]
		c.Detail = fmt.Sprintf("%s does not authorize %s (%s)", own, c.IP, word) + byMechanism(c.Mechanism) + "."
	case spf.Neutral:
		if c.Mechanism == "" {
			c.Detail = fmt.Sprintf("%s neither authorizes nor forbids %s: no term matched and it has no all (neutral).", own, c.IP)
		} else {
			c.Detail = fmt.Sprintf("%s neither authorizes nor forbids %s (neutral)", own, c.IP) + byMechanism(c.Mechanism) + "."
		}
	case spf.None:
		c.Detail = fmt.Sprintf("%s publishes no SPF record (none): receivers that require SPF (Gmail, Yahoo, Microsoft for bulk senders) treat it as unauthenticated.", d)
		if rcode := res.firstError(d); rcode == dnsclient.RCodeNXDomain {
			c.Detail = fmt.Sprintf("%s does not exist (NXDOMAIN), so SPF gives none.", d)
		}
	case spf.TempError:
		c.RCode, _ = dnsFailure(spfErr)
		if c.RCode == "" || c.RCode == dnsclient.RCodeNetwork {
			if rc := res.lastTempError(); rc != "" {
				c.RCode = rc
			}
		}
		c.Detail = fmt.Sprintf("SPF of %s could not be evaluated: a DNS lookup failed (%s); receivers defer the mail (temperror).", d, describeErr(spfErr))
	case spf.PermError:
		c.Detail = fmt.Sprintf("%s is broken: %s (permerror); receivers may treat that as a failure.", own, permReason(spfErr, c.Records))
	default:
		c.Detail = fmt.Sprintf("SPF of %s gave %q.", d, result)
	}
	return c
}

// byMechanism is the clause naming the deciding term.
func byMechanism(m string) string {
	if m == "" {
		return ""
	}
	return " by " + m
}

// describeErr says what an error from the SPF library means.
func describeErr(err error) string {
	if err == nil {
		return "no detail"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		_, text := dnsFailure(err)
		return text + " for " + dnsErr.Name
	}
	return err.Error()
}

// permReason explains a permerror from the library's error.
func permReason(err error, records []string) string {
	switch {
	case errors.Is(err, spf.ErrLookupLimitReached):
		return "it needs more than 10 DNS lookups (include, a, mx, ptr, exists, redirect), the limit of RFC 7208 §4.6.4; an include loop or too many includes does this"
	case errors.Is(err, spf.ErrVoidLookupLimitReached):
		return "more than 2 of its lookups found nothing, the limit of RFC 7208 §4.6.4"
	case errors.Is(err, spf.ErrMultipleRecords):
		return "the domain publishes more than one SPF record, which RFC 7208 §4.5 forbids; merge them into one"
	case errors.Is(err, spf.ErrUnknownField):
		if t := unknownTerm(records); t != "" {
			return fmt.Sprintf("it contains the unknown term %q", t)
		}
		return "it contains an unknown term"
	case errors.Is(err, spf.ErrInvalidIP), errors.Is(err, spf.ErrInvalidMask):
		return "an ip4/ip6 term has an invalid address or prefix length"
	case errors.Is(err, spf.ErrInvalidMacro):
		return "a macro is invalid"
	case errors.Is(err, spf.ErrInvalidDomain):
		return "a domain in it is invalid, or it has more than one redirect"
	case errors.Is(err, spf.ErrNoResult):
		return "an include names a domain without an SPF record"
	case errors.Is(err, spf.ErrTooManyMXRecords):
		return "an mx term found more than 10 MX records"
	case err != nil:
		return err.Error()
	}
	return "unreadable"
}

// spfTerm recognises a term of an SPF record (RFC 7208 §4.6.1) for
// unknownTerm.
var spfTerm = regexp.MustCompile(`(?i)^([-+~?]?(all|include:.+|a|a[:/].+|mx|mx[:/].+|ptr|ptr:.+|ip4:.+|ip6:.+|exists:.+)|[a-z][a-z0-9_.-]*=.*|v=spf1)$`)

// unknownTerm finds the first term of the first SPF record that is
// neither a mechanism nor a modifier, for the permerror detail.
func unknownTerm(records []string) string {
	if len(records) == 0 {
		return ""
	}
	_, txt, ok := strings.Cut(records[0], " TXT ")
	if !ok {
		return ""
	}
	txt = strings.Trim(txt, `"`)
	for _, t := range strings.Fields(txt) {
		if !spfTerm.MatchString(t) {
			return clip(t, 60)
		}
	}
	return ""
}

// spfResolver adapts dnsclient.Resolver to the SPF library's DNSResolver,
// and keeps the TXT answers so the check can quote the records it rested
// on. The library tells a temporary error from "not found" by asserting
// *net.DNSError directly, so wrapped errors are unwrapped for it.
type spfResolver struct {
	r dnsclient.Resolver

	mu      sync.Mutex
	txt     []txtAnswer
	lastErr string // rcode of the last temporary failure
}

type txtAnswer struct {
	name    string
	records []string
	err     error
}

func (s *spfResolver) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := s.r.LookupTXT(ctx, name)
	s.mu.Lock()
	s.txt = append(s.txt, txtAnswer{name: strings.ToLower(strings.TrimSuffix(name, ".")), records: txts, err: err})
	s.mu.Unlock()
	return txts, s.plain(err)
}

func (s *spfResolver) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	mxs, err := s.r.LookupMX(ctx, name)
	return mxs, s.plain(err)
}

func (s *spfResolver) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	ips, err := s.r.LookupIP(ctx, "ip", host)
	if err != nil {
		return nil, s.plain(err)
	}
	out := make([]net.IPAddr, len(ips))
	for i, ip := range ips {
		out[i] = net.IPAddr{IP: ip}
	}
	return out, nil
}

func (s *spfResolver) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	names, err := s.r.LookupAddr(ctx, addr)
	return names, s.plain(err)
}

// plain returns the *net.DNSError inside err, as the library wants it, and
// notes temporary failures.
func (s *spfResolver) plain(err error) error {
	if err == nil {
		return nil
	}
	if dnsclient.IsTemporary(err) {
		rcode, _ := dnsFailure(err)
		s.mu.Lock()
		s.lastErr = rcode
		s.mu.Unlock()
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return dnsErr
	}
	return &net.DNSError{Err: err.Error(), IsTemporary: dnsclient.IsTemporary(err)}
}

// spfRecords returns the SPF records seen, those of domain first, each
// once.
func (s *spfResolver) spfRecords(domain string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first, rest []string
	seen := map[string]bool{}
	for _, a := range s.txt {
		for _, txt := range a.records {
			l := strings.ToLower(txt)
			if l != "v=spf1" && !strings.HasPrefix(l, "v=spf1 ") {
				continue
			}
			rec := record(a.name, "TXT", txt)
			if seen[rec] {
				continue
			}
			seen[rec] = true
			if a.name == domain {
				first = append(first, rec)
			} else {
				rest = append(rest, rec)
			}
		}
	}
	return append(first, rest...)
}

// firstError is the rcode of the first TXT lookup of name, "" when it
// succeeded or was not made.
func (s *spfResolver) firstError(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.txt {
		if a.name == name {
			return dnsclient.RCode(a.err)
		}
	}
	return ""
}

func (s *spfResolver) lastTempError() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// spfTrace collects the library's trace. Its lines are documented as
// unstable; they are read only to name the deciding term, and a test pins
// the forms relied on, so a library upgrade that changes them fails there
// rather than silently losing the mechanism.
type spfTrace struct {
	mu    sync.Mutex
	lines []string
}

func (t *spfTrace) add(format string, a ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) < maxTraceLines {
		t.lines = append(t.lines, fmt.Sprintf(format, a...))
	} else {
		// Keep the last line current: the decision is traced last.
		t.lines[len(t.lines)-1] = fmt.Sprintf(format, a...)
	}
}

// The trace lines that name a decision, as blitiri.com.ar/go/spf v1.6.0
// writes them: `"ip4:192.0.2.0/24" pass, matched ip` (the term without its
// qualifier), `all: fail`, `"redirect=example.net": fail, ...` and
// `fallback to neutral`. The outermost record decides last, so the last
// such line is the one that decided.
var (
	traceTerm     = regexp.MustCompile(`^"([^"]+)" ([a-z]+), `)
	traceAll      = regexp.MustCompile(`^all: ([a-z]+)$`)
	traceRedirect = regexp.MustCompile(`^"(redirect=[^"]+)": ([a-z]+), `)
)

// qualifier is the SPF qualifier that gives result.
func qualifier(result string) string {
	switch spf.Result(result) {
	case spf.Fail:
		return "-"
	case spf.SoftFail:
		return "~"
	case spf.Neutral:
		return "?"
	}
	return ""
}

// decider names the term that decided result, "" when the trace does not
// tell.
func (t *spfTrace) decider(result spf.Result) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := len(t.lines) - 1; i >= 0; i-- {
		line := t.lines[i]
		if m := traceRedirect.FindStringSubmatch(line); m != nil {
			return m[1]
		}
		if m := traceTerm.FindStringSubmatch(line); m != nil {
			term := m[1]
			return qualifier(m[2]) + term
		}
		if m := traceAll.FindStringSubmatch(line); m != nil {
			return qualifier(m[1]) + "all"
		}
		if line == "fallback to neutral" {
			return ""
		}
	}
	return ""
}
