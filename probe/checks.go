package probe

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
	"github.com/smtpprobe/smtpprobe/smtpclient"
)

// checkedCategories are the diagnoses about the sender's identity that the
// sender checks can confirm or contradict; for these the checks run
// without being asked (--check-sender runs them for any session).
var checkedCategories = []string{"ip-blocklisted", "ip-reputation", "rdns-ptr", "spf-fail", "dkim-fail", "dmarc-policy", "sender-domain-invalid"}

// maxCheckWait bounds how long the end of a session waits for the checks
// that were started at connect: they run under the same --timeout as
// every other lookup, and a dead resolver must not hold the report.
const maxCheckWait = 30 * time.Second

// senderChecks starts the identity checks as soon as the egress address
// is known, so they run while the session goes on, and decides at the end
// whether they are reported: with --check-sender, or when the diagnosis is
// about the sender's identity.
type senderChecks struct {
	r        dnsclient.Resolver
	explicit bool     // --check-sender
	zones    []string // --dnsbl
	// mayQuery is false for a loopback egress address without
	// --dns-server: a receiver on loopback sees loopback, and the checks
	// would only send the system resolver questions about test domains.
	mayQuery       bool
	mailFromDomain string
	fromDomain     string
	timeout        time.Duration

	ctx    context.Context
	cancel context.CancelFunc

	// dkim is the published-key check of a signed message, started
	// before connecting; nil when not signing.
	dkim chan sendercheck.Check

	mu      sync.Mutex
	ip      string
	ehlo    string
	early   chan []sendercheck.Check // the checks started at connect; nil until then
	skipped string                   // why nothing was checked
}

func newSenderChecks(ctx context.Context, o Options, r dnsclient.Resolver) *senderChecks {
	c := &senderChecks{
		r: r, explicit: o.CheckSender, zones: o.DNSBLZones,
		mailFromDomain: domainOf(o.From), fromDomain: domainOf(o.Message.From), timeout: timeoutOr(o.Timeout),
	}
	if c.fromDomain == "" {
		c.fromDomain = c.mailFromDomain
	}
	c.ctx, c.cancel = context.WithCancel(ctx)
	return c
}

// startDKIM fetches SELECTOR._domainkey.DOMAIN and compares it with the
// signing key while the session goes on; the user asked for signing, so
// the result is always reported.
func (c *senderChecks) startDKIM(o dkimsign.Options) {
	ch := make(chan sendercheck.Check, 1)
	c.dkim = ch
	if c.r == nil {
		ch <- sendercheck.Check{Name: sendercheck.NameDKIMKey, Subject: o.Selector + "._domainkey." + o.Domain, Result: sendercheck.ResultTempError, Detail: "no DNS client for the check", Records: []string{}}
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		defer cancel()
		ch <- dkimsign.CheckPublishedKey(ctx, c.r, o)
	}()
}

// onEgress is smtpclient's OnEgress: it starts the checks that need only
// the egress address, the EHLO name and the sender's domains.
func (c *senderChecks) onEgress(ip, ehlo string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ip, c.ehlo = ip, ehlo
	if c.r == nil {
		c.skipped = "no DNS client for the checks"
		return
	}
	if addr, err := netip.ParseAddr(ip); err == nil && addr.IsLoopback() && !c.mayQuery {
		c.skipped = "the egress address " + ip + " is loopback: a receiver on this machine sees no public address to check (give --dns-server to check against your own DNS anyway)"
		return
	}
	ch := make(chan []sendercheck.Check, 1)
	c.early = ch
	in := sendercheck.Input{IP: ip, EHLOName: ehlo, MailFromDomain: c.mailFromDomain, FromDomain: c.fromDomain,
		Checks: []string{sendercheck.NamePTR, sendercheck.NameHELO, sendercheck.NameSPF, sendercheck.NameDMARC, sendercheck.NameSenderDomain}}
	// Block lists are asked only when named (--dnsbl) or when every
	// check was asked for (--check-sender adds the default lists); the
	// lists a refusal names are asked at the end.
	switch {
	case c.explicit:
		in.Zones = append(append([]string(nil), c.zones...), sendercheck.DefaultDNSBLZones()...)
	case len(c.zones) > 0:
		in.Zones = c.zones
	}
	if len(in.Zones) > 0 {
		in.Checks = append(in.Checks, sendercheck.NameDNSBL)
	}
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		defer cancel()
		ch <- sendercheck.Run(ctx, c.r, in)
	}()
}

// finish decides whether the checks are reported, completes them with what
// the session's refusal said (the address the server saw, the lists it
// named), and puts their verdict into the diagnosis. It returns the checks
// to report (nil when none are).
func (c *senderChecks) finish(res *smtpclient.Result, d *diagnose.Diagnosis) []sendercheck.Check {
	defer c.cancel()
	var dkim []sendercheck.Check
	if c.dkim != nil {
		select {
		case k := <-c.dkim:
			dkim = []sendercheck.Check{k}
		case <-time.After(maxCheckWait):
		}
	}
	wanted := c.explicit || (d != nil && slices.Contains(checkedCategories, d.Category))
	if !wanted {
		return dkim
	}
	checks := c.identity(res, d, dkim)
	return checks
}

// identity completes and judges the identity checks; dkim is the key
// check, when signing.
func (c *senderChecks) identity(res *smtpclient.Result, d *diagnose.Diagnosis, dkim []sendercheck.Check) []sendercheck.Check {
	c.mu.Lock()
	early, skipped, ip, ehlo := c.early, c.skipped, c.ip, c.ehlo
	c.mu.Unlock()
	if early == nil {
		if skipped == "" {
			skipped = "the session ended before the egress address was known"
		}
		if d != nil {
			d.Confirmation = "not-checked"
			d.Evidence = append(d.Evidence, "sender checks not made: "+skipped)
			if len(dkim) > 0 {
				conf := sendercheck.Confirm(d.Category, dkim)
				d.Confirmation = conf.Status
				d.Evidence = append(d.Evidence, conf.Evidence...)
			}
		}
		return dkim
	}
	checks := dkim
	select {
	case got := <-early:
		checks = append(checks, got...)
	case <-time.After(maxCheckWait):
	}
	lines := replyLines(res)
	extra := sendercheck.Input{IP: ip, EHLOName: ehlo, MailFromDomain: c.mailFromDomain}
	// The address the receiver saw (NAT) is the one that counts: the
	// IP-bound checks are made again for it, with every list asked so far.
	if rep := sendercheck.ReportedIP(lines); rep != "" && rep != ip {
		extra.ReportedIP = rep
		extra.Checks = []string{sendercheck.NamePTR, sendercheck.NameHELO, sendercheck.NameSPF}
		extra.Zones = dnsblZones(checks)
	}
	for _, z := range sendercheck.ZonesInReply(lines) {
		if !slices.Contains(extra.Zones, z) && (extra.ReportedIP != "" || !checkedZone(checks, z)) {
			extra.Zones = append(extra.Zones, z)
		}
	}
	if len(extra.Zones) > 0 {
		extra.Checks = append(extra.Checks, sendercheck.NameDNSBL)
	}
	if len(extra.Checks) > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		checks = append(checks, sendercheck.Run(ctx, c.r, extra)...)
		cancel()
	}
	if d != nil {
		conf := sendercheck.Confirm(d.Category, checks)
		if !slices.Contains(checkedCategories, d.Category) && conf.Status == "" {
			conf.Status = "not-checked"
		}
		d.Confirmation = conf.Status
		d.Evidence = append(d.Evidence, conf.Evidence...)
		d.NextSteps = append(conf.NextSteps, d.NextSteps...)
	}
	return checks
}

// dnsblZones are the lists the checks asked.
func dnsblZones(checks []sendercheck.Check) []string {
	var zones []string
	for _, c := range checks {
		if c.Name == sendercheck.NameDNSBL && !slices.Contains(zones, c.Subject) {
			zones = append(zones, c.Subject)
		}
	}
	return zones
}

// checkedZone reports whether zone was asked already.
func checkedZone(checks []sendercheck.Check, zone string) bool {
	for _, c := range checks {
		if c.Name == sendercheck.NameDNSBL && strings.EqualFold(c.Subject, zone) {
			return true
		}
	}
	return false
}

// replyLines are the texts that may name the client's address or a block
// list: the failing reply and the banner.
func replyLines(res *smtpclient.Result) []string {
	var lines []string
	if res == nil {
		return nil
	}
	if res.Reply != nil {
		lines = append(lines, res.Reply.Lines...)
	}
	for _, r := range res.RcptReplies {
		lines = append(lines, r.Lines...)
	}
	if res.Banner != nil {
		lines = append(lines, res.Banner.Lines...)
	}
	return lines
}
