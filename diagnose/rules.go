package diagnose

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// The knowledge: categories, reply codes by phase, the enhanced status code
// registry, phase hints, context advice and the text rules, all as JSON.
//
//go:embed rules/*.json
var rulesFS embed.FS

// ruleJSON is one rule as written in the rules files. Text rules need `any`
// (lowercase keywords, the cheap prefilter) and may add `re`, a regular
// expression on the normalised text (lowercase, collapsed spaces) whose named
// groups templates can use. Code rules (codes.json) match on the basic code
// and phase only. A rule that explains one vendor's wording names it in
// `vendor` (an id of vendors.json) and then applies only when the reply or
// the server's names carry one of that vendor's markers; a rule without
// `vendor` must not name one in its id, meaning or steps (the loader
// refuses it), so no rule can claim a vendor on the words alone.
type ruleJSON struct {
	ID       string   `json:"id"`
	Any      []string `json:"any"`
	All      []string `json:"all"`
	Not      []string `json:"not"`
	Re       string   `json:"re"`
	Codes    []int    `json:"codes"`
	Classes  []int    `json:"classes"`
	Enhanced []string `json:"enhanced"`
	Phases   []string `json:"phases"`
	// PhaseKnown makes Phases strict: the rule fires only when the phase
	// is known (given or inferred), never for a reply of unknown phase.
	// For words whose reading flips with the phase ("User unknown" at
	// MAIL is the sender), where the usual reading must win when in doubt.
	PhaseKnown bool      `json:"phase_known"`
	When       *whenJSON `json:"when"`
	Categories []string  `json:"categories"` // advice only: categories it refines
	Category   string    `json:"category"`
	Party      string    `json:"party"`
	Meaning    string    `json:"meaning"`
	Steps      []string  `json:"steps"`
	Confidence float64   `json:"confidence"`
	Priority   int       `json:"priority"`
	Source     string    `json:"source"`
	Vendor     string    `json:"vendor"`
	Note       string    `json:"note"` // for maintainers; not shown
}

// whenJSON conditions a rule on what the session knew. A nil field means
// "either". Explain on pasted text has a zero Context, so "false" there also
// covers "not known to be true".
type whenJSON struct {
	TLS             *bool `json:"tls"`
	Authenticated   *bool `json:"authenticated"`
	AuthOffered     *bool `json:"auth_offered"`
	StartTLSOffered *bool `json:"starttls_offered"`
	Ports           []int `json:"ports"`
	HasClientIP     *bool `json:"has_client_ip"`
	// RecipientDomain is "own", "foreign" or "unknown": how the recipient
	// domain relates to the server (sessionView.recipientRelation).
	RecipientDomain string `json:"recipient_domain"`
}

func (w *whenJSON) ok(sv *sessionView) bool {
	if w == nil {
		return true
	}
	c := sv.ctx
	if w.RecipientDomain != "" && w.RecipientDomain != sv.recipientRelation() {
		return false
	}
	if w.TLS != nil && *w.TLS != c.TLS {
		return false
	}
	if w.Authenticated != nil && *w.Authenticated != c.Authenticated {
		return false
	}
	if w.AuthOffered != nil && *w.AuthOffered != c.AuthOffered {
		return false
	}
	if w.StartTLSOffered != nil && *w.StartTLSOffered != c.StartTLSOffered {
		return false
	}
	if w.HasClientIP != nil && *w.HasClientIP != (c.ClientIP != "") {
		return false
	}
	if len(w.Ports) > 0 {
		found := false
		for _, p := range w.Ports {
			if p == c.Port {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

type rulesFile struct {
	Rules []ruleJSON `json:"rules"`
}

type categoryJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

type categoriesFile struct {
	Categories []categoryJSON `json:"categories"`
	Parties    []categoryJSON `json:"parties"`
}

type codeMeaningJSON struct {
	Code  int    `json:"code"`
	Phase string `json:"phase"`
	Text  string `json:"text"`
}

type codesFile struct {
	Meanings []codeMeaningJSON `json:"meanings"`
	Infer    []struct {
		Code  int    `json:"code"`
		Phase string `json:"phase"`
	} `json:"infer"`
	Rules []ruleJSON `json:"rules"`
}

type enhancedJSON struct {
	Code       string   `json:"code"` // "X.7.1"
	Title      string   `json:"title"`
	Text       string   `json:"text"`
	Source     string   `json:"source"`
	Category   string   `json:"category"`
	Party      string   `json:"party"`
	Confidence float64  `json:"confidence"`
	Steps      []string `json:"steps"`
	// TransientCategory replaces Category for class 4 codes, where the
	// same detail means a passing state ("4.3.2 not accepting messages").
	TransientCategory string `json:"transient_category"`
}

type enhancedFile struct {
	Classes []struct {
		Class string `json:"class"`
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"classes"`
	Subjects []struct {
		Subject string `json:"subject"`
		Title   string `json:"title"`
	} `json:"subjects"`
	Codes []enhancedJSON `json:"codes"`
}

type phasesFile struct {
	Hints []struct {
		Phase string   `json:"phase"`
		Any   []string `json:"any"`
	} `json:"hints"`
	Likely []likelyJSON `json:"likely"`
}

// likelyJSON is one entry of the likely-phase table: when the text names no
// step, the category (and the code, the enhanced code or the wording) still
// makes one step likeliest: a relay is refused at RCPT, content after the
// final dot. Every condition given must hold; the first entry that holds
// wins, so the file reads as a decision list from specific to general.
type likelyJSON struct {
	Phase      string   `json:"phase"`
	Categories []string `json:"categories"`
	Codes      []int    `json:"codes"`
	Enhanced   []string `json:"enhanced"` // "x.1.1", "5.3.4", "x.6.*"
	Any        []string `json:"any"`
	Not        []string `json:"not"`
	Why        string   `json:"why"` // shown in the evidence
}

// rule is a compiled rule.
type rule struct {
	id         string
	anyKW      []int32
	allKW      []int32
	notKW      []int32
	re         *regexp.Regexp
	hasGroups  bool
	codes      []int
	classes    []int
	enh        []string // patterns: "5.7.1", "x.7.1", "5.7.*"
	phases     []string
	phaseKnown bool
	when       *whenJSON
	categories []string
	category   string
	party      string
	meaning    stepTemplate
	steps      []stepTemplate
	confidence float64
	priority   int
	source     string
	file       string
	vendor     *vendor // nil: the rule applies whoever answered
}

type enhEntry struct {
	title, text, source string
	category, party     string
	transientCategory   string
	confidence          float64
	steps               []stepTemplate
}

type phaseHint struct {
	phase string
	kw    []int32
}

// phaseLikely is a compiled likelyJSON.
type phaseLikely struct {
	phase      string
	categories []string
	codes      []int
	enh        []string
	anyKW      []int32
	notKW      []int32
	why        string
}

// decodeFile reads one rules file and decodes it strictly.
func decodeFile(fsys fs.FS, name string, v any) error {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path.Base(name), err)
	}
	if err := decodeStrict(data, v); err != nil {
		return fmt.Errorf("parsing %s: %w", path.Base(name), err)
	}
	return nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

func validPhase(p string) bool {
	switch p {
	case PhaseConnect, PhaseBanner, PhaseHelo, PhaseStartTLS, PhaseAuth, PhaseMail,
		PhaseRcpt, PhaseData, PhaseEndOfData, PhaseQuit, PhaseAny:
		return true
	}
	return false
}

// load reads and checks every rules file.
func (e *Engine) load(fsys fs.FS) error {
	if err := e.loadCategories(fsys); err != nil {
		return err
	}
	// Vendors come before every rule: the rules refer to them, and the
	// loader checks that no other rule names one.
	if err := e.loadVendors(fsys); err != nil {
		return err
	}
	if err := e.loadCodes(fsys); err != nil {
		return err
	}
	if err := e.loadEnhanced(fsys); err != nil {
		return err
	}
	if err := e.loadPhases(fsys); err != nil {
		return err
	}
	names, err := fs.Glob(fsys, "rules/text-*.json")
	if err != nil {
		return fmt.Errorf("listing text rules: %w", err)
	}
	sort.Strings(names)
	ids := map[string]string{}
	for _, name := range names {
		var f rulesFile
		if err := decodeFile(fsys, name, &f); err != nil {
			return err
		}
		for i := range f.Rules {
			rj := &f.Rules[i]
			if prev, dup := ids[rj.ID]; dup {
				return fmt.Errorf("%s: rule id %q already used in %s", name, rj.ID, prev)
			}
			ids[rj.ID] = name
			r, err := e.compileRule(rj, name, kindText)
			if err != nil {
				return err
			}
			e.text = append(e.text, r)
		}
	}
	if len(e.text) > maxRules {
		return fmt.Errorf("%d text rules, more than %d", len(e.text), maxRules)
	}
	// Highest priority first; file order breaks ties, so a rules file reads
	// top-down like a decision list.
	sort.SliceStable(e.text, func(i, j int) bool { return e.text[i].priority > e.text[j].priority })
	sort.SliceStable(e.codeRules, func(i, j int) bool { return e.codeRules[i].priority > e.codeRules[j].priority })
	if err := e.loadAdvice(fsys); err != nil {
		return err
	}
	if err := e.kw.compile(); err != nil {
		return err
	}
	e.kwRules = make([][]int32, len(e.kw.words))
	for i, r := range e.text {
		for _, id := range r.anyKW {
			e.kwRules[id] = append(e.kwRules[id], int32(i))
		}
	}
	return nil
}

const maxRules = 64 * 64

func (e *Engine) loadCategories(fsys fs.FS) error {
	var f categoriesFile
	if err := decodeFile(fsys, "rules/categories.json", &f); err != nil {
		return err
	}
	e.categories = map[string]string{}
	for _, c := range f.Categories {
		e.categories[c.Name] = c.Description
		e.categoryOrder = append(e.categoryOrder, c.Name)
	}
	e.parties = map[string]string{}
	for _, p := range f.Parties {
		e.parties[p.Name] = p.Description
	}
	if _, ok := e.categories[categoryUnknown]; !ok {
		return fmt.Errorf("categories.json lacks %q", categoryUnknown)
	}
	return nil
}

func (e *Engine) loadCodes(fsys fs.FS) error {
	var f codesFile
	if err := decodeFile(fsys, "rules/codes.json", &f); err != nil {
		return err
	}
	e.codeMeaning = map[int]map[string]string{}
	for _, m := range f.Meanings {
		if m.Code < 200 || m.Code > 599 {
			return fmt.Errorf("codes.json: meaning for invalid code %d", m.Code)
		}
		if m.Phase != "" && !validPhase(m.Phase) {
			return fmt.Errorf("codes.json: code %d: unknown phase %q", m.Code, m.Phase)
		}
		if e.codeMeaning[m.Code] == nil {
			e.codeMeaning[m.Code] = map[string]string{}
		}
		e.codeMeaning[m.Code][m.Phase] = m.Text
	}
	e.inferPhase = map[int]string{}
	for _, in := range f.Infer {
		if !validPhase(in.Phase) {
			return fmt.Errorf("codes.json: infer %d: unknown phase %q", in.Code, in.Phase)
		}
		e.inferPhase[in.Code] = in.Phase
	}
	for i := range f.Rules {
		r, err := e.compileRule(&f.Rules[i], "codes.json", kindCode)
		if err != nil {
			return err
		}
		e.codeRules = append(e.codeRules, r)
	}
	return nil
}

func (e *Engine) loadEnhanced(fsys fs.FS) error {
	var f enhancedFile
	if err := decodeFile(fsys, "rules/enhanced.json", &f); err != nil {
		return err
	}
	e.enhClass = map[string][2]string{}
	for _, c := range f.Classes {
		e.enhClass[c.Class] = [2]string{c.Title, c.Text}
	}
	e.enhSubject = map[string]string{}
	for _, s := range f.Subjects {
		e.enhSubject[s.Subject] = s.Title
	}
	e.enh = map[string]*enhEntry{}
	for _, c := range f.Codes {
		if !strings.HasPrefix(c.Code, "X.") {
			return fmt.Errorf("enhanced.json: code %q must be written X.subject.detail", c.Code)
		}
		key := c.Code[2:]
		if _, dup := e.enh[key]; dup {
			return fmt.Errorf("enhanced.json: %s listed twice", c.Code)
		}
		if c.Title == "" || c.Source == "" {
			return fmt.Errorf("enhanced.json: %s needs a title and a source", c.Code)
		}
		if v, w := e.namedVendor(c.Title, c.Text, strings.Join(c.Steps, "\n")); v != nil {
			return fmt.Errorf("enhanced.json: %s names %s (%q): the registry meaning holds for every server", c.Code, v.name, w)
		}
		ent := &enhEntry{title: c.Title, text: c.Text, source: c.Source, category: c.Category,
			party: c.Party, confidence: c.Confidence, transientCategory: c.TransientCategory}
		if _, ok := e.categories[c.TransientCategory]; c.TransientCategory != "" && !ok {
			return fmt.Errorf("enhanced.json: %s: unknown transient category %q", c.Code, c.TransientCategory)
		}
		if c.Category != "" {
			if _, ok := e.categories[c.Category]; !ok {
				return fmt.Errorf("enhanced.json: %s: unknown category %q", c.Code, c.Category)
			}
			if _, ok := e.parties[c.Party]; !ok {
				return fmt.Errorf("enhanced.json: %s: unknown party %q", c.Code, c.Party)
			}
			if c.Confidence <= 0 || c.Confidence > 1 {
				return fmt.Errorf("enhanced.json: %s: confidence %v out of (0,1]", c.Code, c.Confidence)
			}
		}
		for _, s := range c.Steps {
			t, err := parseTemplate(s, nil)
			if err != nil {
				return fmt.Errorf("enhanced.json: %s: %w", c.Code, err)
			}
			ent.steps = append(ent.steps, t)
		}
		e.enh[key] = ent
	}
	e.enhMeaning = map[string]string{}
	for key := range e.enh {
		for _, cls := range []string{"2", "4", "5"} {
			ec := cls + "." + key
			e.enhMeaning[ec] = e.composeEnhancedMeaning(ec)
		}
	}
	return nil
}

func (e *Engine) loadPhases(fsys fs.FS) error {
	var f phasesFile
	if err := decodeFile(fsys, "rules/phases.json", &f); err != nil {
		return err
	}
	for _, h := range f.Hints {
		if !validPhase(h.Phase) || h.Phase == PhaseAny {
			return fmt.Errorf("phases.json: bad phase %q", h.Phase)
		}
		ph := phaseHint{phase: h.Phase}
		for _, w := range h.Any {
			id, err := e.kw.add(normalize(w, maxMatchText))
			if err != nil {
				return fmt.Errorf("phases.json: %w", err)
			}
			ph.kw = append(ph.kw, id)
		}
		e.hints = append(e.hints, ph)
	}
	for i, l := range f.Likely {
		where := fmt.Sprintf("phases.json: likely[%d]", i)
		if !validPhase(l.Phase) || l.Phase == PhaseAny {
			return fmt.Errorf("%s: bad phase %q", where, l.Phase)
		}
		if l.Why == "" {
			return fmt.Errorf("%s: needs a why: the evidence shows it", where)
		}
		pl := phaseLikely{phase: l.Phase, categories: l.Categories, codes: l.Codes, why: l.Why}
		for _, c := range l.Categories {
			if _, ok := e.categories[c]; !ok {
				return fmt.Errorf("%s: unknown category %q", where, c)
			}
		}
		for _, p := range l.Enhanced {
			if !validEnhancedPattern(p) {
				return fmt.Errorf("%s: bad enhanced pattern %q", where, p)
			}
			pl.enh = append(pl.enh, strings.ToLower(p))
		}
		for _, w := range l.Any {
			id, err := e.kw.add(normalize(w, maxMatchText))
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			pl.anyKW = append(pl.anyKW, id)
		}
		for _, w := range l.Not {
			id, err := e.kw.add(normalize(w, maxMatchText))
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			pl.notKW = append(pl.notKW, id)
		}
		if len(pl.categories)+len(pl.codes)+len(pl.enh)+len(pl.anyKW) == 0 {
			return fmt.Errorf("%s: no condition: a phase must rest on something in the reply", where)
		}
		e.likely = append(e.likely, pl)
	}
	return nil
}

func (e *Engine) loadAdvice(fsys fs.FS) error {
	var f rulesFile
	if err := decodeFile(fsys, "rules/advice.json", &f); err != nil {
		return err
	}
	for i := range f.Rules {
		r, err := e.compileRule(&f.Rules[i], "advice.json", kindAdvice)
		if err != nil {
			return err
		}
		e.advice = append(e.advice, r)
	}
	return nil
}

type ruleKind int

const (
	kindText ruleKind = iota
	kindCode
	kindAdvice
)

func (e *Engine) compileRule(rj *ruleJSON, file string, kind ruleKind) (*rule, error) {
	where := path.Base(file) + ": rule " + strconv.Quote(rj.ID)
	if rj.ID == "" {
		return nil, fmt.Errorf("%s: a rule has no id", path.Base(file))
	}
	r := &rule{id: rj.ID, codes: rj.Codes, classes: rj.Classes, phases: rj.Phases, phaseKnown: rj.PhaseKnown,
		when: rj.When, category: rj.Category, party: rj.Party, confidence: rj.Confidence,
		priority: rj.Priority, source: rj.Source, file: path.Base(file), categories: rj.Categories}
	if r.priority == 0 {
		r.priority = 50
	}
	if rj.PhaseKnown && len(rj.Phases) == 0 {
		return nil, fmt.Errorf("%s: phase_known without phases", where)
	}
	for _, p := range rj.Phases {
		if !validPhase(p) {
			return nil, fmt.Errorf("%s: unknown phase %q", where, p)
		}
	}
	for _, c := range rj.Codes {
		if c < 200 || c > 599 {
			return nil, fmt.Errorf("%s: invalid code %d", where, c)
		}
	}
	for _, c := range rj.Classes {
		if c < 2 || c > 5 {
			return nil, fmt.Errorf("%s: invalid class %d", where, c)
		}
	}
	for _, p := range rj.Enhanced {
		if !validEnhancedPattern(p) {
			return nil, fmt.Errorf("%s: bad enhanced pattern %q", where, p)
		}
		r.enh = append(r.enh, strings.ToLower(p))
	}
	for _, c := range rj.Categories {
		if _, ok := e.categories[c]; !ok {
			return nil, fmt.Errorf("%s: unknown category %q", where, c)
		}
	}
	if w := rj.When; w != nil {
		switch w.RecipientDomain {
		case "", rcptOwn, rcptForeign, rcptUnknown:
		default:
			return nil, fmt.Errorf("%s: when.recipient_domain %q is not own, foreign or unknown", where, w.RecipientDomain)
		}
	}
	if rj.Vendor != "" {
		if kind != kindText {
			return nil, fmt.Errorf("%s: only text rules can be vendor rules", where)
		}
		if r.vendor = e.vendors[rj.Vendor]; r.vendor == nil {
			return nil, fmt.Errorf("%s: unknown vendor %q", where, rj.Vendor)
		}
	} else if v, w := e.namedVendor(strings.ReplaceAll(rj.ID, "-", " "), rj.Meaning, strings.Join(rj.Steps, "\n")); v != nil {
		// The fault this prevents: "Mimecast: the recipient is not a
		// valid internal address" for an OpenSMTPD server that said
		// "550 Invalid recipient".
		return nil, fmt.Errorf("%s names %s (%q) but has no \"vendor\": it would claim %s for any server; add \"vendor\": %q or reword it (an example may be written \"(e.g. ...)\")", where, v.name, w, v.name, v.id)
	}
	addAll := func(words []string) ([]int32, error) {
		var ids []int32
		for _, w := range words {
			n := normalize(w, maxMatchText)
			if n != w {
				return nil, fmt.Errorf("%s: keyword %q must be written normalised as %q", where, w, n)
			}
			id, err := e.kw.add(n)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			ids = append(ids, id)
		}
		return ids, nil
	}
	var err error
	if r.anyKW, err = addAll(rj.Any); err != nil {
		return nil, err
	}
	if r.allKW, err = addAll(rj.All); err != nil {
		return nil, err
	}
	if r.notKW, err = addAll(rj.Not); err != nil {
		return nil, err
	}
	groups := map[string]bool{}
	if rj.Re != "" {
		re, err := regexp.Compile(rj.Re)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		r.re = re
		for _, g := range re.SubexpNames() {
			if g != "" {
				groups[g] = true
				r.hasGroups = true
			}
		}
	}
	switch kind {
	case kindText:
		if len(r.anyKW) == 0 {
			return nil, fmt.Errorf("%s: a text rule needs `any` keywords", where)
		}
		if r.source == "" {
			return nil, fmt.Errorf("%s: a text rule needs a source", where)
		}
	case kindCode:
		if len(r.anyKW)+len(r.allKW)+len(r.notKW) > 0 || r.re != nil {
			return nil, fmt.Errorf("%s: code rules match codes, not text", where)
		}
		if len(r.codes) == 0 {
			return nil, fmt.Errorf("%s: a code rule needs codes", where)
		}
	case kindAdvice:
		if len(rj.Steps) == 0 {
			return nil, fmt.Errorf("%s: advice without steps", where)
		}
		if r.re != nil || len(r.anyKW) > 0 {
			return nil, fmt.Errorf("%s: advice matches context, not text", where)
		}
	}
	if kind != kindAdvice {
		if _, ok := e.categories[r.category]; !ok {
			return nil, fmt.Errorf("%s: unknown category %q", where, r.category)
		}
		if _, ok := e.parties[r.party]; !ok {
			return nil, fmt.Errorf("%s: unknown party %q", where, r.party)
		}
		if r.confidence <= 0 || r.confidence > 1 {
			return nil, fmt.Errorf("%s: confidence %v out of (0,1]", where, r.confidence)
		}
		if rj.Meaning == "" {
			return nil, fmt.Errorf("%s: no meaning", where)
		}
	}
	if r.meaning, err = parseTemplate(rj.Meaning, groups); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	for _, s := range rj.Steps {
		t, err := parseTemplate(s, groups)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		r.steps = append(r.steps, t)
	}
	return r, nil
}

// validEnhancedPattern accepts "5.7.1", "x.7.1", "X.7.1" and "5.7.*".
func validEnhancedPattern(p string) bool {
	parts := strings.Split(strings.ToLower(p), ".")
	if len(parts) != 3 {
		return false
	}
	if parts[0] != "x" && parts[0] != "2" && parts[0] != "4" && parts[0] != "5" {
		return false
	}
	for _, s := range parts[1:] {
		if s == "*" {
			continue
		}
		if _, err := strconv.Atoi(s); err != nil || len(s) > 3 {
			return false
		}
	}
	return parts[1] != "*" || parts[2] == "*"
}

// matchEnhanced reports whether the enhanced code ec matches pattern p.
func matchEnhanced(p, ec string) bool {
	if ec == "" {
		return false
	}
	// Class.
	if p[0] != 'x' && p[0] != ec[0] {
		return false
	}
	pr, er := p[2:], ec[2:]
	if pr == "*.*" {
		return true
	}
	if strings.HasSuffix(pr, ".*") {
		return strings.HasPrefix(er, pr[:len(pr)-1])
	}
	return pr == er
}
