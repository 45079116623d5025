package diagnose

import (
	"io/fs"
	"regexp/syntax"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// sampleReplies builds replies that satisfy a rule's code, class,
// enhanced-code, `all` and regexp conditions around the given words: one
// per top-level alternative of the regexp when the words alone do not
// match it.
func sampleReplies(e *Engine, r *rule, words string) []string {
	code := 550
	switch {
	case len(r.codes) > 0:
		code = r.codes[0]
	case len(r.classes) > 0 && r.classes[0] == 4:
		code = 451
	}
	prefix := strconv.Itoa(code) + " "
	if len(r.enh) > 0 {
		prefix += strings.Replace(strings.ReplaceAll(r.enh[0], "*", "1"), "x", strconv.Itoa(code/100), 1) + " "
	}
	for _, id := range r.allKW {
		words += " " + e.kw.words[id]
	}
	if r.re == nil || r.re.MatchString(normalize(words, maxMatchText)) {
		return []string{prefix + words}
	}
	var out []string
	for _, alt := range reSamples(r.re.String()) {
		out = append(out, prefix+words+" "+alt)
	}
	return out
}

// reSamples returns, for each top-level alternative of a regexp, a short
// string it matches (minimal repetitions, first alternative below).
func reSamples(expr string) []string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	sample := func(re *syntax.Regexp) string {
		var b strings.Builder
		var walk func(*syntax.Regexp)
		walk = func(re *syntax.Regexp) {
			switch re.Op {
			case syntax.OpLiteral:
				b.WriteString(string(re.Rune))
			case syntax.OpCharClass:
				if len(re.Rune) > 0 {
					b.WriteRune(re.Rune[0])
				}
			case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
				b.WriteByte('x')
			case syntax.OpCapture, syntax.OpPlus:
				walk(re.Sub[0])
			case syntax.OpRepeat:
				for i := 0; i < re.Min; i++ {
					walk(re.Sub[0])
				}
			case syntax.OpConcat:
				for _, sub := range re.Sub {
					walk(sub)
				}
			case syntax.OpAlternate:
				walk(re.Sub[0])
			}
		}
		walk(re)
		return b.String()
	}
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	if re.Op != syntax.OpAlternate {
		return []string{sample(re)}
	}
	var out []string
	for _, sub := range re.Sub {
		out = append(out, sample(sub))
	}
	return out
}

func rulePhase(r *rule) string {
	if len(r.phases) > 0 {
		return r.phases[0]
	}
	return PhaseAny
}

// vendorNamed reports whether a diagnosis text names the vendor (examples
// written "(e.g. ...)" do not count, as for the loader).
func vendorNamed(v *vendor, texts ...string) string {
	for _, t := range texts {
		t = stripExamples(strings.ToLower(t))
		for _, n := range v.names {
			if containsWord(t, n) {
				return n
			}
		}
	}
	return ""
}

// TestVendorRulesNeedMarkers runs every vendor rule of the loaded rules,
// whatever file it is in, against its own words: without a marker of its
// vendor it must not fire and the diagnosis must not name the vendor; with
// a marker in the reply, or in the server's banner, it must fire. A new
// vendor rule is covered without touching this test.
func TestVendorRulesNeedMarkers(t *testing.T) {
	e := mustEngine(t)
	// The session of the real-world report: a server outside the recipient's
	// domain, no AUTH. Rules conditioned on it see it; others ignore it.
	base := Context{ServerHost: "mail.example.org", RecipientDomain: "example.net"}
	nVendor := 0
	for _, r := range e.text {
		if r.vendor == nil {
			continue
		}
		nVendor++
		v := r.vendor
		fired := 0
		for _, id := range r.anyKW {
			phase := rulePhase(r)
			for _, without := range sampleReplies(e, r, e.kw.words[id]) {
				with := without + " " + v.markers[0]
				d := e.Diagnose(Input{Lines: []string{with}, Phase: phase, Context: base})
				if d.RuleID != r.id {
					// These words only work together with others; the
					// rule is tested through another keyword.
					continue
				}
				fired++
				p := parseReply([]string{without})
				var hits keywordHits
				e.kw.scan(p.norm, &hits, func(int32) {})
				if where, _ := e.vendorEvidence(v, &p, &hits, &sessionView{ctx: &Context{}}); where != "" {
					continue // the words are the vendor's own (a list's zone, a vendor's code)
				}
				if !strings.Contains(strings.Join(d.Evidence, "\n"), "reply from "+v.name) {
					t.Errorf("%s: %q: evidence does not say which marker showed %s: %q", r.id, with, v.name, d.Evidence)
				}
				d = e.Diagnose(Input{Lines: []string{without}, Phase: phase, Context: base})
				if d.RuleID == r.id {
					t.Errorf("%s fired on %q without a marker of %s", r.id, without, v.name)
				}
				if n := vendorNamed(v, append([]string{d.Meaning}, d.NextSteps...)...); n != "" {
					t.Errorf("%q without a marker of %s: the diagnosis (rule %s) names %q: %q", without, v.name, d.RuleID, n, d.Meaning)
				}
				// The same words from a server whose banner carries the marker.
				ctx := base
				ctx.Banner = "220 " + v.markers[0] + " ESMTP"
				d = e.Diagnose(Input{Lines: []string{without}, Phase: phase, Context: ctx})
				if d.RuleID != r.id || !strings.Contains(strings.Join(d.Evidence, "\n"), "in the server's name or banner") {
					t.Errorf("%s did not fire on %q with %q in the banner (got %s, evidence %q)", r.id, without, ctx.Banner, d.RuleID, d.Evidence)
				}
			}
		}
		if fired == 0 {
			t.Errorf("%s (vendor %s): no keyword fires the rule even with a marker; the test cannot check it", r.id, v.id)
		}
	}
	if nVendor < 50 {
		t.Errorf("only %d vendor rules loaded: the vendor field went missing from the rules files?", nVendor)
	}
}

// knownVendorNames are provider and product names that a rule must never
// claim without the vendor's markers. It is a second net beside
// vendors.json: a rule that names one of them must be a vendor rule even if
// someone drops the vendor from vendors.json.
var knownVendorNames = []string{
	"mimecast", "microsoft", "exchange online", "office 365", "microsoft 365", "outlook", "hotmail",
	"google", "gmail", "proofpoint", "yahoo", "aol", "barracuda", "cisco", "ironport", "sophos",
	"trend micro", "icloud", "apple", "comcast", "orange", "gmx", "web.de", "zoho", "fastmail",
	"spamhaus", "spamcop", "postfix", "exim", "qmail", "sendmail", "opensmtpd",
}

func TestNoRuleNamesAVendorWithoutMarkers(t *testing.T) {
	e := mustEngine(t)
	all := append(append(append([]*rule{}, e.text...), e.codeRules...), e.advice...)
	for _, r := range all {
		if r.vendor != nil {
			continue
		}
		texts := []string{strings.ReplaceAll(r.id, "-", " "), r.meaning.raw}
		for _, s := range r.steps {
			texts = append(texts, s.raw)
		}
		for _, n := range knownVendorNames {
			for _, tx := range texts {
				if containsWord(stripExamples(strings.ToLower(tx)), n) {
					t.Errorf("%s (%s) names %q without being a vendor rule: %q", r.id, r.file, n, tx)
				}
			}
		}
	}
	for _, n := range knownVendorNames {
		found := false
		for _, v := range e.vendors {
			for _, vn := range v.names {
				found = found || vn == n
			}
		}
		if !found {
			t.Errorf("vendors.json lost the name %q", n)
		}
	}
}

// TestLoaderRefusesVendorClaims: the engine itself refuses a rule that
// names a vendor without carrying it, and a vendor rule without markers.
func TestLoaderRefusesVendorClaims(t *testing.T) {
	mod := func(t *testing.T, file, old, new string) fs.FS {
		t.Helper()
		m := fstest.MapFS{}
		err := fs.WalkDir(rulesFS, "rules", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := fs.ReadFile(rulesFS, p)
			if err != nil {
				return err
			}
			if p == file {
				s := string(data)
				if !strings.Contains(s, old) {
					t.Fatalf("%s lacks %q", file, old)
				}
				data = []byte(strings.Replace(s, old, new, 1))
			}
			m[p] = &fstest.MapFile{Data: data}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		name, file, old, new, want string
	}{
		{"vendor rule loses its vendor", "rules/text-30-providers.json",
			`{"id": "mimecast-invalid-recipient", "vendor": "mimecast", `, `{"id": "mimecast-invalid-recipient", `, "no \"vendor\""},
		{"generic rule claims a provider", "rules/text-10-generic.json",
			`"meaning": "The recipient address does not exist at the receiving server (no such user or mailbox)."`,
			`"meaning": "Gmail: the recipient address does not exist."`, "names Google"},
		{"unknown vendor", "rules/text-30-providers.json", `"vendor": "mimecast"`, `"vendor": "mimecats"`, "unknown vendor"},
		{"vendor without markers", "rules/vendors.json", `"markers": ["mimecast"]`, `"markers": []`, "needs names and markers"},
		{"bad recipient_domain", "rules/text-10-generic.json", `"recipient_domain": "foreign"`, `"recipient_domain": "elsewhere"`, "recipient_domain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &Engine{kw: newKeywordSet()}
			err := e.load(mod(t, tt.file, tt.old, tt.new))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("load: %v; want an error with %q", err, tt.want)
			}
		})
	}
}

// TestAmbiguousRecipientRefusals: wording that means "no such user" on the
// recipient's own server is how some servers (OpenSMTPD) refuse to relay;
// definite wordings stay recipient-unknown whatever the context.
func TestAmbiguousRecipientRefusals(t *testing.T) {
	e := mustEngine(t)
	openSMTPD := Context{Port: 25, ServerHost: "mail.example.org", ServerName: "mail.example.org",
		Banner: "220 mail.example.org ESMTP OpenSMTPD", RecipientDomain: "example.net"}
	plain := openSMTPD
	plain.Banner, plain.ServerName = "220 mail.example.org ESMTP ready", ""
	authed := openSMTPD
	authed.Authenticated = true
	viaMX := plain
	viaMX.RecipientMX = true
	own := plain
	own.RecipientDomain = "example.org"
	const (
		invalid   = "550 Invalid recipient: <someone@example.net>"
		expansion = "524 5.2.4 Mailing list expansion problem: <nobody@example.org>"
		postfix   = "550 5.1.1 <nobody@example.net>: Recipient address rejected: User unknown in virtual mailbox table"
		exim      = "550 Unrouteable address"
	)
	tests := []struct {
		name, reply, phase string
		ctx                Context
		category, rule     string
		maxConf            float64
		meaningHas         string // substring the meaning must contain
		stepHas            string // substring some next step must contain
	}{
		{"OpenSMTPD banner, foreign domain, no AUTH", invalid, PhaseRcpt, openSMTPD, "relay-denied", "opensmtpd-invalid-recipient-foreign", 0.8, "refuses to relay", "authenticate"},
		{"unnamed server, foreign domain, no AUTH", invalid, PhaseRcpt, plain, "recipient-unknown", "rcpt-ambiguous-foreign-domain", 0.6, "refusal to relay", "authenticate"},
		{"recipient not found, foreign domain", "550 5.1.1 Recipient not found", PhaseRcpt, plain, "recipient-unknown", "rcpt-ambiguous-foreign-domain", 0.65, "unknown there", "dig +short MX example.net"},
		{"after AUTH the words mean what they say", invalid, PhaseRcpt, authed, "recipient-unknown", "rcpt-user-unknown", 0.95, "does not exist", ""},
		{"server found as the domain's MX", invalid, PhaseRcpt, viaMX, "recipient-unknown", "rcpt-user-unknown", 0.95, "does not exist", ""},
		{"the server's own domain", invalid, PhaseRcpt, own, "recipient-unknown", "rcpt-user-unknown", 0.95, "does not exist", ""},
		{"pasted text: both readings, lower confidence", invalid, PhaseRcpt, Context{}, "recipient-unknown", "rcpt-ambiguous-recipient", 0.75, "refuse to relay", "authenticate"},
		{"OpenSMTPD unknown user", expansion, PhaseRcpt, Context{}, "recipient-unknown", "rcpt-expansion-problem", 0.85, "mailing lists", "spelling"},
		{"OpenSMTPD unknown user, session context", expansion, PhaseRcpt, plain, "recipient-unknown", "rcpt-expansion-problem", 0.85, "does not exist", ""},
		{"OpenSMTPD unknown user, phase unknown", expansion, "", Context{}, "recipient-unknown", "rcpt-expansion-problem", 0.85, "", ""},
		{"X.2.4 at RCPT without the words", "550 5.2.4 <nobody@example.org>", PhaseRcpt, Context{}, "recipient-unknown", "code-rcpt-x24", 0.6, "", ""},
		{"Postfix virtual table, foreign-looking server", postfix, PhaseRcpt, plain, "recipient-unknown", "rcpt-user-unknown", 0.99, "does not exist", ""},
		{"Postfix virtual table, pasted", postfix, PhaseRcpt, Context{}, "recipient-unknown", "rcpt-user-unknown", 0.99, "does not exist", ""},
		{"Exim unrouteable, foreign-looking server", exim, PhaseRcpt, plain, "recipient-unknown", "rcpt-user-unknown", 0.95, "does not exist", ""},
		{"Exim unrouteable, pasted", exim, PhaseRcpt, Context{}, "recipient-unknown", "rcpt-user-unknown", 0.95, "does not exist", ""},
		{"Mimecast's own reply", "550 Invalid Recipient - https://community.mimecast.com/docs/DOC-1369#550", PhaseRcpt, Context{}, "recipient-unknown", "mimecast-invalid-recipient", 0.95, "Mimecast", ""},
		{"an address at a provider is not that provider", "550 5.1.1 <bob@outlook.com>: Recipient not found", PhaseRcpt, Context{}, "recipient-unknown", "rcpt-ambiguous-recipient", 0.8, "", ""},
		{"Mimecast known from its MX host", invalid, PhaseRcpt, Context{ServerHost: "eu-smtp-inbound-1.mimecast.com", RecipientDomain: "example.net", RecipientMX: true}, "recipient-unknown", "mimecast-invalid-recipient", 0.95, "Mimecast", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := e.Diagnose(Input{Lines: []string{tt.reply}, Phase: tt.phase, Context: tt.ctx})
			if d.Category != tt.category || d.RuleID != tt.rule {
				t.Fatalf("%q: %s (rule %s), want %s (rule %s); evidence %q", tt.reply, d.Category, d.RuleID, tt.category, tt.rule, d.Evidence)
			}
			if d.Confidence > tt.maxConf {
				t.Errorf("confidence %.2f, want at most %.2f: the doubt must show", d.Confidence, tt.maxConf)
			}
			if tt.meaningHas != "" && !strings.Contains(d.Meaning, tt.meaningHas) {
				t.Errorf("meaning %q lacks %q", d.Meaning, tt.meaningHas)
			}
			if tt.stepHas != "" && !strings.Contains(strings.Join(d.NextSteps, "\n"), tt.stepHas) {
				t.Errorf("next steps %q lack %q", d.NextSteps, tt.stepHas)
			}
			if !strings.HasPrefix(tt.rule, "mimecast") && strings.Contains(d.Meaning, "Mimecast") {
				t.Errorf("meaning claims Mimecast: %q", d.Meaning)
			}
		})
	}
}

func TestRecipientRelation(t *testing.T) {
	tests := []struct {
		name string
		ctx  Context
		want string
	}{
		{"nothing known", Context{}, rcptUnknown},
		{"no recipient domain", Context{ServerHost: "mx.example.org"}, rcptUnknown},
		{"no server name", Context{RecipientDomain: "example.net"}, rcptUnknown},
		{"server given as an IP", Context{RecipientDomain: "example.net", ServerHost: "192.0.2.7"}, rcptUnknown},
		{"found by MX lookup", Context{RecipientDomain: "example.net", ServerHost: "mx.hoster.example", RecipientMX: true}, rcptOwn},
		{"host inside the domain", Context{RecipientDomain: "example.net", ServerHost: "mx1.example.net"}, rcptOwn},
		{"same registrable domain", Context{RecipientDomain: "lists.example.co.uk", ServerHost: "mail.example.co.uk."}, rcptOwn},
		{"banner names the domain", Context{RecipientDomain: "example.net", ServerHost: "192.0.2.7", Banner: "220-smtp.example.net ESMTP\n220 hello"}, rcptOwn},
		{"every name elsewhere", Context{RecipientDomain: "Example.NET", ServerHost: "mail.example.org", ServerName: "mail.example.org"}, rcptForeign},
		{"banner elsewhere", Context{RecipientDomain: "example.net", ServerHost: "127.0.0.1", Banner: "220 mail.example.org ESMTP OpenSMTPD"}, rcptForeign},
		{"same public suffix only", Context{RecipientDomain: "a.co.uk", ServerHost: "mx.b.co.uk"}, rcptForeign},
	}
	for _, tt := range tests {
		sv := &sessionView{ctx: &tt.ctx}
		if got := sv.recipientRelation(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}
