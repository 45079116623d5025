// Package sendercheck makes the DNS checks that confirm or contradict a
// diagnosis about the sending side: reverse DNS (PTR, forward-confirmed),
// the EHLO name, SPF, DMARC, DNSBL listings and the sender domain. Every
// check takes its resolver as an argument (dnsclient.Resolver), so the probe
// asks the server the user chose and tests ask an in-process one.
//
// Each check returns a Check, one entry of the "checks" array of the session
// JSON (see DESIGN.md). A check never fails as a Go error: a DNS failure is
// its result (temperror, refused), because the user needs to see that the
// check could not be made as much as what it found.
package sendercheck

import (
	"encoding/json"
)

// Check names, as the "checks" array of the session JSON gives them.
const (
	NamePTR          = "ptr"
	NameHELO         = "helo"
	NameSPF          = "spf"
	NameDMARC        = "dmarc"
	NameDNSBL        = "dnsbl"
	NameDKIMKey      = "dkim-key"
	NameSenderDomain = "sender-domain"
)

// Results shared by several checks. The SPF check uses the RFC 7208 names
// (pass, fail, softfail, neutral, none, temperror, permerror); the DMARC
// check the policy names; the DNSBL check Listed, NotListed, Refused,
// TempError.
const (
	ResultPass      = "pass"
	ResultFail      = "fail"
	ResultSoftFail  = "softfail"
	ResultNeutral   = "neutral"
	ResultNone      = "none"
	ResultTempError = "temperror"
	ResultPermError = "permerror"

	ResultAbsent     = "absent"     // dmarc: no record at the domain nor at its organizational domain
	ResultQuarantine = "quarantine" // dmarc policy
	ResultReject     = "reject"     // dmarc policy

	ResultListed    = "listed"     // dnsbl
	ResultNotListed = "not-listed" // dnsbl
	ResultRefused   = "refused"    // dnsbl: the list would not answer truthfully (error code, REFUSED, retired list); never a listing
)

// Check is one check made, an entry of the "checks" array of the session
// JSON (DESIGN.md, "Additions").
type Check struct {
	Name    string   `json:"name"`         // ptr, helo, spf, dmarc, dnsbl, dkim-key, sender-domain
	Subject string   `json:"subject"`      // the IP, the EHLO name, the domain, the zone, S._domainkey.D
	Result  string   `json:"result"`       // see the Result constants
	Detail  string   `json:"detail"`       // one sentence a human reads
	Records []string `json:"records"`      // the DNS records it rests on, "NAME TYPE VALUE"; [] in JSON when none
	IP      string   `json:"ip,omitempty"` // the IP it used

	// RCode names the DNS failure behind a temperror or refused result
	// (dnsclient.RCode: SERVFAIL, REFUSED, TIMEOUT, ...).
	RCode string `json:"rcode,omitempty"`

	// Names are the PTR names of the IP (ptr), or the addresses the EHLO
	// name resolves to (helo).
	Names []string `json:"names,omitempty"`

	// Mechanism is the SPF term that decided ("ip4:192.0.2.0/24",
	// "include:_spf.example.net", "-all", "redirect=...", "default" when
	// nothing matched), when it could be told.
	Mechanism string `json:"mechanism,omitempty"`

	// DMARC is the record the dmarc check found and applied.
	DMARC *DMARCRecord `json:"dmarc_record,omitempty"`

	// Answers (the A records of the listing), Reason (its TXT record) and
	// DelistURL (from the TXT record, else the list's lookup page) describe
	// a DNSBL listing or error answer.
	Answers   []string `json:"answers,omitempty"`
	Reason    string   `json:"reason,omitempty"`
	DelistURL string   `json:"delist_url,omitempty"`
}

// MarshalJSON writes Records as [] rather than null, as the schema wants.
func (c Check) MarshalJSON() ([]byte, error) {
	type plain Check // no methods: avoids recursion
	p := plain(c)
	if p.Records == nil {
		p.Records = []string{}
	}
	return json.Marshal(p)
}

// DMARCRecord is the DMARC record a dmarc check applied.
type DMARCRecord struct {
	Domain          string   `json:"domain"`        // where the record was found: the domain or its organizational domain
	OrgDomain       string   `json:"org_domain"`    // the organizational domain (public suffix + 1)
	Policy          string   `json:"p"`             // p=
	SubdomainPolicy string   `json:"sp,omitempty"`  // sp=
	Applied         string   `json:"applied"`       // the policy that applies to the checked domain (sp for a subdomain when given)
	Percent         int      `json:"pct"`           // pct=, 100 when absent
	ADKIM           string   `json:"adkim"`         // r or s
	ASPF            string   `json:"aspf"`          // r or s
	RUA             []string `json:"rua,omitempty"` // aggregate report addresses
	// SPFAligned says whether the envelope sender's domain aligns with
	// the checked domain under aspf (Run sets it when both are known).
	SPFAligned *bool `json:"spf_aligned,omitempty"`
}
