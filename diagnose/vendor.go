package diagnose

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
)

// A vendor is a provider, security gateway, block list or MTA whose own
// wording some rules explain. Its markers are what shows that a reply really
// comes from it (its domains, its code formats, its banner host): a rule
// that carries the vendor applies only when one of them is there, so that
// words a vendor happens to share with others ("550 Invalid recipient")
// never make the diagnosis claim that vendor for an unrelated server.
type vendor struct {
	id, name string
	names    []string       // words that name it in rule texts, lowercase
	markers  []string       // normalised substrings of the reply or the server's names
	markerKW []int32        // the markers' keyword ids
	re       *regexp.Regexp // optional: a code format, on the enhanced code and the text
}

type vendorJSON struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Names   []string `json:"names"`
	Markers []string `json:"markers"`
	Re      string   `json:"re"`
	Note    string   `json:"note"` // for maintainers; not shown
}

type vendorsFile struct {
	Vendors []vendorJSON `json:"vendors"`
}

func (e *Engine) loadVendors(fsys fs.FS) error {
	var f vendorsFile
	if err := decodeFile(fsys, "rules/vendors.json", &f); err != nil {
		return err
	}
	e.vendors = map[string]*vendor{}
	for _, vj := range f.Vendors {
		where := "vendors.json: vendor " + strconv.Quote(vj.ID)
		if vj.ID == "" || vj.Name == "" {
			return fmt.Errorf("vendors.json: a vendor needs an id and a name")
		}
		if _, dup := e.vendors[vj.ID]; dup {
			return fmt.Errorf("%s listed twice", where)
		}
		if len(vj.Markers) == 0 || len(vj.Names) == 0 {
			return fmt.Errorf("%s needs names and markers", where)
		}
		v := &vendor{id: vj.ID, name: vj.Name}
		for _, n := range vj.Names {
			if n != strings.ToLower(n) || strings.TrimSpace(n) == "" {
				return fmt.Errorf("%s: name %q must be lowercase and not empty", where, n)
			}
			v.names = append(v.names, n)
		}
		for _, m := range vj.Markers {
			n := normalize(m, maxMatchText)
			if n != m {
				return fmt.Errorf("%s: marker %q must be written normalised as %q", where, m, n)
			}
			id, err := e.kw.add(n)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			v.markers = append(v.markers, n)
			v.markerKW = append(v.markerKW, id)
		}
		if vj.Re != "" {
			var err error
			if v.re, err = regexp.Compile(vj.Re); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
		e.vendors[v.id] = v
		e.vendorOrder = append(e.vendorOrder, v.id)
	}
	return nil
}

// vendorEvidence returns where a marker of v shows up: the reply text, its
// codes, or (in a live session) the server's banner, EHLO name or host
// name; and the marker when it was found in the reply text. It returns ""
// when nothing shows that the reply comes from v.
//
// Mail addresses in the reply do not count: "550 <bob@outlook.com>:
// Recipient not found" from any server names Outlook only as the
// recipient's provider.
func (e *Engine) vendorEvidence(v *vendor, p *parsedReply, hits *keywordHits, sv *sessionView) (where, textMarker string) {
	if strings.IndexByte(p.norm, '@') >= 0 {
		if !sv.addrFreeDone {
			sv.addrFreeDone = true
			e.kw.scan(maskAddresses(p.norm), &sv.addrFree, func(int32) {})
		}
		hits = &sv.addrFree
	}
	for i, id := range v.markerKW {
		if hits.has(id) {
			return strconv.Quote(v.markers[i]) + " in the reply", v.markers[i]
		}
	}
	if v.re != nil {
		if p.enhanced != "" && v.re.MatchString(p.enhanced) {
			return "its code format (" + p.enhanced + ")", ""
		}
		if m := v.re.FindString(p.norm); m != "" {
			m = strings.TrimFunc(m, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
			return "its code format (" + m + ")", ""
		}
	}
	if names := sv.serverNames(); names != "" {
		for _, m := range v.markers {
			if strings.Contains(names, m) {
				return strconv.Quote(m) + " in the server's name or banner", ""
			}
		}
	}
	return "", ""
}

// namedVendor returns the vendor a rule text names (and the word), or nil.
// Examples ("e.g. Postfix mynetworks") and URLs do not count: a generic
// rule may point to a vendor's lookup page or cite a product as an
// example, but it must not claim that the server is one.
func (e *Engine) namedVendor(texts ...string) (*vendor, string) {
	for _, t := range texts {
		t = stripExamples(strings.ToLower(t))
		for _, id := range e.vendorOrder {
			v := e.vendors[id]
			for _, n := range v.names {
				if containsWord(t, n) {
					return v, n
				}
			}
		}
	}
	return nil, ""
}

// maskAddresses blanks every word that holds an '@' (a mail address,
// bracketed or not), keeping the length of the text.
func maskAddresses(s string) string {
	b := []byte(s)
	for i := 0; i < len(b); {
		if b[i] != '@' {
			i++
			continue
		}
		start, end := i, i
		for start > 0 && b[start-1] != ' ' {
			start--
		}
		for end < len(b) && b[end] != ' ' {
			end++
		}
		for k := start; k < end; k++ {
			b[k] = ' '
		}
		i = end
	}
	return string(b)
}

// stripExamples removes URLs and examples from a lowercase text: an
// example runs from "e.g." or "for example" to the next ')' or ';', or to
// the end of its sentence (". "), or, when "for example" closes a
// parenthesis ("(Cisco 'fixup smtp', for example)"), covers that
// parenthesis.
func stripExamples(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://"):
			n := strings.IndexAny(rest, " )\"'")
			if n < 0 {
				n = len(rest)
			}
			b.WriteByte(' ')
			i += n
		case strings.HasPrefix(rest, "e.g.") || strings.HasPrefix(rest, "for example"):
			n := len(rest)
			for _, stop := range []string{")", ";", ". "} {
				if k := strings.Index(rest[4:], stop); k >= 0 && k+4 < n {
					n = k + 4
				}
			}
			b.WriteByte(' ')
			i += n
		case strings.HasPrefix(rest, "("):
			// "(X, for example)": drop the whole parenthesis.
			if k := strings.IndexByte(rest, ')'); k > 0 && strings.HasSuffix(rest[:k], "for example") {
				b.WriteByte(' ')
				i += k + 1
				continue
			}
			b.WriteByte('(')
			i++
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String()
}

// containsWord reports whether w occurs in s between non-alphanumerics;
// rule ids count their '-'-separated parts as words.
func containsWord(s, w string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], w)
		if j < 0 {
			return false
		}
		a, b := i+j, i+j+len(w)
		if (a == 0 || !isAlnum(s[a-1])) && (b == len(s) || !isAlnum(s[b])) {
			return true
		}
		i = a + 1
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
