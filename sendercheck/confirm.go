package sendercheck

import (
	"fmt"
	"net/netip"
	"strings"
)

// Confirmation statuses (diagnosis.confirmation).
const (
	Confirmed    = "confirmed"
	Contradicted = "contradicted"
	Inconclusive = "inconclusive"
	NotChecked   = "not-checked"
)

// Confirmation is what the checks say about a diagnosis category.
type Confirmation struct {
	Status    string   `json:"status"`     // confirmed, contradicted, inconclusive, not-checked
	Evidence  []string `json:"evidence"`   // one line per check used, naming it
	NextSteps []string `json:"next_steps"` // concrete actions the checks point to
}

// CategoryChecks names the checks that bear on a diagnosis category (nil
// for categories no check confirms), so a caller can run only those.
func CategoryChecks(category string) []string {
	switch category {
	case "ip-blocklisted":
		return []string{NameDNSBL}
	case "ip-reputation":
		return []string{NameDNSBL, NamePTR}
	case "rdns-ptr":
		return []string{NamePTR, NameHELO}
	case "spf-fail":
		return []string{NameSPF}
	case "dkim-fail":
		return []string{NameDKIMKey, NameDMARC}
	case "dmarc-policy":
		return []string{NameDMARC, NameSPF, NameDKIMKey}
	case "sender-domain-invalid":
		return []string{NameSenderDomain}
	}
	return nil
}

// Confirm says whether checks confirm the diagnosis category: ip-blocklisted
// (dnsbl), ip-reputation (dnsbl, ptr), rdns-ptr (ptr, helo), spf-fail (spf),
// dkim-fail (dkim-key, dmarc), dmarc-policy (dmarc, spf, dkim-key),
// sender-domain-invalid (sender-domain). Other categories, or no relevant
// check, give not-checked.
//
// Confirmed needs a check that shows the cause now (a listing, a failing
// PTR...). A relevant check that could not be made (temperror, refused,
// permerror of the input) never confirms: without a confirming check it
// makes the status inconclusive. Contradicted means every relevant check
// was made and shows no such cause now, which the evidence words honestly
// (a listing may have expired; the receiver may use its own data).
func Confirm(category string, checks []Check) Confirmation {
	names := CategoryChecks(category)
	conf := Confirmation{Status: NotChecked, Evidence: []string{}, NextSteps: []string{}}
	var used []Check
	for _, c := range checks {
		for _, n := range names {
			if c.Name == n {
				used = append(used, c)
			}
		}
	}
	if len(used) == 0 {
		return conf
	}
	for _, c := range used {
		conf.Evidence = append(conf.Evidence, evidenceLine(c))
	}
	j := judge{conf: &conf}
	switch category {
	case "ip-blocklisted":
		j.blocklisted(used, false)
	case "ip-reputation":
		j.blocklisted(used, true)
	case "rdns-ptr":
		j.rdns(used)
	case "spf-fail":
		j.spf(used)
	case "dkim-fail":
		j.dkim(used)
	case "dmarc-policy":
		j.dmarc(used)
	case "sender-domain-invalid":
		j.senderDomain(used)
	}
	conf.Status = j.status()
	return conf
}

// evidenceLine is one line of evidence naming the check.
func evidenceLine(c Check) string {
	return fmt.Sprintf("%s %s: %s — %s", c.Name, c.Subject, c.Result, c.Detail)
}

// judge accumulates what the checks of one category show.
type judge struct {
	conf       *Confirmation
	confirming int // checks that show the cause
	unmade     int // checks that could not be made
	clean      int // checks made that show no such cause
	noCause    string
}

func (j *judge) status() string {
	switch {
	case j.confirming > 0:
		return Confirmed
	case j.unmade > 0:
		return Inconclusive
	case j.clean > 0:
		if j.noCause != "" {
			j.step(j.noCause)
		}
		return Contradicted
	}
	return Inconclusive
}

func (j *judge) step(s string) {
	for _, have := range j.conf.NextSteps {
		if have == s {
			return
		}
	}
	j.conf.NextSteps = append(j.conf.NextSteps, s)
}

// unmadeResult reports results that mean the check could not be made.
func unmadeResult(r string) bool {
	return r == ResultTempError || r == ResultRefused || r == "" || r == ResultPermError
}

func (j *judge) blocklisted(used []Check, reputation bool) {
	var zones []string
	for _, c := range used {
		switch {
		case c.Name == NameDNSBL && c.Result == ResultListed:
			j.confirming++
			if c.DelistURL != "" {
				j.step(fmt.Sprintf("Request removal of %s from %s: %s (first stop what got it listed: an open relay, a compromised account or script, unsolicited mail).", c.IP, c.Subject, c.DelistURL))
			} else {
				j.step(fmt.Sprintf("Request removal of %s from %s through the list's website, after stopping what got it listed.", c.IP, c.Subject))
			}
			if strings.Contains(c.Detail, "PBL") {
				j.step(fmt.Sprintf("%s is in an end-user range (Spamhaus PBL): send through your provider's smarthost or submission server instead of directly to MX servers, or have the address's owner remove it from the PBL if it is a real mail server.", c.IP))
			}
		case c.Name == NameDNSBL && c.Result == ResultNotListed:
			j.clean++
			zones = append(zones, c.Subject)
		case c.Name == NameDNSBL && unmadeResult(c.Result):
			j.unmade++
			if c.Result == ResultRefused {
				j.step(fmt.Sprintf("%s did not answer truthfully (%s): repeat the check through your own recursive resolver (--dns-server), not a public one.", c.Subject, c.Result))
			}
		case c.Name == NamePTR && (c.Result == ResultFail || c.Result == ResultNone):
			j.confirming++
			j.step(ptrStep(c, ""))
		case c.Name == NamePTR && c.Result == ResultPass:
			if ip, err := parseIP(c.IP); err == nil && len(c.Names) > 0 && looksGeneric(c.Names[0], ip) {
				j.confirming++
				j.step(fmt.Sprintf("The PTR name %s looks like a dynamic or residential address: ask the address's owner for a PTR naming your mail server, or relay through your provider's smarthost.", c.Names[0]))
			} else {
				j.clean++
			}
		case c.Name == NamePTR:
			j.unmade++
		}
	}
	switch {
	case reputation && len(zones) == 0:
		j.noCause = "The address's reverse DNS is in order and no blocklist was asked (--dnsbl, or --check-sender for the common ones): the receiver judges by its own data (volume, complaints, spam-trap hits); ask through its postmaster page or support, and warm up a new address slowly."
	case reputation:
		j.noCause = fmt.Sprintf("No blocklist checked (%s) lists the address and its reverse DNS is in order: the receiver judges by its own data (volume, complaints, spam-trap hits); ask through its postmaster page or support, and warm up a new address slowly.", strings.Join(zones, ", "))
	default:
		j.noCause = fmt.Sprintf("Not listed now in %s — the listing may have expired, or the receiver uses its own or another list: ask it which list, or use its delisting form.", strings.Join(zones, ", "))
	}
}

// ptrStep is the request to make of whoever controls the address's
// reverse zone: the PTR and the matching forward record.
func ptrStep(ptr Check, helo string) string {
	name := helo
	if name == "" && len(ptr.Names) > 0 {
		name = ptr.Names[0]
	}
	if name == "" {
		name = "mail.example.org (your mail server's name)"
	}
	ip := ptr.IP
	rtype := "A"
	if a, err := parseIP(ip); err == nil && a.Is6() {
		rtype = "AAAA"
	}
	return fmt.Sprintf("Ask the owner of %s (your ISP or hosting provider) for the PTR %s → %s, and publish %s %s %s; use %s as the EHLO name.", ip, ip, name, name, rtype, ip, name)
}

func (j *judge) rdns(used []Check) {
	var ptr, helo *Check
	for i := range used {
		switch used[i].Name {
		case NamePTR:
			ptr = &used[i]
		case NameHELO:
			helo = &used[i]
		}
	}
	goodHELO := ""
	if helo != nil && helo.Result == ResultPass && !strings.HasPrefix(helo.Subject, "[") {
		goodHELO = strings.ToLower(strings.TrimSuffix(helo.Subject, "."))
	}
	if ptr != nil {
		switch {
		case ptr.Result == ResultFail || ptr.Result == ResultNone:
			j.confirming++
			j.step(ptrStep(*ptr, heloCandidate(helo, goodHELO)))
		case ptr.Result == ResultPass:
			j.clean++
		default:
			j.unmade++
		}
	}
	if helo != nil {
		switch {
		case helo.Result == ResultFail:
			j.confirming++
			switch {
			case ptr != nil && ptr.Result == ResultPass && len(ptr.Names) > 0:
				j.step(fmt.Sprintf("Use the PTR name %s as the EHLO name (it resolves to %s).", ptr.Names[0], ptr.IP))
			case helo.IP != "" && validHost(helo.Subject):
				j.step(fmt.Sprintf("Publish %s %s %s, or use as EHLO name a host name that resolves to %s.", helo.Subject, addrTypeOf(helo.IP), helo.IP, helo.IP))
			default:
				j.step("Use as EHLO name the fully qualified host name of the sending server, one that resolves to its address.")
			}
		case helo.Result == ResultPass:
			j.clean++
		default:
			j.unmade++
		}
	}
	j.noCause = "The reverse DNS is forward-confirmed and the EHLO name resolves to the address now — it may have been fixed since, the receiver may have seen another address (NAT, IPv6), or it wants the EHLO name to equal the PTR name."
}

// heloCandidate is the EHLO name worth proposing as PTR name: one that
// resolves, or one that is at least a valid host name.
func heloCandidate(helo *Check, good string) string {
	if good != "" {
		return good
	}
	if helo != nil && validHost(helo.Subject) {
		return strings.ToLower(strings.TrimSuffix(helo.Subject, "."))
	}
	return ""
}

func validHost(s string) bool {
	_, err := fqdn(s)
	return err == nil
}

func addrTypeOf(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		return "AAAA"
	}
	return "A"
}

// spfAll is the all term that ends an SPF record quoted in Records, "" when
// there is none.
func spfAll(c Check) string {
	if len(c.Records) == 0 {
		return ""
	}
	_, txt, _ := strings.Cut(c.Records[0], " TXT ")
	fields := strings.Fields(strings.Trim(txt, `"`))
	for i := len(fields) - 1; i >= 0; i-- {
		f := strings.ToLower(fields[i])
		if strings.TrimLeft(f, "+-~?") == "all" {
			return f
		}
	}
	return ""
}

func spfAddTerm(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		return "ip6:" + ip
	}
	return "ip4:" + ip
}

func (j *judge) spf(used []Check) {
	for _, c := range used {
		switch c.Result {
		case ResultFail, ResultSoftFail:
			j.confirming++
			if all := spfAll(c); all != "" {
				j.step(fmt.Sprintf("Add %s to the SPF record of %s, which ends in %s (or include the SPF record of the provider that sends for you).", spfAddTerm(c.IP), c.Subject, all))
			} else {
				j.step(fmt.Sprintf("Add %s to the SPF record of %s (or include the SPF record of the provider that sends for you).", spfAddTerm(c.IP), c.Subject))
			}
		case ResultPermError:
			if c.IP == "" || strings.HasPrefix(c.Detail, "No SPF evaluation") {
				j.unmade++
				continue
			}
			j.confirming++
			_, reason, _ := strings.Cut(c.Detail, " is broken: ")
			reason, _, _ = strings.Cut(reason, " (permerror)")
			j.step(fmt.Sprintf("Fix the SPF record of %s: %s.", c.Subject, reason))
		case ResultNone, ResultNeutral:
			// No authorization either way: receivers that require
			// SPF report this as an SPF failure.
			j.confirming++
			j.step(fmt.Sprintf("Publish an SPF record for %s that authorizes %s, e.g. \"v=spf1 %s -all\" (with your provider's include if it sends for you too).", c.Subject, c.IP, spfAddTerm(c.IP)))
		case ResultPass:
			j.clean++
		default:
			j.unmade++
		}
	}
	j.noCause = "SPF passes now for this address — the receiver may have seen another address (a relay, NAT, IPv6), checked another domain (the EHLO name, or the From: domain), or the record was fixed since."
}

func (j *judge) dkim(used []Check) {
	keyChecked := false
	for _, c := range used {
		switch {
		case c.Name == NameDKIMKey && (c.Result == ResultFail || c.Result == ResultNone):
			keyChecked = true
			j.confirming++
			j.step(fmt.Sprintf("Publish a valid DKIM public key at %s matching the private key the signer uses (or fix the selector the signer names).", c.Subject))
		case c.Name == NameDKIMKey && c.Result == ResultPass:
			keyChecked = true
			j.clean++
		case c.Name == NameDKIMKey:
			keyChecked = true
			j.unmade++
		case c.Name == NameDMARC && (c.Result == ResultReject || c.Result == ResultQuarantine):
			j.step(dmarcStep(c))
		}
	}
	if !keyChecked {
		j.unmade++ // DMARC alone cannot tell whether DKIM failed
	}
	j.noCause = "The DKIM key is published and valid — the failure comes from the signature itself: the message changed after signing (a footer, a line-ending or encoding rewrite by a relay), or the signer used another selector or key."
}

// dmarcStep quotes the DMARC record that forces the rejection.
func dmarcStep(c Check) string {
	rec := ""
	if len(c.Records) > 0 {
		rec = c.Records[0]
	}
	return fmt.Sprintf("The DMARC record %s asks receivers to %s mail from %s that passes neither SPF nor DKIM aligned with it: make SPF pass for the envelope sender in the same organizational domain, or sign with DKIM as %s.", rec, c.Result, c.Subject, OrgDomain(c.Subject))
}

func (j *judge) dmarc(used []Check) {
	var policy *Check
	authFails, authPasses, authUnmade := 0, 0, 0
	for i, c := range used {
		switch c.Name {
		case NameDMARC:
			policy = &used[i]
		case NameSPF, NameDKIMKey:
			switch c.Result {
			case ResultPass:
				authPasses++
			case ResultTempError, ResultRefused, "":
				authUnmade++
			default:
				authFails++
			}
		}
	}
	switch {
	case policy == nil:
		j.unmade++
	case policy.Result == ResultReject || policy.Result == ResultQuarantine:
		j.step(dmarcStep(*policy))
		misaligned := policy.DMARC != nil && policy.DMARC.SPFAligned != nil && !*policy.DMARC.SPFAligned
		aligned := policy.DMARC != nil && policy.DMARC.SPFAligned != nil && *policy.DMARC.SPFAligned
		switch {
		case authFails > 0 || misaligned:
			// An enforcing policy, and authentication that fails or
			// cannot align: the rejection follows.
			j.confirming++
		case authPasses > 0 && aligned && authUnmade == 0:
			j.clean++
		default:
			// Enforcing, but whether authentication fails was not
			// shown.
			j.unmade++
		}
	case policy.Result == ResultNone || policy.Result == ResultAbsent:
		j.clean++
	default:
		j.unmade++
	}
	if policy != nil && (policy.Result == ResultNone || policy.Result == ResultAbsent) {
		j.noCause = fmt.Sprintf("The DMARC policy of %s is %s: it asks for no rejection, so the receiver applied its own policy (Gmail and Yahoo require SPF or DKIM aligned with the From: domain for bulk senders).", policy.Subject, policy.Result)
	} else {
		j.noCause = "DMARC enforces, but SPF or DKIM passes now: check that the passing domain aligns with the From: domain (the dmarc detail says whether it can)."
	}
}

func (j *judge) senderDomain(used []Check) {
	for _, c := range used {
		switch c.Result {
		case ResultFail:
			j.confirming++
			j.step(fmt.Sprintf("Send from a domain that exists and receives mail, or give %s MX records (a null MX or no mail host makes receivers refuse it).", c.Subject))
		case ResultPass:
			j.clean++
		default:
			j.unmade++
		}
	}
	j.noCause = "The sender domain exists and receives mail now — the receiver's DNS may have failed at the time, or it was fixed since; retry."
}
