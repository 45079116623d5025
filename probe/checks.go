package probe

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// checkedCategories are the diagnoses about the sender's identity that the
// sender checks can confirm or contradict; for these the checks run
// without being asked (--check-sender runs them for any session).
var checkedCategories = []string{"ip-blocklisted", "ip-reputation", "rdns-ptr", "spf-fail", "dkim-fail", "dmarc-policy", "sender-domain-invalid"}

// maxCheckWait bounds how long the end of a session waits for the checks
// still running: they started with the session, and a dead resolver (three
// tries of 2 s per server) must not hold the report for long.
const maxCheckWait = 8 * time.Second

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
	// late are the checks a refusal called for (the address the server
	// saw, the lists it named), started as the refusal arrived.
	late []chan []sendercheck.Check
	// lateAsked are the (ip, zone) and (ip, check) pairs already started
	// there, so a second refusal naming the same list asks nothing twice.
	lateAsked  map[string]bool
	earlyZones []string // the lists asked at connect
	reportedIP string   // the client address a refusal named, when not ours
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
	if c.ip != "" {
		return // --all-mx: the first connection of the run started them
	}
	c.ip, c.ehlo = ip, ehlo
	if c.r == nil {
		if c.skipped == "" {
			c.skipped = "no DNS client for the checks"
		}
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
		in.Zones = c.zones
		for _, z := range sendercheck.DefaultDNSBLZones() {
			// A default list also given with --dnsbl is asked once.
			if !slices.ContainsFunc(in.Zones, func(u string) bool { return strings.EqualFold(strings.TrimSuffix(u, "."), z) }) {
				in.Zones = append(in.Zones, z)
			}
		}
	case len(c.zones) > 0:
		in.Zones = c.zones
	}
	if len(in.Zones) > 0 {
		in.Checks = append(in.Checks, sendercheck.NameDNSBL)
	}
	c.earlyZones = in.Zones
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		defer cancel()
		ch <- sendercheck.Run(ctx, c.r, in)
	}()
}

// onRefusal is smtpclient's OnRefusal: the client address a refusal
// names and the block lists it names are checked at once, while the
// session says goodbye, rather than after it.
func (c *senderChecks) onRefusal(lines []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.early == nil {
		return // nothing may be asked (loopback, no DNS)
	}
	if c.lateAsked == nil {
		c.lateAsked = map[string]bool{}
	}
	extra := sendercheck.Input{IP: c.ip, EHLOName: c.ehlo, MailFromDomain: c.mailFromDomain, ExpectListed: true}
	ip := c.ip
	zones := sendercheck.ZonesInReply(lines)
	if rep := sendercheck.ReportedIP(lines); rep != "" && rep != c.ip {
		ip, extra.ReportedIP = rep, rep
		c.reportedIP = rep
		for _, name := range []string{sendercheck.NamePTR, sendercheck.NameHELO, sendercheck.NameSPF} {
			if !c.lateAsked[rep+" "+name] {
				c.lateAsked[rep+" "+name] = true
				extra.Checks = append(extra.Checks, name)
			}
		}
		// The lists asked for this side's address are asked for the
		// address the server saw too.
		zones = append(zones, c.earlyZones...)
	}
	for _, z := range zones {
		key := ip + " dnsbl " + strings.ToLower(z)
		if c.lateAsked[key] || (ip == c.ip && c.startedZone(z)) {
			continue
		}
		c.lateAsked[key] = true
		extra.Zones = append(extra.Zones, z)
	}
	if len(extra.Zones) > 0 {
		extra.Checks = append(extra.Checks, sendercheck.NameDNSBL)
	}
	if len(extra.Checks) == 0 {
		return
	}
	ch := make(chan []sendercheck.Check, 1)
	c.late = append(c.late, ch)
	go func() {
		ctx, cancel := context.WithTimeout(c.ctx, c.timeout)
		defer cancel()
		ch <- sendercheck.Run(ctx, c.r, extra)
	}()
}

// startedZone reports whether the checks started at connect ask zone.
func (c *senderChecks) startedZone(zone string) bool {
	for _, z := range c.earlyZones {
		if strings.EqualFold(z, zone) {
			return true
		}
	}
	return false
}

// finish decides whether the checks are reported, collects them, and
// puts their verdict into the diagnosis. It returns the checks to report
// (nil when none are). The wait after the session has one deadline for
// everything still running (checkWait, and never past ctx): a dead
// resolver costs the report its checks, not the user minutes.
func (c *senderChecks) finish(ctx context.Context, d *diagnose.Diagnosis) []sendercheck.Check {
	defer c.cancel()
	wait := time.NewTimer(c.checkWait())
	defer wait.Stop()
	late := false // a check did not finish in time
	interrupted := false
	collect := func(ch <-chan []sendercheck.Check) []sendercheck.Check {
		if late || interrupted {
			return nil
		}
		select {
		case got := <-ch:
			return got
		case <-wait.C:
			late = true
		case <-ctx.Done():
			interrupted = true
		}
		return nil
	}
	var dkim []sendercheck.Check
	if c.dkim != nil {
		dkimCh := make(chan []sendercheck.Check, 1)
		go func() {
			select {
			case k := <-c.dkim:
				dkimCh <- []sendercheck.Check{k}
			case <-c.ctx.Done():
			}
		}()
		dkim = collect(dkimCh)
	}
	wanted := c.explicit || (d != nil && slices.Contains(checkedCategories, d.Category))
	var checks []sendercheck.Check
	c.mu.Lock()
	early, skipped, lateChans, reported := c.early, c.skipped, c.late, c.reportedIP
	c.mu.Unlock()
	if wanted && early != nil {
		checks = append(checks, collect(early)...)
		for _, ch := range lateChans {
			checks = append(checks, collect(ch)...)
		}
	}
	all := append(dkim, checks...)
	if d == nil || !wanted {
		return all
	}
	if early == nil {
		if skipped == "" {
			skipped = "the session ended before the egress address was known"
		}
		d.Evidence = append(d.Evidence, "sender checks not made: "+skipped)
	}
	// The address the server saw is the one its refusal is about: the
	// checks of the local address are shown, but not used for the verdict.
	used := all
	if reported != "" {
		used = nil
		for _, k := range all {
			if k.IP == c.ip && (k.Name == sendercheck.NamePTR || k.Name == sendercheck.NameHELO || k.Name == sendercheck.NameSPF || k.Name == sendercheck.NameDNSBL) {
				continue
			}
			used = append(used, k)
		}
		d.Evidence = append(d.Evidence, "the server says it saw "+reported+" (this side's address is "+c.ip+"): the verdict rests on the checks of "+reported)
	}
	conf := sendercheck.Confirm(d.Category, used)
	switch {
	case interrupted:
		d.Evidence = append(d.Evidence, "interrupted while the sender checks were still running")
	case late:
		d.Evidence = append(d.Evidence, fmt.Sprintf("some sender checks did not finish within %s after the session (a slow or unreachable resolver): they are left out", c.checkWait()))
		if conf.Status == sendercheck.Confirmed || conf.Status == sendercheck.Contradicted {
			break
		}
		conf.Status = sendercheck.Inconclusive
	}
	if conf.Status == "" {
		conf.Status = sendercheck.NotChecked
	}
	d.Confirmation = conf.Status
	d.Evidence = append(d.Evidence, conf.Evidence...)
	d.NextSteps = append(conf.NextSteps, d.NextSteps...)
	return all
}

// checkWait bounds the wait for the checks once the session is over: the
// checks started with the session, so what is still running then is
// waiting on a slow resolver.
func (c *senderChecks) checkWait() time.Duration {
	return min(c.timeout, maxCheckWait)
}
