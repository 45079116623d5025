// Package dnsreport checks what a domain publishes in DNS for mail, without
// an SMTP session (`probe dns`): its MX hosts by preference with their
// addresses and forward-confirmed reverse DNS, null and implicit MX and MX
// records naming missing hosts, SPF (with the DNS lookups every evaluation
// may need, and the result for an IP), DMARC, MTA-STS (the TXT record and
// the policy fetched over HTTPS), TLS-RPT, a DKIM key record and, for an
// IP, its reverse DNS and DNSBL listings.
//
// Everything goes through one resolver, the probe's DNS client, so
// --dns-server holds for every lookup, the HTTPS fetch of the MTA-STS policy
// included. The report says what is wrong in sentences that say what to
// fix, and keeps "the DNS could not answer" apart from "something is
// wrong", with an exit code for each.
package dnsreport

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// Exit codes of `probe dns`. They are chosen outside swaks's codes (2, 6,
// 21-35) and the probe's own 3, so a script can switch on them; a usage
// error is the CLI's 1.
const (
	ExitOK        = 0 // every lookup answered and nothing is wrong (warnings allowed)
	ExitProblems  = 4 // something the domain or the IP publishes is wrong
	ExitDNSFailed = 5 // some lookup got no answer (SERVFAIL, REFUSED, timeout): the report is incomplete
)

// MX kinds.
const (
	MXNormal   = "normal"   // MX records naming hosts
	MXImplicit = "implicit" // no MX records: mail goes to the domain's own A/AAAA (RFC 5321 §5.1)
	MXNull     = "null"     // "0 ." (RFC 7505): the domain accepts no mail
	MXNone     = "none"     // nowhere to deliver: no such domain, or neither MX nor address
	MXUnknown  = "unknown"  // DNS did not answer
)

// maxConcurrent bounds the lookups made at once (MX addresses, DNSBL
// zones): enough to keep a slow server from adding up, few enough not to
// look like a flood.
const maxConcurrent = 8

// Options say what to check.
type Options struct {
	Domain       string   // the mail domain; a U-label IDN is converted
	IP           string   // optional: the sending IP for SPF, reverse DNS and DNSBL
	DKIMSelector string   // optional: check SELECTOR._domainkey.DOMAIN
	Zones        []string // DNSBL zones for IP; nil: sendercheck.DefaultDNSBLZones
	// HTTPClient fetches the MTA-STS policy. nil: a client whose dialer
	// resolves through the resolver given to Run (never the system
	// resolver), verifies the certificate against the system's WebPKI
	// roots, ignores proxies and follows no redirect. The fetch is bounded
	// by a minute and the body by 64 KiB whatever the client.
	HTTPClient *http.Client
}

// UsageError is an option that cannot be checked (a domain that is not a
// domain, an IP that is not an IP): the CLI's exit 1.
type UsageError struct {
	Option string // "domain", "--ip", "--dkim-selector", "--dnsbl"
	Value  string
	Reason string
}

func (e *UsageError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Option, e.Value, e.Reason)
}

// findings are the problems and warnings of one section. Problems make the
// exit code 4; warnings are things that work but are worth a look.
type findings struct {
	Problems []string `json:"problems"`
	Warnings []string `json:"warnings"`
	// unanswered: the section's record could not be looked up, so its
	// empty record means "unknown", not "none".
	unanswered bool
}

func (f *findings) problem(format string, args ...any) {
	f.Problems = append(f.Problems, fmt.Sprintf(format, args...))
}

func (f *findings) warn(format string, args ...any) {
	f.Warnings = append(f.Warnings, fmt.Sprintf(format, args...))
}

// Report is the result of Run; its JSON is the output of `probe dns --json`.
type Report struct {
	Domain       string `json:"domain"`
	IP           string `json:"ip,omitempty"`
	DKIMSelector string `json:"dkim_selector,omitempty"`
	// Exists is false when the domain does not exist in DNS (NXDOMAIN);
	// the domain's other records are then not looked up.
	Exists bool `json:"exists"`

	MXKind string   `json:"mx_kind"` // normal, implicit, null, none, unknown
	MX     []MXHost `json:"mx"`

	SPF    *SPFReport          `json:"spf"`     // null when the domain does not exist
	DMARC  *DMARCReport        `json:"dmarc"`   // null when the domain does not exist
	MTASTS *MTASTSReport       `json:"mta_sts"` // null when the domain does not exist
	TLSRPT *TLSRPTReport       `json:"tls_rpt"` // null when the domain does not exist
	DKIM   *DKIMReport         `json:"dkim"`    // null without a selector
	PTR    *sendercheck.Check  `json:"ptr"`     // reverse DNS of IP; null without one
	DNSBL  []sendercheck.Check `json:"dnsbl"`   // one per zone for IP; [] without one

	Problems    []string `json:"problems"`     // what is wrong, each a sentence that says what to fix
	Warnings    []string `json:"warnings"`     // what works but is worth a look
	DNSFailures []string `json:"dns_failures"` // lookups that got no answer
	DNSError    bool     `json:"dns_error"`    // len(DNSFailures) > 0
	ExitCode    int      `json:"exit_code"`

	// DNS is every query made, when the resolver keeps a log
	// (*dnsclient.Client does).
	DNS []dnsclient.Query `json:"dns,omitempty"`

	mxFindings findings
}

// MXHost is one mail host of the domain, in the order senders try them.
type MXHost struct {
	Host       string      `json:"host"`
	Preference uint16      `json:"preference"`
	Addresses  []MXAddress `json:"addresses"`
	Problem    string      `json:"problem,omitempty"`

	short string // the problem in a few words, for the text table
}

// MXAddress is one address of an MX host with its reverse DNS.
type MXAddress struct {
	Address string   `json:"address"`
	PTR     []string `json:"ptr"`
	// FCrDNS is the ptr check's result: pass (a PTR name resolves back to
	// the address), fail, none (no PTR), temperror.
	FCrDNS string `json:"fcrdns"`
	Detail string `json:"detail,omitempty"`
}

// SPFReport is the SPF record of the domain and what it costs receivers.
type SPFReport struct {
	Record string `json:"record"` // "" when there is none
	SPFCount
	// Result is the SPF result for the IP (sendercheck's spf check);
	// null without an IP.
	Result *sendercheck.Check `json:"result"`
	findings
}

// DMARCReport is the DMARC policy that applies to the domain, from
// sendercheck's dmarc check.
type DMARCReport struct {
	// Result is the policy that applies (none, quarantine, reject), or
	// absent, permerror, temperror.
	Result string                   `json:"result"`
	Record string                   `json:"record"` // the record applied; "" when none
	Detail string                   `json:"detail"`
	Policy *sendercheck.DMARCRecord `json:"policy"` // the record's fields; null when none
	findings
}

// MTASTSReport is the domain's MTA-STS record and policy.
type MTASTSReport struct {
	Record string     `json:"record"` // the _mta-sts TXT record; "" when there is none
	ID     string     `json:"id"`
	Policy *STSPolicy `json:"policy"` // null when none could be fetched
	// PolicyText is the body as served, also when it did not parse.
	PolicyText string `json:"policy_text,omitempty"`
	// ResultType is the RFC 8460 name of the failure to get a usable
	// policy: sts-policy-fetch-error, sts-policy-invalid,
	// sts-webpki-invalid; null when there is none.
	ResultType *string `json:"result_type"`
	findings
}

// TLSRPTReport is the domain's SMTP TLS Reporting record.
type TLSRPTReport struct {
	Record string   `json:"record"` // "" when there is none
	RUA    []string `json:"rua"`
	findings
}

// DKIMReport is the key record of a DKIM selector.
type DKIMReport struct {
	Selector string `json:"selector"`
	Name     string `json:"name"`   // SELECTOR._domainkey.DOMAIN
	Record   string `json:"record"` // "" when there is none
	KeyType  string `json:"key_type,omitempty"`
	KeyBits  int    `json:"key_bits,omitempty"`
	Testing  bool   `json:"testing,omitempty"` // t=y
	findings
}

// Validate checks and normalises the options (the domain in ASCII, the IP
// in canonical form); its errors are *UsageError.
func (o Options) Validate() (Options, error) {
	d := strings.TrimSpace(o.Domain)
	if d == "" {
		return o, &UsageError{"domain", o.Domain, "a mail domain is required"}
	}
	if local, dom, ok := strings.Cut(d, "@"); ok && local != "" {
		return o, &UsageError{"domain", o.Domain, fmt.Sprintf("is an address: give its domain, %s", dom)}
	}
	if _, err := netip.ParseAddr(strings.Trim(d, "[]")); err == nil {
		return o, &UsageError{"domain", o.Domain, "is an IP address, not a mail domain"}
	}
	ascii, err := mxlookup.ToASCII(d)
	if err != nil {
		return o, &UsageError{"domain", o.Domain, "is not a domain name: " + err.Error()}
	}
	for label := range strings.SplitSeq(ascii, ".") {
		if !validLDHLabel(label) {
			return o, &UsageError{"domain", o.Domain, fmt.Sprintf("is not a mail domain: the label %q is not letters, digits and inner hyphens", label)}
		}
	}
	o.Domain = ascii
	if o.IP != "" {
		ip, err := netip.ParseAddr(strings.Trim(strings.TrimSpace(o.IP), "[]"))
		if err != nil || ip.Zone() != "" {
			return o, &UsageError{"--ip", o.IP, "is not an IPv4 or IPv6 address"}
		}
		o.IP = ip.Unmap().String()
	}
	if o.DKIMSelector != "" {
		sel := strings.ToLower(strings.TrimSuffix(o.DKIMSelector, "."))
		for label := range strings.SplitSeq(sel, ".") {
			// Selectors are sub-domains (RFC 6376 §3.1); underscores
			// are tolerated as DNS allows them and some providers use them.
			if !validLDHLabel(strings.ReplaceAll(label, "_", "a")) {
				return o, &UsageError{"--dkim-selector", o.DKIMSelector, "is not a selector: labels of letters, digits and hyphens separated by dots"}
			}
		}
		o.DKIMSelector = sel
	}
	zones := make([]string, 0, len(o.Zones))
	for _, z := range o.Zones {
		az, err := mxlookup.ToASCII(z)
		if err != nil {
			return o, &UsageError{"--dnsbl", z, "is not a DNS zone: " + err.Error()}
		}
		zones = append(zones, az)
	}
	if o.Zones != nil {
		o.Zones = zones
	}
	return o, nil
}

// Run checks everything Options ask for. The only error is a *UsageError
// from Validate; DNS failures and problems are in the report, whose
// ExitCode says which of ExitOK, ExitProblems or ExitDNSFailed applies.
// Every lookup is bounded by ctx.
func Run(ctx context.Context, r dnsclient.Resolver, opts Options) (*Report, error) {
	opts, err := opts.Validate()
	if err != nil {
		return nil, err
	}
	if r == nil {
		return nil, errors.New("dnsreport: no resolver")
	}
	if opts.Zones == nil {
		opts.Zones = sendercheck.DefaultDNSBLZones()
	}
	client := opts.HTTPClient
	if client == nil {
		client = newPolicyClient(r, nil)
	}
	rep := &Report{Domain: opts.Domain, IP: opts.IP, DKIMSelector: opts.DKIMSelector, Exists: true}
	var dnsFailures [][]string // per section, joined in a fixed order

	// The MX lookup comes first: it tells whether the domain exists, and a
	// domain that does not needs no further lookup to be judged.
	mxFail := rep.checkMX(ctx, r)
	dnsFailures = append(dnsFailures, mxFail)

	var wg sync.WaitGroup
	var mu sync.Mutex
	sections := make([][]string, 6)
	run := func(i int, f func() []string) {
		wg.Go(func() {
			fails := f()
			mu.Lock()
			sections[i] = fails
			mu.Unlock()
		})
	}
	if rep.Exists {
		run(0, func() []string { return rep.checkSPF(ctx, r, opts.IP) })
		run(1, func() []string { return rep.checkDMARC(ctx, r) })
		run(2, func() []string { return rep.checkMTASTS(ctx, r, client) })
		run(3, func() []string { return rep.checkTLSRPT(ctx, r) })
		if opts.DKIMSelector != "" {
			run(4, func() []string { return rep.checkDKIM(ctx, r) })
		}
	}
	if opts.IP != "" {
		run(5, func() []string { return rep.checkIP(ctx, r, opts.Zones) })
	}
	wg.Wait()
	dnsFailures = append(dnsFailures, sections...)
	rep.finish(dnsFailures)
	if l, ok := r.(interface{ Queries() []dnsclient.Query }); ok {
		rep.DNS = l.Queries()
	}
	return rep, nil
}

// finish gathers the sections' findings in a fixed order and sets the exit
// code.
func (rep *Report) finish(dnsFailures [][]string) {
	all := []*findings{&rep.mxFindings}
	if rep.SPF != nil {
		all = append(all, &rep.SPF.findings)
	}
	if rep.DMARC != nil {
		all = append(all, &rep.DMARC.findings)
	}
	if rep.MTASTS != nil {
		all = append(all, &rep.MTASTS.findings)
	}
	if rep.TLSRPT != nil {
		all = append(all, &rep.TLSRPT.findings)
	}
	if rep.DKIM != nil {
		all = append(all, &rep.DKIM.findings)
	}
	rep.Problems, rep.Warnings, rep.DNSFailures = []string{}, []string{}, []string{}
	for _, f := range all {
		if f.Problems == nil {
			f.Problems = []string{}
		}
		if f.Warnings == nil {
			f.Warnings = []string{}
		}
		rep.Problems = append(rep.Problems, f.Problems...)
		rep.Warnings = append(rep.Warnings, f.Warnings...)
	}
	ipProblems, ipWarnings := rep.ipFindings()
	rep.Problems = append(rep.Problems, ipProblems...)
	rep.Warnings = append(rep.Warnings, ipWarnings...)
	for _, fs := range dnsFailures {
		rep.DNSFailures = append(rep.DNSFailures, fs...)
	}
	if rep.MX == nil {
		rep.MX = []MXHost{}
	}
	if rep.DNSBL == nil {
		rep.DNSBL = []sendercheck.Check{}
	}
	rep.DNSError = len(rep.DNSFailures) > 0
	switch {
	case rep.DNSError:
		// An incomplete report cannot say "nothing wrong", and what is
		// wrong may be the DNS itself; the problems found are still listed.
		rep.ExitCode = ExitDNSFailed
	case len(rep.Problems) > 0:
		rep.ExitCode = ExitProblems
	default:
		rep.ExitCode = ExitOK
	}
}

// dnsFailure is the sentence for a lookup that got no answer. It quotes
// the resolver's own error (which names the name, the server and the
// rcode) rather than the wrapping of the packages in between.
func dnsFailure(what string, err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		err = de
	}
	return fmt.Sprintf("%s could not be looked up (%v). Try again; if it persists, the domain's name servers or the resolver asked are failing, and receivers see the same.", what, err)
}

// sentence makes a check's detail start with a capital and end with a
// full stop, so it reads as the first sentence of a problem.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// isNotFound: NXDOMAIN, a definite "no such name".
func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// boundedEach calls f for 0..n-1, at most maxConcurrent at a time.
func boundedEach(n int, f func(i int)) {
	sem := make(chan struct{}, maxConcurrent)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// checkMX fills MXKind and MX, and Exists; it returns the DNS failures.
func (rep *Report) checkMX(ctx context.Context, r dnsclient.Resolver) []string {
	f := &rep.mxFindings
	targets, err := mxlookup.Targets(ctx, r, rep.Domain, nil)
	switch {
	case err == nil:
	case errors.Is(err, mxlookup.ErrNullMX):
		rep.MXKind = MXNull
		f.warn("%s publishes a null MX (RFC 7505): it states that it accepts no mail, and mail to it bounces at once. If it should receive mail, replace the MX record \"0 .\" with the real mail hosts; if not, also publish \"v=spf1 -all\" and a DMARC p=reject so nobody can send as it.", rep.Domain)
		return nil
	case errors.Is(err, mxlookup.ErrTemporary):
		rep.MXKind = MXUnknown
		return []string{dnsFailure("The MX records of "+rep.Domain, err)}
	case errors.Is(err, mxlookup.ErrNoMailHost):
		rep.MXKind = MXNone
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			rep.Exists = false
			f.problem("%s does not exist in DNS (NXDOMAIN): no mail can be sent to it, and receivers refuse mail from it (sender domain not found). Check the spelling, or register the domain and publish its records.", rep.Domain)
			return nil
		}
		f.problem("No mail can be delivered to %s: %v. Publish MX records naming the mail hosts, each with an A or AAAA record.", rep.Domain, unwrapTo(err, mxlookup.ErrNoMailHost))
		return nil
	default:
		rep.MXKind = MXUnknown
		return []string{dnsFailure("The MX records of "+rep.Domain, err)}
	}

	rep.MXKind = MXNormal
	if len(targets) > 0 && targets[0].Implicit {
		rep.MXKind = MXImplicit
		f.warn("%s has no MX record: senders deliver to its own address (the implicit MX of RFC 5321 §5.1). That works, but an MX record makes the mail host explicit, and some senders and checkers treat a domain without MX as not receiving mail.", rep.Domain)
	}
	rep.MX = make([]MXHost, len(targets))
	var failures [][]string = make([][]string, len(targets))
	// Resolve every host at once: with a slow server the time is that of
	// the slowest host, not the sum.
	boundedEach(len(targets), func(i int) {
		t := targets[i]
		h := MXHost{Host: t.Host, Preference: t.Preference, Addresses: []MXAddress{}}
		failures[i] = rep.resolveMXHost(ctx, r, &h, t.Implicit)
		rep.MX[i] = h
	})
	var out []string
	usable := 0
	for i, h := range rep.MX {
		out = append(out, failures[i]...)
		if len(h.Addresses) > 0 {
			usable++
		}
		if h.Problem != "" {
			f.problem("%s", h.Problem)
		}
		for _, a := range h.Addresses {
			switch a.FCrDNS {
			case sendercheck.ResultFail, sendercheck.ResultNone:
				f.warn("MX %s address %s has no forward-confirmed reverse DNS (%s): receiving works, but mail this host sends is distrusted by receivers. Set a PTR record naming a host whose A/AAAA record is %s.", h.Host, a.Address, a.FCrDNS, a.Address)
			case sendercheck.ResultTempError:
				out = append(out, fmt.Sprintf("The reverse DNS of %s (MX %s) could not be looked up: %s.", a.Address, h.Host, a.Detail))
			}
		}
	}
	if usable == 0 && len(rep.MX) > 0 && len(out) == 0 {
		f.problem("None of the mail hosts of %s has an address: mail to it cannot be delivered. Give the MX hosts A/AAAA records, or point the MX records at hosts that have them.", rep.Domain)
	}
	return out
}

// unwrapTo drops the sentinel's own text from a Targets error, which
// already names the domain, keeping the reason.
func unwrapTo(err, sentinel error) string {
	s := err.Error()
	if _, after, ok := strings.Cut(s, sentinel.Error()+": "); ok {
		return after
	}
	return s
}

// resolveMXHost fills the addresses of one MX host with their reverse DNS.
func (rep *Report) resolveMXHost(ctx context.Context, r dnsclient.Resolver, h *MXHost, implicit bool) []string {
	if _, err := netip.ParseAddr(h.Host); err == nil {
		h.Problem = fmt.Sprintf("The MX record of %s names %s, an IP address, where RFC 5321 §5.1 requires a host name; many senders refuse it. Name a host whose A/AAAA record is that address.", rep.Domain, h.Host)
		h.short = "an IP address, not a host name"
	}
	ips, err := r.LookupIP(ctx, "ip", h.Host)
	switch {
	case err != nil && isNotFound(err):
		h.Problem = fmt.Sprintf("MX host %s (preference %d) does not exist (NXDOMAIN): senders skip it or, if it is the only one, bounce the mail. Create the host's A/AAAA record or remove the MX record.", h.Host, h.Preference)
		h.short = "does not exist: NXDOMAIN"
		return nil
	case err != nil:
		h.short = "address lookup failed: " + dnsclient.RCode(err)
		return []string{dnsFailure("The address of MX host "+h.Host, err)}
	case len(ips) == 0 && !implicit:
		h.Problem = fmt.Sprintf("MX host %s (preference %d) has no A or AAAA record: senders cannot connect to it. Add its address or remove the MX record.", h.Host, h.Preference)
		h.short = "no A or AAAA record"
		return nil
	}
	h.Addresses = make([]MXAddress, len(ips))
	boundedEach(len(ips), func(i int) {
		c := sendercheck.PTR(ctx, r, ips[i].String())
		names := c.Names
		if names == nil {
			names = []string{}
		}
		h.Addresses[i] = MXAddress{Address: ips[i].String(), PTR: names, FCrDNS: c.Result, Detail: c.Detail}
	})
	return nil
}

// lookupRecords fetches the TXT records at name and keeps those keep
// accepts. A name that does not exist
// or has no TXT records gives no records and no error.
func lookupRecords(ctx context.Context, r dnsclient.Resolver, name string, keep func(string) bool) (kept []string, err error) {
	txts, err := r.LookupTXT(ctx, name)
	if err != nil && !isNotFound(err) {
		return nil, err
	}
	for _, t := range txts {
		if keep(t) {
			kept = append(kept, t)
		}
	}
	return kept, nil
}

// versionRecord fetches the TXT records at name that start with version
// (then ";", a space or the end), as RFC 8461 §3.1 and RFC 8460 §3 select
// them, and returns the first and how many there were.
func versionRecord(ctx context.Context, r dnsclient.Resolver, name, version string) (first string, n int, err error) {
	recs, err := lookupRecords(ctx, r, name, func(t string) bool {
		rest, ok := strings.CutPrefix(t, version)
		return ok && (rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t')
	})
	if len(recs) > 0 {
		first = recs[0]
	}
	return first, len(recs), err
}

// checkSPF fills rep.SPF.
func (rep *Report) checkSPF(ctx context.Context, r dnsclient.Resolver, ip string) []string {
	s := &SPFReport{}
	rep.SPF = s
	recs, err := lookupRecords(ctx, r, rep.Domain, isSPFRecord)
	if err != nil {
		s.unanswered = true
		return []string{dnsFailure("The SPF record of "+rep.Domain, err)}
	}
	var fails []string
	switch len(recs) {
	case 0:
		s.problem("%s publishes no SPF record: receivers cannot tell which hosts may send its mail, and Gmail, Yahoo and Microsoft require SPF or DKIM. Publish a TXT record such as \"v=spf1 mx -all\" (or \"v=spf1 -all\" if it sends no mail).", rep.Domain)
	case 1:
		s.Record = recs[0]
		w := countSPFLookups(ctx, r, rep.Domain, recs[0])
		s.SPFCount = w.SPFCount
		s.findings = w.findings
		fails = append(fails, w.dnsFailures...)
	default:
		s.Record = recs[0]
		s.problem("%s publishes %d SPF records; RFC 7208 §3.2 allows one, and receivers return permerror for all mail. Merge them into one record.", rep.Domain, len(recs))
	}
	if ip == "" {
		return fails
	}
	c := sendercheck.SPF(ctx, r, rep.Domain, ip, "")
	s.Result = &c
	switch c.Result {
	case sendercheck.ResultFail, sendercheck.ResultSoftFail:
		s.problem("%s Receivers reject or junk mail from %s in the name of %s: add ip4:/ip6: for it (or the include: of the provider that sends for you) to the SPF record.", sentence(c.Detail), ip, rep.Domain)
	case sendercheck.ResultNeutral:
		s.warn("%s Neutral neither authorises nor forbids the IP, which receivers treat like no SPF.", sentence(c.Detail))
	case sendercheck.ResultPermError:
		if len(s.Problems) == 0 {
			s.problem("%s With permerror receivers treat the mail as failing SPF: fix the record.", sentence(c.Detail))
		}
	case sendercheck.ResultTempError:
		fails = append(fails, fmt.Sprintf("The SPF result of %s for %s could not be computed (temperror): %s", rep.Domain, ip, c.Detail))
	}
	return fails
}

// checkDMARC fills rep.DMARC.
func (rep *Report) checkDMARC(ctx context.Context, r dnsclient.Resolver) []string {
	c := sendercheck.DMARC(ctx, r, rep.Domain)
	d := &DMARCReport{Result: c.Result, Record: dmarcRecord(c.Records), Detail: c.Detail, Policy: c.DMARC}
	rep.DMARC = d
	switch d.Result {
	case sendercheck.ResultAbsent:
		d.problem("%s publishes no DMARC record (at _dmarc.%s or its organizational domain): anyone can send mail in its name unnoticed, and Gmail and Yahoo require one of bulk senders. Publish a TXT record at _dmarc.%s such as \"v=DMARC1; p=none; rua=mailto:dmarc@%s\", then tighten p= once the reports are clean.", rep.Domain, rep.Domain, rep.Domain, rep.Domain)
	case sendercheck.ResultPermError:
		d.problem("The DMARC record of %s cannot be used: %s Receivers ignore it, as if there were none; fix the record (\"v=DMARC1; p=...\", one record only).", rep.Domain, d.Detail)
	case sendercheck.ResultTempError:
		return []string{fmt.Sprintf("The DMARC record of %s could not be looked up: %s", rep.Domain, d.Detail)}
	case sendercheck.ResultNone:
		d.warn("The DMARC policy of %s is p=none: receivers only report, nothing is refused in its name. Move to quarantine or reject once the aggregate reports show all legitimate mail passing.", rep.Domain)
	}
	if rec := d.Policy; rec != nil && len(rec.RUA) == 0 && d.Result != sendercheck.ResultAbsent {
		d.warn("The DMARC record of %s has no rua= address: nobody receives the aggregate reports that show who sends in its name.", rep.Domain)
	}
	return nil
}

// dmarcRecord finds the text of the DMARC record among the check's
// records ("NAME TXT \"quoted\"").
func dmarcRecord(records []string) string {
	for _, r := range slices.Backward(records) {
		f := strings.SplitN(r, " ", 3)
		if len(f) < 3 || f[1] != "TXT" {
			continue
		}
		v, err := strconv.Unquote(f[2])
		if err == nil && len(v) >= 8 && strings.EqualFold(v[:8], "v=DMARC1") {
			return v
		}
	}
	return ""
}

// checkMTASTS fills rep.MTASTS; the policy's mx patterns are compared with
// the MX hosts found before.
func (rep *Report) checkMTASTS(ctx context.Context, r dnsclient.Resolver, client *http.Client) []string {
	m := &MTASTSReport{}
	rep.MTASTS = m
	name := "_mta-sts." + rep.Domain
	rec, n, err := versionRecord(ctx, r, name, "v=STSv1")
	m.Record = rec
	switch {
	case err != nil:
		m.unanswered = true
		return []string{dnsFailure("The MTA-STS record ("+name+")", err)}
	case n == 0:
		return nil // MTA-STS is optional; its absence is shown, not a problem
	case n > 1:
		m.problem("%s has %d MTA-STS records; RFC 8461 §3.1 tells senders to ignore them all, so the domain has no MTA-STS. Keep one.", name, n)
		return nil
	}
	m.ID, err = ParseSTSRecord(m.Record)
	if err != nil {
		m.problem("The MTA-STS record at %s is invalid (%v): senders ignore it, so the domain has no MTA-STS. It should read \"v=STSv1; id=20240101T000000\".", name, err)
		return nil
	}
	f := fetchSTSPolicy(ctx, client, rep.Domain)
	m.PolicyText = truncate(f.text, 4096)
	m.Policy = f.policy
	if f.warning != "" {
		m.warn("%s", f.warning)
	}
	if f.err != nil {
		rt := f.resultType
		m.ResultType = &rt
		m.problem("The MTA-STS record exists but the policy at https://mta-sts.%s/.well-known/mta-sts.txt cannot be used (%s: %v): senders treat the domain as having no MTA-STS, and TLS-RPT reports this failure. Serve a valid policy over HTTPS with a certificate for mta-sts.%s, or remove the _mta-sts record.", rep.Domain, rt, f.err, rep.Domain)
		return nil
	}
	p := f.policy
	if p.MaxAge < 86400 && p.Mode != "none" {
		m.warn("The MTA-STS policy of %s has max_age %d, under a day: senders forget it quickly, which weakens the protection against downgrade; RFC 8461 suggests weeks (e.g. 604800 or more).", rep.Domain, p.MaxAge)
	}
	if p.MaxAge > maxMaxAge {
		m.warn("The MTA-STS policy of %s has max_age %d, above the maximum of %d (one year) in RFC 8461 §3.2; senders may cap or refuse it.", rep.Domain, p.MaxAge, maxMaxAge)
	}
	if p.Mode == "none" {
		return nil
	}
	for _, h := range rep.MX {
		if !p.Matches(h.Host) {
			verb := "refuse to deliver"
			if p.Mode == "testing" {
				verb = "report a failure (mode testing) when delivering"
			}
			m.problem("MX host %s is not allowed by the MTA-STS policy of %s (mx: %s): senders that apply it %s there. Add it to the policy's mx lines (and change the id= of the _mta-sts record).", h.Host, rep.Domain, strings.Join(p.MX, ", "), verb)
		}
	}
	return nil
}

// checkTLSRPT fills rep.TLSRPT.
func (rep *Report) checkTLSRPT(ctx context.Context, r dnsclient.Resolver) []string {
	t := &TLSRPTReport{RUA: []string{}}
	rep.TLSRPT = t
	name := "_smtp._tls." + rep.Domain
	rec, n, err := versionRecord(ctx, r, name, "v=TLSRPTv1")
	t.Record = rec
	switch {
	case err != nil:
		t.unanswered = true
		return []string{dnsFailure("The TLS-RPT record ("+name+")", err)}
	case n == 0:
		return nil
	case n > 1:
		t.problem("%s has %d TLS-RPT records; RFC 8460 §3 tells senders to use none of them. Keep one.", name, n)
		return nil
	}
	rua, err := ParseTLSRPTRecord(t.Record)
	if err != nil {
		t.problem("The TLS-RPT record at %s is invalid (%v): senders send no TLS reports. It should read \"v=TLSRPTv1; rua=mailto:tls-reports@%s\".", name, err, rep.Domain)
		return nil
	}
	t.RUA = rua
	return nil
}

// checkDKIM fills rep.DKIM: the key record of the selector, parsed as a
// verifier does (dkimsign.ParseKeyRecord).
func (rep *Report) checkDKIM(ctx context.Context, r dnsclient.Resolver) []string {
	d := &DKIMReport{Selector: rep.DKIMSelector, Name: rep.DKIMSelector + "._domainkey." + rep.Domain}
	rep.DKIM = d
	txts, err := r.LookupTXT(ctx, d.Name)
	if err != nil && !isNotFound(err) {
		d.unanswered = true
		return []string{dnsFailure("The DKIM key record ("+d.Name+")", err)}
	}
	var keys []string
	for _, t := range txts {
		if dkimsign.LooksLikeKeyRecord(t) {
			keys = append(keys, t)
		}
	}
	switch {
	case len(keys) == 0:
		d.problem("No DKIM key is published at %s: mail signed with selector %q fails DKIM (no key). Publish the selector's public key there as a TXT record \"v=DKIM1; k=rsa; p=...\", or check the selector name.", d.Name, d.Selector)
		return nil
	case len(txts) > 1:
		d.Record = keys[0]
		d.problem("%s has %d TXT records; with more than one, verifiers may pick the wrong one or fail (RFC 6376 §3.6.2.2). Keep only the key record there.", d.Name, len(txts))
		return nil
	}
	d.Record = keys[0]
	rec, err := dkimsign.ParseKeyRecord(d.Record)
	if err != nil {
		d.problem("The DKIM key record at %s is invalid (%v): every signature with selector %q fails (permerror). Publish the key again as \"v=DKIM1; k=rsa; p=BASE64\".", d.Name, err, d.Selector)
		return nil
	}
	d.KeyType = rec.KeyType
	d.Testing = rec.Testing()
	if rec.Revoked {
		d.problem("The DKIM key at %s is revoked (empty p=): every signature with selector %q fails. Sign with a selector whose key is published, or publish the key again.", d.Name, d.Selector)
		return nil
	}
	if k, ok := rec.PublicKey.(interface{ Size() int }); ok && rec.KeyType == "rsa" {
		d.KeyBits = k.Size() * 8
		switch {
		case d.KeyBits < dkimsign.MinRSABits:
			d.problem("The DKIM key at %s is RSA of %d bits; RFC 8301 §3.2 makes verifiers refuse keys under %d bits, so every signature fails. Generate a 2048-bit key and publish it.", d.Name, d.KeyBits, dkimsign.MinRSABits)
		case d.KeyBits < 2048:
			d.warn("The DKIM key at %s is RSA of %d bits; RFC 8301 §3.2 says signers should use 2048 bits, and some receivers already distrust 1024.", d.Name, d.KeyBits)
		}
	}
	if rec.PKCS1 {
		d.warn("The DKIM key at %s is a bare RSAPublicKey, not the SubjectPublicKeyInfo RFC 6376 specifies: some verifiers fail it. Publish the key in the usual form (openssl rsa -pubout).", d.Name)
	}
	if !rec.AllowsSHA256() {
		d.problem("The DKIM key at %s excludes sha256 (h=%s): signatures made today (rsa-sha256, ed25519-sha256) fail. Remove h= or set h=sha256.", d.Name, strings.Join(rec.Hashes, ":"))
	}
	if !rec.AllowsEmail() {
		d.problem("The DKIM key at %s does not allow email (s=%s): verifiers fail mail signatures. Remove s= or set s=email.", d.Name, strings.Join(rec.Services, ":"))
	}
	if d.Testing {
		d.warn("The DKIM key at %s has t=y (testing): receivers may treat signed mail as unsigned. Remove t=y once signing works.", d.Name)
	}
	return nil
}

// checkIP fills PTR and DNSBL for the IP.
func (rep *Report) checkIP(ctx context.Context, r dnsclient.Resolver, zones []string) []string {
	var ptr sendercheck.Check
	checks := make([]sendercheck.Check, len(zones))
	boundedEach(len(zones)+1, func(i int) {
		if i == len(zones) {
			ptr = sendercheck.PTR(ctx, r, rep.IP)
			return
		}
		checks[i] = sendercheck.DNSBL(ctx, r, zones[i], rep.IP)
	})
	rep.PTR = &ptr
	rep.DNSBL = checks
	var fails []string
	if ptr.Result == sendercheck.ResultTempError {
		fails = append(fails, fmt.Sprintf("The reverse DNS of %s could not be looked up: %s", rep.IP, ptr.Detail))
	}
	for _, c := range checks {
		if c.Result == sendercheck.ResultTempError {
			fails = append(fails, fmt.Sprintf("The DNSBL %s could not be asked about %s: %s", c.Subject, rep.IP, c.Detail))
		}
	}
	return fails
}

// ipFindings are the problems and warnings about the IP, built after the
// checks so that they need no lock.
func (rep *Report) ipFindings() (out, warnings []string) {
	if rep.PTR != nil {
		switch rep.PTR.Result {
		case sendercheck.ResultFail, sendercheck.ResultNone:
			out = append(out, fmt.Sprintf("%s Ask whoever runs %s (your provider) for a PTR record naming a host whose A/AAAA record is %s again.", sentence(rep.PTR.Detail), rep.IP, rep.IP))
		}
	}
	for _, c := range rep.DNSBL {
		switch c.Result {
		case sendercheck.ResultListed:
			how := ""
			if c.DelistURL != "" {
				how = " Delisting: " + c.DelistURL + "."
			}
			out = append(out, fmt.Sprintf("%s Receivers using that list refuse mail from %s: find and stop the cause (an infected host, an open relay, a bad campaign), then request removal.%s", sentence(c.Detail), rep.IP, how))
		case sendercheck.ResultRefused:
			warnings = append(warnings, fmt.Sprintf("The DNSBL %s would not answer about %s (%s), so nothing is known: many lists refuse queries from public resolvers; ask through your own resolver (--dns-server).", c.Subject, rep.IP, c.Detail))
		}
	}
	return out, warnings
}
