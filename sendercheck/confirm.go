package sendercheck

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

// Confirm says whether checks confirm the diagnosis category: ip-blocklisted
// (dnsbl), ip-reputation (dnsbl, ptr), rdns-ptr (ptr, helo), spf-fail (spf),
// dkim-fail (dkim-key, dmarc), dmarc-policy (dmarc, spf, dkim-key),
// sender-domain-invalid (sender-domain). Other categories, or no relevant
// check, give not-checked. A relevant check that could not be made
// (temperror, refused) makes the status inconclusive, never confirmed.
func Confirm(category string, checks []Check) Confirmation {
	return Confirmation{Status: NotChecked, Evidence: []string{}, NextSteps: []string{}}
}

// CategoryChecks names the checks that bear on a diagnosis category (nil
// for categories no check confirms), so a caller can run only those.
func CategoryChecks(category string) []string {
	return nil
}
