package explain

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// maxSummaryKeys bounds each tally: a log with millions of distinct hosts
// or reply texts folds the rest into "(other)" so memory stays flat.
const maxSummaryKeys = 10000

// otherKey collects what no longer fits in a bounded tally.
const otherKey = "(other)"

// Summary aggregates diagnoses of a whole mail log by category, party,
// phase, source and remote host, and keeps the most frequent reasons.
type Summary struct {
	lines, truncated                   int
	findings                           int
	permanent, temporary, undetermined int
	category, party                    tally
	phase, source, host                tally
	reasons                            map[string]*Reason
	reasonsFolded                      int
}

// Reason is one kind of refusal: a category with a reply text from which
// addresses, IPs and ids were blanked out, so the same refusal to many
// recipients counts once.
type Reason struct {
	Count        int    `json:"count"`
	Category     string `json:"category"`
	Party        string `json:"party"`
	EnhancedCode string `json:"enhanced_code,omitempty"`
	Reason       string `json:"reason"`
	Example      string `json:"example"`
}

// Count is one row of a tally.
type Count struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// SummaryReport is the result of a Summary, ready to print or encode.
type SummaryReport struct {
	Lines          int      `json:"lines"`
	TruncatedLines int      `json:"truncated_lines"`
	Findings       int      `json:"findings"`
	Permanent      int      `json:"permanent"`
	Temporary      int      `json:"temporary"`
	Undetermined   int      `json:"undetermined"` // no code and no stated delivery status
	ByCategory     []Count  `json:"by_category"`
	ByParty        []Count  `json:"by_party"`
	ByPhase        []Count  `json:"by_phase"`
	BySource       []Count  `json:"by_source"`
	ByRemoteHost   []Count  `json:"by_remote_host"`
	TopReasons     []Reason `json:"top_reasons"`
	// DistinctReasons counts the reasons kept; ReasonsFolded the refusals
	// not counted by reason once maxSummaryKeys distinct ones were seen.
	DistinctReasons int `json:"distinct_reasons"`
	ReasonsFolded   int `json:"reasons_folded,omitempty"`
}

type tally map[string]int

func (t *tally) add(key string) {
	if *t == nil {
		*t = make(tally)
	}
	if key == "" {
		key = "(none)"
	}
	if _, ok := (*t)[key]; !ok && len(*t) >= maxSummaryKeys {
		key = otherKey
	}
	(*t)[key]++
}

// top returns the n largest rows (all when n <= 0), largest first.
func (t tally) top(n int) []Count {
	out := make([]Count, 0, len(t))
	for k, v := range t {
		out = append(out, Count{Name: k, Count: v})
	}
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Name, b.Name))
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

// NewSummary returns an empty Summary.
func NewSummary() *Summary {
	return &Summary{reasons: make(map[string]*Reason)}
}

// SetLines records how many input lines were read, and how many cut.
func (s *Summary) SetLines(lines, truncated int) {
	s.lines, s.truncated = lines, truncated
}

// Add counts one finding and its diagnosis.
func (s *Summary) Add(f Finding, d diagnose.Diagnosis) {
	s.findings++
	switch permanence(f, d) {
	case "permanent":
		s.permanent++
	case "temporary":
		s.temporary++
	default:
		s.undetermined++
	}
	s.category.add(d.Category)
	s.party.add(d.Party)
	s.phase.add(d.Phase)
	s.source.add(f.Source)
	s.host.add(f.Peer())
	reply := d.Reply
	if reply == "" {
		reply = strings.Join(f.Lines, " ")
	}
	norm := normalizeReason(reply)
	key := d.Category + "\x00" + norm
	r, ok := s.reasons[key]
	if !ok {
		if len(s.reasons) >= maxSummaryKeys {
			s.reasonsFolded++
			return
		}
		r = &Reason{Category: d.Category, Party: d.Party, EnhancedCode: d.EnhancedCode, Reason: norm, Example: truncateRunes(reply, 300)}
		s.reasons[key] = r
	}
	r.Count++
}

// Report returns the totals, with the top n hosts and reasons (all other
// tallies in full; they are small by nature).
func (s *Summary) Report(n int) SummaryReport {
	distinct := len(s.reasons)
	reasons := make([]Reason, 0, distinct)
	for _, r := range s.reasons {
		reasons = append(reasons, *r)
	}
	slices.SortFunc(reasons, func(a, b Reason) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), strings.Compare(a.Category, b.Category), strings.Compare(a.Reason, b.Reason))
	})
	if n > 0 && len(reasons) > n {
		reasons = reasons[:n]
	}
	return SummaryReport{
		Lines: s.lines, TruncatedLines: s.truncated, Findings: s.findings,
		Permanent: s.permanent, Temporary: s.temporary, Undetermined: s.undetermined,
		ByCategory: s.category.top(0), ByParty: s.party.top(0), ByPhase: s.phase.top(0),
		BySource: s.source.top(0), ByRemoteHost: s.host.top(n), TopReasons: reasons,
		DistinctReasons: distinct, ReasonsFolded: s.reasonsFolded,
	}
}

// WriteSummaryText prints a report for people.
func WriteSummaryText(w io.Writer, r SummaryReport) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Scanned %d lines: %d refusals explained (%d permanent, %d temporary", r.Lines, r.Findings, r.Permanent, r.Temporary)
	if r.Undetermined > 0 {
		fmt.Fprintf(&b, ", %d without a code or status", r.Undetermined)
	}
	b.WriteString(")\n")
	if r.TruncatedLines > 0 {
		fmt.Fprintf(&b, "%d over-long lines were cut at %d bytes\n", r.TruncatedLines, MaxLineBytes)
	}
	section := func(title string, rows []Count) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(&b, "\n%s:\n", title)
		for _, c := range rows {
			fmt.Fprintf(&b, "  %8d  %5.1f%%  %s\n", c.Count, percent(c.Count, r.Findings), c.Name)
		}
	}
	section("By category", r.ByCategory)
	section("By party (who must act)", r.ByParty)
	section("By phase", r.ByPhase)
	section("By source", r.BySource)
	section("By remote host (top)", r.ByRemoteHost)
	if len(r.TopReasons) > 0 {
		fmt.Fprintf(&b, "\nTop reasons (of %d distinct):\n", r.DistinctReasons)
		for _, x := range r.TopReasons {
			code := x.EnhancedCode
			if code == "" {
				code = "-"
			}
			fmt.Fprintf(&b, "  %8d  %-22s %-8s %s\n", x.Count, x.Category, code, x.Reason)
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

func percent(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

// normalizeReason blanks out what differs between instances of the same
// refusal: addresses, IP addresses, host names in brackets, numbers and
// ids, so "550 5.1.1 <a@x>: unknown" and "550 5.1.1 <b@y>: unknown" match.
func normalizeReason(s string) string {
	s = truncateRunes(s, 400)
	fields := strings.Fields(s)
	for i, f := range fields {
		switch {
		case strings.IndexByte(f, '@') >= 0:
			fields[i] = "<address>"
		case strings.HasPrefix(f, "http://") || strings.HasPrefix(f, "https://"):
			// URLs name the provider's help page: keep them.
		case looksLikeIP(f):
			fields[i] = "<ip>"
		case idLike(f):
			fields[i] = "<id>"
		case numberedHost(f):
			// Per-server names such as AM0EUR02FT481616.eop-EUR02.prod...
			fields[i] = "<host>"
		}
	}
	return truncateRunes(strings.Join(fields, " "), 200)
}

// looksLikeIP reports whether a word is (or brackets) an IPv4/IPv6 address.
func looksLikeIP(w string) bool {
	w = strings.Trim(w, "[]()<>:;,.'\"")
	if w == "" {
		return false
	}
	dots, colons, digits := 0, 0, 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c == '.':
			dots++
		case c == ':':
			colons++
		case isDigit(c):
			digits++
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			if colons == 0 && dots > 0 {
				return false
			}
		default:
			return false
		}
	}
	return (dots == 3 && colons == 0 && digits >= 4) || colons >= 2
}

// idLike reports whether a word is a queue id, a number or a token with
// many digits, which vary between otherwise equal replies. Status codes
// (550, 5.7.1) are kept.
func idLike(w string) bool {
	t := strings.Trim(w, "[]()<>:;,.'\"-#")
	digits := 0
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			digits++
		}
	}
	if digits == len(t) && len(t) >= 4 {
		return true // a bare number: a count, a port, a transaction id
	}
	if len(t) < 6 {
		return false // short codes such as S3150 or TSS04 name the cause
	}
	if enhancedAt(t) == len(t) {
		return false
	}
	if _, sep, ok := replyCode(t); ok && sep == '-' {
		return false // "550-5.1.1", a continuation line's code
	}
	return digits >= 3 && digits*3 >= len(t)
}

// numberedHost reports whether a word is a host name with a label that
// looks like an id, which differs from one server of a farm to the next.
func numberedHost(w string) bool {
	t := strings.Trim(w, "[]()<>:;,'\"")
	if strings.Count(t, ".") < 2 || strings.Contains(t, "/") {
		return false
	}
	for label := range strings.SplitSeq(t, ".") {
		if idLike(label) {
			return true
		}
	}
	return false
}

// truncateRunes cuts s to at most n bytes on a rune boundary.
func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// permanence is "permanent" or "temporary" from the reply code, else from
// the delivery status the log states (Exim's "**" lines have no code but
// are final), else "".
func permanence(f Finding, d diagnose.Diagnosis) string {
	if d.Code != 0 || d.EnhancedCode != "" {
		if d.Permanent {
			return "permanent"
		}
		return "temporary"
	}
	switch f.Status {
	case "bounced", "failed", "reject", "rejected", "expired":
		return "permanent"
	case "deferred", "delayed", "defer":
		return "temporary"
	}
	return ""
}
