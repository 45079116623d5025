package sendercheck

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// maxConcurrent bounds the checks Run makes at once: each may send a dozen
// queries (SPF includes), and a resolver flooded by one probe answers
// SERVFAIL or rate-limits DNSBL queries.
const maxConcurrent = 6

// Input says what Run checks.
type Input struct {
	IP             string   // the probe's source address, as it connected
	ReportedIP     string   // the address the server says it saw (ReportedIP of its reply); preferred over IP when set, as NAT may hide the real one
	EHLOName       string   // the name the probe gave in EHLO/HELO
	MailFromDomain string   // the envelope sender's domain; "" for the null sender (SPF then checks the EHLO name)
	FromDomain     string   // the From: header's domain (DMARC); MailFromDomain when ""
	Zones          []string // DNSBL zones; nil: DefaultDNSBLZones
	// Checks names the checks to make (NamePTR, ...; CategoryChecks gives
	// those of a diagnosis); empty: every check the input allows.
	// NameDKIMKey is not made here (see dkimsign).
	Checks []string
	// ExpectListed says the zones were named by a refusal, so a listing
	// is likely: each list is asked its test address and reason together
	// with the listing (DNSBLExpectingListing), saving round trips.
	ExpectListed bool
}

// SourceIP is the address the checks use: the one the server reported,
// else the probe's own.
func (in Input) SourceIP() string {
	if strings.TrimSpace(in.ReportedIP) != "" {
		return strings.TrimSpace(in.ReportedIP)
	}
	return strings.TrimSpace(in.IP)
}

func (in Input) wants(name string) bool {
	return len(in.Checks) == 0 || slices.Contains(in.Checks, name)
}

// Run makes the checks the input allows, concurrently but at most a few at
// a time, each bounded by ctx, and returns them in a fixed order: ptr,
// helo, spf, dmarc, sender-domain, then one dnsbl per zone. A check the
// input gives no subject for (no IP for ptr, no domain for dmarc) is not
// made. When both the From: and the envelope domains are known, the dmarc
// detail says whether SPF can align.
func Run(ctx context.Context, r dnsclient.Resolver, in Input) []Check {
	ip := in.SourceIP()
	fromDomain := strings.TrimSpace(in.FromDomain)
	if fromDomain == "" {
		fromDomain = strings.TrimSpace(in.MailFromDomain)
	}
	zones := in.Zones
	if zones == nil {
		zones = DefaultDNSBLZones()
	}

	var tasks []func() []Check
	if ip != "" && (in.wants(NamePTR) || in.wants(NameHELO)) {
		tasks = append(tasks, func() []Check {
			// HELO compares with the PTR names, so it waits for them.
			var out []Check
			m := &memoResolver{Resolver: r, ip: map[string]*memoIP{}}
			if in.wants(NameHELO) && in.EHLOName != "" {
				if a, err := parseIP(ip); err == nil {
					go m.LookupIP(ctx, family(a), strings.TrimSuffix(strings.ToLower(strings.TrimSpace(in.EHLOName)), "."))
				}
			}
			ptr := PTR(ctx, m, ip)
			if in.wants(NamePTR) {
				out = append(out, ptr)
			}
			if in.wants(NameHELO) && in.EHLOName != "" {
				out = append(out, HELO(ctx, m, in.EHLOName, ip, ptr.Names))
			}
			return out
		})
	} else if in.wants(NameHELO) && in.EHLOName != "" {
		tasks = append(tasks, func() []Check { return []Check{HELO(ctx, r, in.EHLOName, ip, nil)} })
	}
	if in.wants(NameSPF) && ip != "" && (in.MailFromDomain != "" || in.EHLOName != "") {
		tasks = append(tasks, func() []Check { return []Check{SPF(ctx, r, in.MailFromDomain, ip, in.EHLOName)} })
	}
	if in.wants(NameDMARC) && fromDomain != "" {
		tasks = append(tasks, func() []Check {
			c := DMARC(ctx, r, fromDomain)
			addAlignment(&c, fromDomain, in.MailFromDomain)
			return []Check{c}
		})
	}
	if in.wants(NameSenderDomain) && in.MailFromDomain != "" {
		tasks = append(tasks, func() []Check { return []Check{SenderDomain(ctx, r, in.MailFromDomain)} })
	}
	if in.wants(NameDNSBL) && ip != "" {
		for _, z := range zones {
			if in.ExpectListed {
				tasks = append(tasks, func() []Check { return []Check{DNSBLExpectingListing(ctx, r, z, ip)} })
			} else {
				tasks = append(tasks, func() []Check { return []Check{DNSBL(ctx, r, z, ip)} })
			}
		}
	}

	results := make([][]Check, len(tasks))
	sem := make(chan struct{}, maxConcurrent)
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Even with ctx done the task runs: its lookups fail at
			// once as temperror, and the caller sees which checks
			// were not made.
			sem <- struct{}{}
			defer func() { <-sem }()
			results[i] = task()
		}()
	}
	wg.Wait()
	var out []Check
	for _, cs := range results {
		out = append(out, cs...)
	}
	return out
}

// addAlignment adds to a dmarc check whether the envelope sender's domain
// can give an aligned SPF pass for fromDomain.
func addAlignment(c *Check, fromDomain, mailFromDomain string) {
	if c.DMARC == nil || mailFromDomain == "" {
		return
	}
	mf := strings.ToLower(strings.TrimSuffix(mailFromDomain, "."))
	aligned := Aligned(fromDomain, mf, c.DMARC.ASPF)
	c.DMARC.SPFAligned = &aligned
	if aligned {
		c.Detail += fmt.Sprintf(" The envelope sender domain %s aligns with it (aspf=%s), so an SPF pass counts for DMARC.", mf, c.DMARC.ASPF)
	} else {
		c.Detail += fmt.Sprintf(" The envelope sender domain %s does not align with it (aspf=%s): SPF cannot satisfy DMARC for this mail, only a DKIM signature aligned with %s can.", mf, c.DMARC.ASPF, OrgDomain(fromDomain))
	}
}

type memoIP struct {
	done chan struct{}
	ips  []net.IP
	err  error
}

// memoResolver shares address lookups of one host within a Run.
type memoResolver struct {
	dnsclient.Resolver
	mu sync.Mutex
	ip map[string]*memoIP
}

func (m *memoResolver) LookupIP(ctx context.Context, network, host string) ([]net.IP, error) {
	key := network + " " + strings.TrimSuffix(strings.ToLower(host), ".")
	m.mu.Lock()
	e, ok := m.ip[key]
	if !ok {
		e = &memoIP{done: make(chan struct{})}
		m.ip[key] = e
	}
	m.mu.Unlock()
	if !ok {
		e.ips, e.err = m.Resolver.LookupIP(ctx, network, host)
		close(e.done)
	}
	select {
	case <-e.done:
		return e.ips, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
