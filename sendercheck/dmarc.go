package sendercheck

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// DMARC finds the DMARC policy of domain (RFC 7489 §6.6.3, records read by
// github.com/emersion/go-msgauth/dmarc): the domain's _dmarc record, else
// its organizational domain's. Result is the policy that applies (none,
// quarantine, reject: sp= for a subdomain covered by its organizational
// domain's record), absent, temperror, or permerror (a record that cannot
// be read, several records, or a domain that is not one). Detail gives p,
// sp, pct and the alignment modes; DMARC holds them.
func DMARC(ctx context.Context, r dnsclient.Resolver, domain string) Check {
	c := Check{Name: NameDMARC, Subject: domain}
	d, err := normDomain(domain)
	if err != nil {
		c.Result = ResultPermError
		c.Detail = fmt.Sprintf("No DMARC lookup: %v.", err)
		return c
	}
	c.Subject = d
	org := OrgDomain(d)

	found := d
	l := lookupDMARC(ctx, r, d)
	if l.absent && org != d {
		found = org
		l = lookupDMARC(ctx, r, org)
	}
	c.Records = l.records
	switch {
	case l.rcode != "":
		c.Result = ResultTempError
		c.RCode = l.rcode
		c.Detail = fmt.Sprintf("The DMARC record of %s could not be read (%s for _dmarc.%s); receivers defer or skip DMARC meanwhile.", d, l.failure, found)
		return c
	case l.absent:
		c.Result = ResultAbsent
		c.Detail = fmt.Sprintf("%s publishes no DMARC record (_dmarc.%s)", d, d)
		if org != d {
			c.Detail += fmt.Sprintf(", nor does its organizational domain (_dmarc.%s)", org)
		}
		c.Detail += ": receivers apply their own policy; Gmail and Yahoo require one from bulk senders."
		return c
	case l.err != nil:
		c.Result = ResultPermError
		c.Detail = fmt.Sprintf("The DMARC record at _dmarc.%s is invalid (%s); receivers ignore it, as if there were none.", found, strings.TrimPrefix(l.err.Error(), "dmarc: "))
		return c
	}

	rec := l.rec
	info := &DMARCRecord{
		Domain:          found,
		OrgDomain:       org,
		Policy:          string(rec.Policy),
		SubdomainPolicy: string(rec.SubdomainPolicy),
		Applied:         string(rec.Policy),
		Percent:         100,
		ADKIM:           alignmentOrDefault(rec.DKIMAlignment),
		ASPF:            alignmentOrDefault(rec.SPFAlignment),
		RUA:             rec.ReportURIAggregate,
	}
	if rec.Percent != nil {
		info.Percent = *rec.Percent
	}
	// RFC 7489 §6.3: sp applies to subdomains when the record is the
	// organizational domain's; without sp, p does.
	if found != d && rec.SubdomainPolicy != "" {
		info.Applied = string(rec.SubdomainPolicy)
	}
	c.DMARC = info
	c.Result = info.Applied

	var b strings.Builder
	if found != d {
		fmt.Fprintf(&b, "%s has no DMARC record of its own; that of its organizational domain %s applies: ", d, found)
	} else {
		fmt.Fprintf(&b, "DMARC of %s: ", d)
	}
	fmt.Fprintf(&b, "p=%s", info.Policy)
	if info.SubdomainPolicy != "" {
		fmt.Fprintf(&b, ", sp=%s", info.SubdomainPolicy)
	}
	fmt.Fprintf(&b, ", pct=%d, aspf=%s, adkim=%s. ", info.Percent, info.ASPF, info.ADKIM)
	switch info.Applied {
	case string(dmarc.PolicyReject):
		b.WriteString("Receivers are asked to reject mail whose From: is " + d + " unless SPF or DKIM passes aligned with it")
	case string(dmarc.PolicyQuarantine):
		b.WriteString("Receivers are asked to treat as spam mail whose From: is " + d + " unless SPF or DKIM passes aligned with it")
	default:
		b.WriteString("Receivers are asked to take no action on failing mail (monitoring only)")
	}
	if info.Percent < 100 && info.Applied != string(dmarc.PolicyNone) {
		fmt.Fprintf(&b, ", for %d%% of it", info.Percent)
	}
	b.WriteString("; alignment is possible for ")
	b.WriteString(alignmentScope(d, info.ASPF, info.ADKIM))
	b.WriteString(".")
	c.Detail = b.String()
	return c
}

// alignmentScope says which authenticated domains can align with d.
func alignmentScope(d, aspf, adkim string) string {
	org := OrgDomain(d)
	relaxed := func(mode string) string {
		if mode == string(dmarc.AlignmentStrict) {
			return d + " exactly"
		}
		return org + " and any name under it"
	}
	if aspf == adkim {
		return "SPF and DKIM domains " + relaxed(aspf)
	}
	return "SPF domains " + relaxed(aspf) + ", DKIM domains " + relaxed(adkim)
}

func alignmentOrDefault(m dmarc.AlignmentMode) string {
	if m == "" {
		return string(dmarc.AlignmentRelaxed)
	}
	return string(m)
}

// dmarcLookup is what one _dmarc lookup found.
type dmarcLookup struct {
	rec     *dmarc.Record
	records []string // the DMARC records, quoted
	absent  bool     // no such name, or no DMARC record among its TXT records
	rcode   string   // set on a temporary DNS failure
	failure string   // its description
	err     error    // a record that cannot be used
}

// lookupDMARC reads the DMARC record at _dmarc.domain. The library parses
// the record; the TXT answer is kept here to tell "no record" from "a
// record the library could not read", which it reports alike, and to
// refuse several records as RFC 7489 §6.6.3 says, where it takes the
// first.
func lookupDMARC(ctx context.Context, r dnsclient.Resolver, domain string) dmarcLookup {
	var txts []string
	var lookupErr error
	rec, err := dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{
		LookupTXT: func(name string) ([]string, error) {
			txts, lookupErr = r.LookupTXT(ctx, name)
			return txts, lookupErr
		},
	})
	var l dmarcLookup
	name := "_dmarc." + domain
	var candidates []string
	for _, t := range txts {
		// RFC 7489 §6.6.3: records not starting with "v=DMARC1" are
		// discarded; the library is stricter about the spelling, so
		// compare loosely here and let it judge the rest.
		if strings.HasPrefix(strings.ToLower(strings.TrimSpace(t)), "v=dmarc1") {
			candidates = append(candidates, t)
			l.records = append(l.records, record(name, "TXT", t))
		}
	}
	switch {
	case lookupErr != nil && dnsclient.IsTemporary(lookupErr):
		l.rcode, l.failure = dnsFailure(lookupErr)
		return l
	case lookupErr != nil && isNotFound(lookupErr):
		l.absent = true
		return l
	case lookupErr != nil:
		l.err = fmt.Errorf("lookup of %s: %w", name, lookupErr)
		return l
	case len(candidates) == 0:
		l.absent = true
		return l
	case len(candidates) > 1:
		l.err = fmt.Errorf("%d DMARC records where RFC 7489 §6.6.3 allows one", len(candidates))
		return l
	case errors.Is(err, dmarc.ErrNoPolicy):
		l.err = fmt.Errorf("the record %q does not parse as tag=value pairs separated by semicolons, starting with v=DMARC1", clip(candidates[0], 120))
		return l
	case err != nil:
		l.err = err
		return l
	}
	l.rec = rec
	return l
}

// OrgDomain is the organizational domain of domain (RFC 7489 §3.2: the
// public suffix plus one label, from golang.org/x/net/publicsuffix), or
// domain itself when it is a public suffix or not a name.
func OrgDomain(domain string) string {
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// Aligned reports whether authDomain (the SPF-checked MAIL FROM domain or
// a DKIM d=) aligns with fromDomain (the From: header's domain) under mode
// "s" (strict: the same name) or "r" (relaxed, the default: the same
// organizational domain), as RFC 7489 §3.1 defines.
func Aligned(fromDomain, authDomain, mode string) bool {
	from := strings.ToLower(strings.TrimSuffix(fromDomain, "."))
	auth := strings.ToLower(strings.TrimSuffix(authDomain, "."))
	if from == "" || auth == "" {
		return false
	}
	if mode == string(dmarc.AlignmentStrict) {
		return from == auth
	}
	return OrgDomain(from) == OrgDomain(auth)
}
