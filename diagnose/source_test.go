package diagnose

import (
	"regexp"
	"strings"
	"testing"
)

// localPathRe finds what reads as a file on this machine rather than a
// page, an RFC section or a title a user can look up: a seed article's file
// name ("seeds/000_x.txt"), a testdata path, an absolute or relative path,
// or a bare name with a file extension. URLs are removed before matching,
// so "https://example.org/errors.html" is not a path.
var localPathRe = regexp.MustCompile(`(?i)(^|[\s;,(])(\.{0,2}/|~/)|\b(seeds|testdata|shared)/|\.(txt|json|jsonl|go|md|eml|log|ya?ml|csv)\b`)

var urlRe = regexp.MustCompile(`https?://\S+`)

// localPath returns the part of a source that names a local file, or "".
func localPath(source string) string {
	s := urlRe.ReplaceAllString(source, "URL")
	if loc := localPathRe.FindStringIndex(s); loc != nil {
		return s[loc[0]:loc[1]]
	}
	return ""
}

func TestLocalPathDetector(t *testing.T) {
	for _, tc := range []struct {
		source string
		local  bool
	}{
		{"seeds/004_36528e12f17010b3.txt (InMotion: email error 554)", true},
		{"RFC 5321 4.2.3", false},
		{"testdata/corpus.jsonl", true},
		{"/work/shared/seeds/000_1ad261514b5cdb51.txt", true},
		{"see notes.txt", true},
		{"https://www.inmotionhosting.com/support/email/email-error-554/", false},
		{"https://example.org/errors.json; RFC 3463 3.7", false},
		{"1-grid (1grid.co.za) guide, “SMTP Error 554: Transaction Failed”", false},
		{"RFC 7489 6.6; https://support.google.com/mail/answer/81126", false},
	} {
		if got := localPath(tc.source) != ""; got != tc.local {
			t.Errorf("localPath(%q) = %v, want %v", tc.source, got, tc.local)
		}
	}
}

// TestSourcesAreOpenable: a diagnosis cites the article, RFC section or
// provider page behind its rule, and the user must be able to open it. A
// file name of this repository (the seed articles were once cited as
// "seeds/000_....txt") means nothing to them.
func TestSourcesAreOpenable(t *testing.T) {
	e := mustEngine(t)
	check := func(what, source string) {
		t.Helper()
		if p := localPath(source); p != "" {
			t.Errorf("%s: source %q names a local file (%q); cite the title and URL instead", what, source, p)
		}
	}
	for _, r := range e.text {
		check("text rule "+r.id, r.source)
	}
	for _, r := range e.codeRules {
		check("code rule "+r.id, r.source)
	}
	for _, r := range e.advice {
		check("advice "+r.id, r.source)
	}
	for k, ent := range e.enh {
		check("enhanced X."+k, ent.source)
	}
	// And as shown: the Source and evidence of real diagnoses.
	for _, c := range loadCorpus(t) {
		d := e.Diagnose(Input{Lines: strings.Split(c.Reply, "\n"), Phase: c.Phase})
		check("diagnosis of "+c.Reply, d.Source)
		for _, ev := range d.Evidence {
			if strings.Contains(ev, "seeds/") {
				t.Errorf("diagnosis of %q: evidence %q names a seed file", c.Reply, ev)
			}
		}
	}
}

// TestCorpusSourcesAreOpenable: the corpus says where each reply was
// published, so a reader can check the label against the original.
func TestCorpusSourcesAreOpenable(t *testing.T) {
	for _, c := range loadCorpus(t) {
		if strings.Contains(c.Source, "seeds/") {
			t.Errorf("corpus line %q: source %q is a local seed file; cite its title and URL", c.Reply, c.Source)
		}
	}
}
