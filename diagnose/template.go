package diagnose

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// A stepTemplate is a meaning or next-step text with placeholders, written
// in the text/template subset `{{.Field}}` and `{{or .Field "default"}}`.
// It is parsed once at load time and rendered by concatenation: executing
// text/template for every reply would cost more than the whole diagnosis.
type stepTemplate struct {
	segs []tmplSeg
	raw  string
}

type tmplSeg struct {
	lit   string // literal text when field == ""
	field string // context field or named regexp group
	def   string // default when the field is empty
	hasDf bool
}

// isContextField reports whether every template may use the field.
func isContextField(f string) bool {
	switch f {
	case "SenderDomain", "RecipientDomain", "ClientIP", "ServerHost",
		"ServerName", "HeloName", "Port", "Code", "EnhancedCode":
		return true
	}
	return false
}

// parseTemplate parses s; groups are the named groups of the rule's regexp,
// which templates may use besides the context fields.
func parseTemplate(s string, groups map[string]bool) (stepTemplate, error) {
	t := stepTemplate{raw: s}
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.segs = append(t.segs, tmplSeg{lit: rest})
			}
			return t, nil
		}
		if i > 0 {
			t.segs = append(t.segs, tmplSeg{lit: rest[:i]})
		}
		j := strings.Index(rest[i:], "}}")
		if j < 0 {
			return t, fmt.Errorf("unclosed {{ in %q", s)
		}
		action := strings.TrimSpace(rest[i+2 : i+j])
		rest = rest[i+j+2:]
		seg, err := parseAction(action)
		if err != nil {
			return t, fmt.Errorf("template %q: %w", s, err)
		}
		if !isContextField(seg.field) && !groups[seg.field] {
			return t, fmt.Errorf("template %q: unknown field .%s", s, seg.field)
		}
		t.segs = append(t.segs, seg)
	}
}

func parseAction(a string) (tmplSeg, error) {
	if strings.HasPrefix(a, ".") && !strings.ContainsAny(a, " \t") {
		return tmplSeg{field: a[1:]}, nil
	}
	if strings.HasPrefix(a, "or ") {
		r := strings.TrimSpace(a[3:])
		if !strings.HasPrefix(r, ".") {
			return tmplSeg{}, fmt.Errorf("want `or .Field \"default\"`, got %q", a)
		}
		sp := strings.IndexAny(r, " \t")
		if sp < 0 {
			return tmplSeg{}, fmt.Errorf("want `or .Field \"default\"`, got %q", a)
		}
		def, err := strconv.Unquote(strings.TrimSpace(r[sp:]))
		if err != nil {
			return tmplSeg{}, fmt.Errorf("default of %q: %w", a, err)
		}
		return tmplSeg{field: r[1:sp], def: def, hasDf: true}, nil
	}
	return tmplSeg{}, fmt.Errorf("unsupported action {{%s}}", a)
}

// tmplData is what templates are rendered with.
type tmplData struct {
	ctx      *Context
	code     int
	enhanced string
	groups   map[string]string
	text     string // the normalised reply text, for the client IP it names
}

// replyIP finds the client address a server names in its reply, as in
// "Client host [198.51.100.7] blocked" or "messages from [192.0.2.1]". It
// is the address the server saw, which beats the local address of the
// connection when the client sits behind NAT.
func replyIP(text string) string {
	for rest := text; ; {
		i := strings.IndexByte(rest, '[')
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
		j := strings.IndexByte(rest, ']')
		if j < 0 || j > 45 {
			continue
		}
		cand := strings.TrimPrefix(strings.TrimPrefix(rest[:j], "ipv6:"), "IPv6:")
		if ip := net.ParseIP(cand); ip != nil && !ip.IsUnspecified() {
			return ip.String()
		}
	}
}

func (d *tmplData) get(field string) string {
	switch field {
	case "SenderDomain":
		return d.ctx.SenderDomain
	case "RecipientDomain":
		return d.ctx.RecipientDomain
	case "ClientIP":
		if ip := replyIP(d.text); ip != "" {
			return ip
		}
		return d.ctx.ClientIP
	case "ServerHost":
		if d.ctx.ServerHost != "" {
			return d.ctx.ServerHost
		}
		return d.ctx.ServerName
	case "ServerName":
		return d.ctx.ServerName
	case "HeloName":
		return d.ctx.HeloName
	case "Port":
		if d.ctx.Port == 0 {
			return ""
		}
		return strconv.Itoa(d.ctx.Port)
	case "Code":
		if d.code == 0 {
			return ""
		}
		return strconv.Itoa(d.code)
	case "EnhancedCode":
		return d.enhanced
	}
	return d.groups[field]
}

// render fills the template. A field that is empty and has no default makes
// the whole text unusable ("dig -x " with no address helps nobody): render
// then reports false and the caller leaves the step out.
func (t *stepTemplate) render(d *tmplData) (string, bool) {
	if len(t.segs) == 1 && t.segs[0].field == "" {
		return t.segs[0].lit, true
	}
	var b strings.Builder
	b.Grow(len(t.raw) + 16)
	for _, s := range t.segs {
		if s.field == "" {
			b.WriteString(s.lit)
			continue
		}
		v := sanitizeValue(d.get(s.field))
		if v == "" {
			if !s.hasDf {
				return "", false
			}
			v = s.def
		}
		b.WriteString(v)
	}
	return b.String(), true
}

// sanitizeValue keeps values taken from the reply or the context short and
// printable before they are pasted into advice.
func sanitizeValue(v string) string {
	if len(v) > 255 {
		v = v[:255]
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7F {
			return strings.Map(func(r rune) rune {
				if r < 0x20 || r == 0x7F {
					return -1
				}
				return r
			}, v)
		}
	}
	return v
}
