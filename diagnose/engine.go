package diagnose

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
)

const (
	categoryUnknown  = "unknown"
	categoryAccepted = "accepted"
	maxSteps         = 10
	// vagueTextPriority: text rules at or below this priority match
	// generic words and yield to a more confident enhanced code.
	vagueTextPriority = 40
)

// Engine classifies replies with the embedded rules. It is immutable after
// New and safe for concurrent use.
type Engine struct {
	kw      *keywordSet
	text    []*rule   // text rules, highest priority first
	kwRules [][]int32 // keyword id -> text rules having it in `any`

	codeRules   []*rule
	codeMeaning map[int]map[string]string // code -> phase ("" = any) -> meaning
	inferPhase  map[int]string

	enh        map[string]*enhEntry // "subject.detail" -> registry entry
	enhMeaning map[string]string    // "5.7.1" -> EnhancedMeaning, precomputed
	enhClass   map[string][2]string // "5" -> title, text
	enhSubject map[string]string    // "7" -> title

	hints  []phaseHint
	likely []phaseLikely
	advice []*rule

	categories    map[string]string
	categoryOrder []string
	parties       map[string]string

	vendors     map[string]*vendor
	vendorOrder []string
}

// New loads and checks the embedded rules.
func New() (*Engine, error) {
	e := &Engine{kw: newKeywordSet()}
	if err := e.load(rulesFS); err != nil {
		return nil, fmt.Errorf("diagnose: loading rules: %w", err)
	}
	return e, nil
}

// Categories returns the category vocabulary in its documented order.
func (e *Engine) Categories() []string {
	return append([]string(nil), e.categoryOrder...)
}

// CategoryDescription returns the one-line description of a category, or "".
func (e *Engine) CategoryDescription(c string) string { return e.categories[c] }

// PartyDescription returns the one-line description of a party, or "".
func (e *Engine) PartyDescription(p string) string { return e.parties[p] }

// ruleSet is a bitset over text rule indices.
type ruleSet [maxRules / 64]uint64

// Diagnose explains one reply. It never panics: whatever the input, it
// returns a diagnosis, with category "unknown" and a low confidence when
// nothing honest can be said.
func (e *Engine) Diagnose(in Input) (d Diagnosis) {
	defer func() {
		// Belt and braces for a tool that reads hostile servers' replies:
		// a bug must cost a diagnosis, not the session report.
		if r := recover(); r != nil {
			d = Diagnosis{Reply: d.Reply, Code: d.Code, EnhancedCode: d.EnhancedCode,
				Phase: PhaseAny, PhaseInferred: true, Category: categoryUnknown,
				Party: PartyUnknown, Meaning: "The reply could not be analysed.",
				NextSteps: []string{}, Confidence: 0.05,
				Evidence: []string{fmt.Sprintf("internal error while matching rules: %v", r)}}
		}
		// Two decimals: 0.9500000000000001 in JSON helps nobody.
		d.Confidence = math.Round(d.Confidence*100) / 100
	}()

	p := parseReply(in.Lines)
	d.Reply = p.reply
	d.Code = p.code
	d.EnhancedCode = p.enhanced
	d.Evidence = make([]string, 0, 6)

	// Keywords, once, for rules and phase hints alike.
	var hits keywordHits
	var cand ruleSet
	e.kw.scan(p.norm, &hits, func(id int32) {
		for _, ri := range e.kwRules[id] {
			cand[ri>>6] |= 1 << (uint(ri) & 63)
		}
	})

	// Phase: given, inferred from the text, from the code, or unknown
	// (then perhaps the likeliest for the category, once it is known).
	unknownPhaseAt := -1
	phase := strings.ToLower(strings.TrimSpace(in.Phase))
	if phase == "" || phase == PhaseAny || !validPhase(phase) {
		if phase != "" && phase != PhaseAny {
			d.Evidence = append(d.Evidence, "unknown phase "+strconv.Quote(sanitizeValue(in.Phase))+" ignored")
		}
		d.PhaseInferred = true
		phase = PhaseAny
		if ph, kw := e.phaseFromText(&hits); ph != "" {
			phase = ph
			d.Evidence = append(d.Evidence, "phase "+ph+" inferred from the text ("+strconv.Quote(kw)+")")
		} else if ph := e.inferPhase[p.code]; ph != "" {
			phase = ph
			d.Evidence = append(d.Evidence, "phase "+ph+" inferred from reply code "+strconv.Itoa(p.code))
		} else {
			unknownPhaseAt = len(d.Evidence)
			d.Evidence = append(d.Evidence, "phase unknown: nothing in the reply fixes it")
		}
	}
	d.Phase = phase

	// Codes.
	switch {
	case p.code != 0:
		d.Evidence = append(d.Evidence, "basic code "+strconv.Itoa(p.code)+" ("+classWord(p.code/100)+") found "+p.codeWhere)
	case strings.TrimSpace(p.text) == "":
		d.Evidence = append(d.Evidence, "empty reply")
	default:
		d.Evidence = append(d.Evidence, "no basic reply code found")
	}
	if !p.multiCodeOK {
		d.Evidence = append(d.Evidence, "the lines carry different reply codes; the first one is used")
	}
	var enh *enhEntry
	if p.enhanced != "" {
		enh = e.enh[p.enhanced[2:]]
		ev := "enhanced code " + p.enhanced + " found " + p.enhWhere
		if enh != nil {
			ev += " (" + enh.title + ", " + enh.source + ")"
		} else {
			ev += " (not in the IANA registry)"
		}
		d.Evidence = append(d.Evidence, ev)
		if p.code != 0 && int(p.enhanced[0]-'0') != p.code/100 {
			d.Evidence = append(d.Evidence, "enhanced class "+p.enhanced[:1]+" contradicts basic code "+strconv.Itoa(p.code)+"; the basic code decides permanence")
		}
	}
	switch {
	case p.code >= 500:
		d.Permanent = true
	case p.code == 0 && p.enhanced != "" && p.enhanced[0] == '5':
		d.Permanent = true
	}
	d.CodeMeaning = e.CodeMeaning(p.code, phase)
	if p.enhanced != "" {
		d.EnhancedMeaning = e.EnhancedMeaning(p.enhanced)
	}

	td := &tmplData{ctx: &in.Context, code: p.code, enhanced: p.enhanced, text: p.norm}
	sv := &sessionView{ctx: &in.Context}

	// The three layers: text rule, enhanced code, basic code by phase.
	tm := e.matchText(&p, phase, sv, &hits, &cand, td)
	tr, kw := tm.rule, tm.kw
	if tm.skipped != nil && (tr == nil || tr.vendor != tm.skipped.vendor) {
		d.Evidence = append(d.Evidence, "vendor rule "+tm.skipped.id+" not applied: nothing in the reply or the server's names shows "+tm.skipped.vendor.name)
	}
	cr := e.matchCode(p.code, p.enhanced, phase, sv)
	if enh != nil && enh.category == "" {
		enh = nil
	}
	if enh != nil && enh.transientCategory != "" && p.enhanced[0] == '4' {
		t := *enh
		t.category, t.party = enh.transientCategory, PartyReceivingServer
		enh = &t
	}
	if enh != nil && ((p.code != 0 && p.code < 400) || p.enhanced[0] == '2') {
		enh = nil // a positive reply's enhanced code explains nothing wrong
	}
	if cr == nil && p.code == 0 && p.enhanced != "" && p.enhanced[0] == '2' {
		cr = e.matchCode(250, "", PhaseAny, sv)
	}

	if tr != nil && tr.priority <= vagueTextPriority && enh != nil && enh.confidence >= tr.confidence {
		// A vague text rule ("denied", "blocked") says less than a
		// specific enhanced code ("5.2.1 mailbox disabled").
		d.Evidence = append(d.Evidence, "vague text rule "+tr.id+" yields to enhanced code "+p.enhanced)
		tr = nil
	}
	switch {
	case tr != nil:
		e.fromRule(&d, tr, td)
		d.Evidence = append(d.Evidence, "text rule "+tr.id+" matched "+strconv.Quote(kw)+" ("+tr.source+")")
		if tr.vendor != nil && !tm.selfMarked {
			// Said only when the matched words are not themselves the
			// marker (a list's zone, a vendor's code): then the line
			// above already shows it.
			d.Evidence = append(d.Evidence, "reply from "+tr.vendor.name+": "+tm.vendorWhere)
		}
		agreeOrOverride(&d, tr, enh, cr, p, phase)
	case enh != nil && (cr == nil || enh.confidence >= cr.confidence || cr.category == categoryUnknown):
		d.Category, d.Party, d.Confidence = enh.category, enh.party, enh.confidence
		d.Meaning = enh.title + ". " + enh.text
		d.NextSteps = renderSteps(enh.steps, td, nil)
		d.RuleID = "enhanced:X." + p.enhanced[2:]
		d.Source = enh.source
		d.Evidence = append(d.Evidence, "category from enhanced code "+p.enhanced+" ("+enh.source+")")
		if cr != nil && cr.category != enh.category && cr.category != categoryUnknown {
			d.Evidence = append(d.Evidence, "enhanced code "+p.enhanced+" overrides the basic code: "+strconv.Itoa(p.code)+" in phase "+phase+" alone would mean "+cr.category)
		}
	case cr != nil:
		e.fromRule(&d, cr, td)
		d.Evidence = append(d.Evidence, "category from basic code "+strconv.Itoa(p.code)+" in phase "+phase+" (rule "+cr.id+", "+cr.source+"); the text names no specific cause")
	default:
		d.Category, d.Party, d.Confidence = categoryUnknown, PartyUnknown, 0.1
		d.Meaning = "Nothing in this reply identifies a cause."
		if p.code != 0 && d.CodeMeaning == "" {
			d.Meaning = "Reply code " + strconv.Itoa(p.code) + " is not defined by RFC 5321; nothing in the text identifies a cause."
		}
		d.NextSteps = []string{"Read the full reply text and the server's documentation; keep the transcript for the receiving side's postmaster."}
		d.Evidence = append(d.Evidence, "no rule matched")
	}

	if unknownPhaseAt >= 0 {
		// Nothing names the step, but what the reply is about usually
		// does: a refused relay is refused at RCPT, spam is judged after
		// the final dot. The category was decided without a phase, so
		// the guess cannot feed back into it; it is reported as inferred
		// and says why.
		if l := e.likelyPhase(d.Category, p.code, p.enhanced, &hits); l != nil {
			phase = l.phase
			d.Phase = phase
			d.CodeMeaning = e.CodeMeaning(p.code, phase)
			d.Evidence[unknownPhaseAt] = "phase " + phase + " inferred as the likeliest step: " + l.why
		}
	}

	d.NextSteps = e.applyAdvice(d.NextSteps, d.Category, phase, p.code, sv, td)
	if d.NextSteps == nil {
		d.NextSteps = []string{}
	}
	if d.Confidence > 0.99 {
		d.Confidence = 0.99
	}
	return d
}

func classWord(c int) string {
	switch c {
	case 2:
		return "class 2: success"
	case 3:
		return "class 3: intermediate"
	case 4:
		return "class 4: transient failure"
	case 5:
		return "class 5: permanent failure"
	}
	return "class " + strconv.Itoa(c) + ": undefined"
}

// phaseFromText returns the first phase hint found in the text and the
// keyword that fixed it.
func (e *Engine) phaseFromText(hits *keywordHits) (string, string) {
	for _, h := range e.hints {
		for _, id := range h.kw {
			if hits.has(id) {
				return h.phase, e.kw.words[id]
			}
		}
	}
	return "", ""
}

// likelyPhase returns the first entry of the likely-phase table whose
// conditions all hold, or nil.
func (e *Engine) likelyPhase(category string, code int, enhanced string, hits *keywordHits) *phaseLikely {
next:
	for i := range e.likely {
		l := &e.likely[i]
		if len(l.categories) > 0 && !phaseIn(l.categories, category) {
			continue
		}
		if len(l.codes) > 0 {
			ok := false
			for _, c := range l.codes {
				ok = ok || c == code
			}
			if !ok {
				continue
			}
		}
		if len(l.enh) > 0 {
			ok := false
			for _, pat := range l.enh {
				ok = ok || matchEnhanced(pat, enhanced)
			}
			if !ok {
				continue
			}
		}
		if len(l.anyKW) > 0 {
			ok := false
			for _, id := range l.anyKW {
				ok = ok || hits.has(id)
			}
			if !ok {
				continue
			}
		}
		for _, id := range l.notKW {
			if hits.has(id) {
				continue next
			}
		}
		return l
	}
	return nil
}

// codeApplies checks a rule's code, class and enhanced conditions.
func codeApplies(r *rule, code int, enhanced string) bool {
	if len(r.codes) > 0 {
		if code == 0 {
			return false
		}
		ok := false
		for _, c := range r.codes {
			if c == code {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(r.classes) > 0 {
		cls := code / 100
		if code == 0 && enhanced != "" {
			cls = int(enhanced[0] - '0')
		}
		if cls != 0 {
			ok := false
			for _, c := range r.classes {
				if c == cls {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
	} else if len(r.codes) == 0 && code != 0 && code < 400 {
		// A text rule explains a refusal; unless it says otherwise it
		// does not apply to positive replies ("250 ... queued").
		return false
	}
	if len(r.enh) > 0 {
		ok := false
		for _, p := range r.enh {
			if matchEnhanced(p, enhanced) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func phaseIn(phases []string, phase string) bool {
	for _, p := range phases {
		if p == phase {
			return true
		}
	}
	return false
}

// textMatch is the outcome of matchText.
type textMatch struct {
	rule        *rule
	kw          string // the keyword that selected it
	vendorWhere string // for a vendor rule: where its marker was found
	selfMarked  bool   // the keyword that selected the vendor rule contains its marker
	skipped     *rule  // the first vendor rule that matched the words but lacked its vendor's markers
}

// matchText returns the best text rule and the keyword that selected it.
// A vendor rule whose words match is passed over, whatever its priority,
// unless a marker of its vendor shows up: the generic rules then explain
// the same words without claiming the vendor.
func (e *Engine) matchText(p *parsedReply, phase string, sv *sessionView, hits *keywordHits, cand *ruleSet, td *tmplData) textMatch {
	var tm textMatch
	for w, word := range cand {
		for word != 0 {
			b := trailingZeros(word)
			word &^= 1 << uint(b)
			r := e.text[w*64+b]
			if len(r.phases) > 0 && phase != PhaseAny && !phaseIn(r.phases, phase) {
				continue
			}
			if r.phaseKnown && phase == PhaseAny {
				continue
			}
			if !codeApplies(r, p.code, p.enhanced) || !r.when.ok(sv) {
				continue
			}
			ok := true
			for _, id := range r.allKW {
				if !hits.has(id) {
					ok = false
					break
				}
			}
			for _, id := range r.notKW {
				if ok && hits.has(id) {
					ok = false
				}
			}
			if !ok {
				continue
			}
			if r.re != nil {
				if r.hasGroups {
					m := r.re.FindStringSubmatchIndex(p.norm)
					if m == nil {
						continue
					}
					td.groups = map[string]string{}
					for gi, name := range r.re.SubexpNames() {
						if name != "" && m[2*gi] >= 0 {
							td.groups[name] = p.norm[m[2*gi]:m[2*gi+1]]
						}
					}
				} else if !r.re.MatchString(p.norm) {
					continue
				}
			}
			marker := ""
			if r.vendor != nil {
				if tm.vendorWhere, marker = e.vendorEvidence(r.vendor, p, hits, sv); tm.vendorWhere == "" {
					if tm.skipped == nil {
						tm.skipped = r
					}
					continue
				}
			}
			tm.rule = r
			for _, id := range r.anyKW {
				if hits.has(id) {
					tm.kw = e.kw.words[id]
					break
				}
			}
			tm.selfMarked = marker != "" && strings.Contains(tm.kw, marker)
			return tm
		}
	}
	return tm
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// matchCode returns the best code rule for the basic code in this phase.
// A phase-specific rule applies only when the phase is known to be one of
// its phases ("any" counts as a phase of its own here).
func (e *Engine) matchCode(code int, enhanced, phase string, sv *sessionView) *rule {
	if code == 0 {
		return nil
	}
	for _, r := range e.codeRules {
		if len(r.phases) > 0 && !phaseIn(r.phases, phase) {
			continue
		}
		if !codeApplies(r, code, enhanced) || !r.when.ok(sv) {
			continue
		}
		return r
	}
	return nil
}

func (e *Engine) fromRule(d *Diagnosis, r *rule, td *tmplData) {
	d.Category, d.Party, d.Confidence = r.category, r.party, r.confidence
	d.Meaning, _ = r.meaning.render(td)
	if d.Meaning == "" {
		d.Meaning = r.meaning.raw
	}
	d.NextSteps = renderSteps(r.steps, td, nil)
	d.RuleID = r.id
	d.Source = r.source
}

// agreeOrOverride records in the evidence how the text rule relates to what
// the codes alone would say, and raises the confidence when they agree.
func agreeOrOverride(d *Diagnosis, tr *rule, enh *enhEntry, cr *rule, p parsedReply, phase string) {
	if enh != nil {
		if enh.category == tr.category {
			d.Confidence += 0.05
			d.Evidence = append(d.Evidence, "enhanced code "+p.enhanced+" agrees ("+enh.category+")")
		} else {
			d.Evidence = append(d.Evidence, "text rule "+tr.id+" overrides enhanced code "+p.enhanced+" (alone it would mean "+enh.category+")")
		}
	}
	if cr != nil && cr.category != tr.category && cr.category != categoryUnknown &&
		(enh == nil || enh.category != cr.category) {
		d.Evidence = append(d.Evidence, "text rule "+tr.id+" overrides code class: "+strconv.Itoa(p.code)+" in phase "+phase+" alone would mean "+cr.category)
	}
}

func renderSteps(ts []stepTemplate, td *tmplData, out []string) []string {
	for i := range ts {
		if len(out) >= maxSteps {
			break
		}
		if s, ok := ts[i].render(td); ok {
			out = appendUnique(out, s)
		}
	}
	return out
}

func appendUnique(out []string, s string) []string {
	for _, o := range out {
		if o == s {
			return out
		}
	}
	return append(out, s)
}

// applyAdvice appends the context-dependent advice whose conditions hold.
func (e *Engine) applyAdvice(steps []string, category, phase string, code int, sv *sessionView, td *tmplData) []string {
	for _, a := range e.advice {
		if len(a.categories) > 0 && !phaseIn(a.categories, category) {
			continue
		}
		if len(a.phases) > 0 && !phaseIn(a.phases, phase) {
			continue
		}
		if (len(a.codes) > 0 || len(a.classes) > 0) && !codeApplies(a, code, "") {
			continue
		}
		if len(a.codes) == 0 && len(a.classes) == 0 && code != 0 && code < 400 {
			continue
		}
		if !a.when.ok(sv) {
			continue
		}
		steps = renderSteps(a.steps, td, steps)
	}
	return steps
}

// CodeMeaning returns the RFC 5321 (and RFC 4954, 3207, 7504) meaning of a
// basic reply code in a phase, or "" for a code no RFC defines.
func (e *Engine) CodeMeaning(code int, phase string) string {
	m := e.codeMeaning[code]
	if m == nil {
		return ""
	}
	if s, ok := m[phase]; ok {
		return s
	}
	return m[""]
}

// EnhancedMeaning returns the registry meaning of an enhanced status code
// (RFC 3463, RFC 5248 and the IANA registry): class, subject and detail.
// It returns "" when ec is not of the form class.subject.detail.
func (e *Engine) EnhancedMeaning(ec string) string {
	ec = strings.TrimSpace(ec)
	if n, ok := enhancedAt(ec, 0); !ok || n != len(ec) {
		return ""
	}
	if m, ok := e.enhMeaning[ec]; ok {
		return m
	}
	return e.composeEnhancedMeaning(ec)
}

// composeEnhancedMeaning builds the meaning of a well-formed enhanced code;
// New precomputes it for every registered code so Diagnose does not.
func (e *Engine) composeEnhancedMeaning(ec string) string {
	parts := strings.SplitN(ec, ".", 3)
	var b strings.Builder
	cls := e.enhClass[parts[0]]
	b.WriteString(cls[0])
	subj := strings.TrimLeft(parts[1], "0")
	if subj == "" {
		subj = "0"
	}
	det := strings.TrimLeft(parts[2], "0")
	if det == "" {
		det = "0"
	}
	if t, ok := e.enhSubject[subj]; ok {
		b.WriteString("; ")
		b.WriteString(t)
	} else {
		b.WriteString("; subject " + subj + " is not registered")
	}
	if ent, ok := e.enh[subj+"."+det]; ok {
		b.WriteString("; ")
		b.WriteString(ent.title)
		if ent.text != "" {
			b.WriteString(": ")
			b.WriteString(ent.text)
		}
		b.WriteString(" (" + ent.source + ")")
	} else {
		b.WriteString("; detail " + subj + "." + det + " is not registered")
	}
	return b.String()
}

// Lazy is an Engine loaded on first use: a session that succeeds never
// needs the rules, and loading them costs milliseconds of a probe's
// start-up. It is safe for concurrent use.
type Lazy struct {
	once sync.Once
	e    *Engine
	err  error
}

// Engine returns the loaded engine.
func (l *Lazy) Engine() (*Engine, error) {
	l.once.Do(func() { l.e, l.err = New() })
	return l.e, l.err
}

// Diagnose loads the engine if needed and diagnoses in. A failure to load
// the embedded rules (a build defect, caught by the tests) gives an
// `unknown` diagnosis that says so instead of crashing the report.
func (l *Lazy) Diagnose(in Input) Diagnosis {
	e, err := l.Engine()
	if err != nil {
		return Diagnosis{Reply: strings.Join(in.Lines, "\n"), Phase: PhaseAny, PhaseInferred: true, Category: categoryUnknown,
			Party: PartyUnknown, Meaning: "The diagnosis rules could not be loaded.", NextSteps: []string{},
			Confidence: 0, Evidence: []string{"loading the rules failed: " + err.Error()}}
	}
	return e.Diagnose(in)
}
