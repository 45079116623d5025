package compose

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"path/filepath"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// part is one MIME part: a body part or an attachment.
type part struct {
	src       *source
	mediaType string
	params    map[string]string
	name      string // file name shown to the recipient, "" for none
	body      bool   // a body part (--body/--attach-body), not an attachment
	base64    bool   // encoded in base64 (everything but unnamed text/plain)
}

// prepareParts resolves --attach-body and --attach, as swaks does: the
// body parts come first whatever the option order; the default body (or
// --body) is the single text/plain body part when no --attach-body is given.
func (b *builder) prepareParts() error {
	o := &b.opts
	if b.body == nil {
		lit := b.defaultBody()
		b.body = &source{what: "body", literal: &lit}
	}
	b.mime = len(o.Attach) > 0 || len(o.AttachBody) > 0
	if !b.mime {
		return nil
	}
	for i, a := range o.AttachBody {
		what := fmt.Sprintf("--attach-body %d", i+1)
		src, err := b.resolve(a.Path, what, modeLiteral)
		if err != nil {
			return err
		}
		p, err := newPart(src, a.ContentType, "text/plain", "", what)
		if err != nil {
			return err
		}
		p.body = true
		b.bodies = append(b.bodies, p)
	}
	if len(b.bodies) == 0 {
		p, err := newPart(b.body, "text/plain", "text/plain", "", "--body")
		if err != nil {
			return err
		}
		p.body = true
		b.bodies = append(b.bodies, p)
	}
	for i, a := range o.Attach {
		what := fmt.Sprintf("attachment %d", i+1)
		if a.Path == "" {
			return fmt.Errorf("%s: empty argument", what)
		}
		src, err := b.resolve(a.Path, what, modeAttach)
		if err != nil {
			return err
		}
		name := a.Name
		if name == "" && !a.NoName && src.fromFile() {
			name = filepath.Base(src.path)
		}
		if a.NoName {
			name = ""
		}
		ctype := a.ContentType
		if ctype == "" {
			ext := filepath.Ext(name)
			if ext == "" && src.fromFile() {
				ext = filepath.Ext(src.path)
			}
			if ext != "" {
				ctype = mime.TypeByExtension(ext)
			}
		}
		p, err := newPart(src, ctype, "application/octet-stream", name, what)
		if err != nil {
			return err
		}
		b.attach = append(b.attach, p)
	}
	return nil
}

// newPart checks a part's content type and file name.
func newPart(src *source, ctype, fallback, name, what string) (*part, error) {
	if ctype == "" {
		ctype = fallback
	}
	if strings.ContainsAny(ctype, "\r\n\x00") {
		return nil, fmt.Errorf("%s: content type %q contains a CR, LF or NUL character", what, ctype)
	}
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		return nil, fmt.Errorf("%s: content type %q: %w", what, ctype, err)
	}
	if !strings.Contains(mt, "/") {
		return nil, fmt.Errorf("%s: content type %q has no subtype (want type/subtype)", what, ctype)
	}
	if strings.HasPrefix(mt, "multipart/") {
		return nil, fmt.Errorf("%s: content type %q: a part cannot be multipart here", what, ctype)
	}
	if strings.ContainsAny(name, "\r\n\x00") {
		return nil, fmt.Errorf("%s: file name %q contains a CR, LF or NUL character", what, name)
	}
	if mt == "text/plain" && params["charset"] == "" {
		params["charset"] = "utf-8"
	}
	p := &part{src: src, mediaType: mt, params: params, name: name}
	p.base64 = !(mt == "text/plain" && name == "")
	if _, err := p.header(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return p, nil
}

// header is the part's MIME header, laid out as swaks does.
func (p *part) header() (textproto.Header, error) {
	params := make(map[string]string, len(p.params)+1)
	for k, v := range p.params {
		params[k] = v
	}
	var kv [][2]string
	if p.name != "" {
		params["name"] = p.name
	}
	ct := mime.FormatMediaType(p.mediaType, params)
	if ct == "" {
		return textproto.Header{}, fmt.Errorf("content type %q cannot be formatted", p.mediaType)
	}
	kv = append(kv, [2]string{"Content-Type", ct})
	if p.base64 {
		switch {
		case p.name != "":
			disp := mime.FormatMediaType("attachment", map[string]string{"filename": p.name})
			if disp == "" {
				return textproto.Header{}, fmt.Errorf("file name %q cannot be formatted", p.name)
			}
			kv = append(kv,
				[2]string{"Content-Description", mime.QEncoding.Encode("utf-8", p.name)},
				[2]string{"Content-Disposition", disp})
		case !(p.body && strings.HasPrefix(p.mediaType, "text/")):
			kv = append(kv, [2]string{"Content-Disposition", "attachment"})
		}
		kv = append(kv, [2]string{"Content-Transfer-Encoding", "base64"})
	} else if mayBe8Bit(p.src) {
		kv = append(kv, [2]string{"Content-Transfer-Encoding", "8bit"})
	}
	// textproto.Header.Add puts a field first, so add them in reverse.
	var h textproto.Header
	for i := len(kv) - 1; i >= 0; i-- {
		h.Add(kv[i][0], kv[i][1])
	}
	return h, nil
}

// multipartType is the top-level multipart type, chosen as swaks does.
func (b *builder) multipartType() string {
	if len(b.attach) == 0 && len(b.bodies) > 1 {
		return "multipart/alternative"
	}
	return "multipart/mixed"
}

// mimeBody returns a reader producing the multipart body (what %BODY%
// stands for in a MIME message). It is pull-driven: each Read runs the next
// step of the go-message multipart writer into a small buffer, so no
// goroutine is needed and memory stays bounded. In sizing mode base64 parts
// are left empty and their encoded length is added to b.sizingExtra.
func (b *builder) mimeBody(sizing bool) (io.Reader, error) {
	p := &pump{chunk: make([]byte, 48<<10)}
	mw := textproto.NewMultipartWriter(&p.buf)
	if err := mw.SetBoundary(b.boundary); err != nil {
		return nil, fmt.Errorf("MIME boundary: %w", err)
	}
	outer := func() *textproto.MultipartWriter { return mw }
	if len(b.attach) == 0 || len(b.bodies) == 1 {
		for _, part := range b.bodies {
			b.partSteps(p, outer, part, sizing)
		}
	} else {
		var inner *textproto.MultipartWriter
		p.steps = append(p.steps, func() (bool, error) {
			var h textproto.Header
			h.Add("Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": b.altBoundary}))
			w, err := mw.CreatePart(h)
			if err != nil {
				return true, err
			}
			inner = textproto.NewMultipartWriter(w)
			return true, inner.SetBoundary(b.altBoundary)
		})
		for _, part := range b.bodies {
			b.partSteps(p, func() *textproto.MultipartWriter { return inner }, part, sizing)
		}
		p.steps = append(p.steps, func() (bool, error) { return true, inner.Close() })
	}
	for _, part := range b.attach {
		b.partSteps(p, outer, part, sizing)
	}
	p.steps = append(p.steps, func() (bool, error) { return true, mw.Close() })
	return p, nil
}

// partSteps appends the steps writing one part: its header, then its
// content one chunk per step.
func (b *builder) partSteps(p *pump, mw func() *textproto.MultipartWriter, pt *part, sizing bool) {
	var (
		src io.Reader
		dst io.Writer
		enc io.WriteCloser
	)
	p.steps = append(p.steps, func() (bool, error) {
		h, err := pt.header()
		if err != nil {
			return true, err
		}
		w, err := mw().CreatePart(h)
		if err != nil {
			return true, err
		}
		dst = w
		if pt.base64 {
			enc = base64.NewEncoder(base64.StdEncoding, &lineWrapper{w: w})
			dst = enc
		}
		if sizing && pt.base64 {
			b.sizingExtra += base64Len(pt.src.length())
			src = bytes.NewReader(nil)
			return true, nil
		}
		src, err = pt.src.open()
		return true, err
	}, func() (bool, error) {
		n, err := src.Read(p.chunk)
		if n > 0 {
			if _, werr := dst.Write(p.chunk[:n]); werr != nil {
				return true, werr
			}
		}
		if err == io.EOF {
			if enc != nil {
				return true, enc.Close()
			}
			return true, nil
		}
		return err != nil, err
	})
}

// pump is an io.Reader that runs writer-side steps on demand: each step
// writes a bounded amount into buf; a step returns done=false to be run
// again.
type pump struct {
	buf   bytes.Buffer
	steps []func() (done bool, err error)
	chunk []byte
	err   error
}

func (p *pump) Read(b []byte) (int, error) {
	for p.buf.Len() == 0 {
		if p.err != nil {
			return 0, p.err
		}
		if len(p.steps) == 0 {
			return 0, io.EOF
		}
		done, err := p.steps[0]()
		if err != nil {
			p.err = err
		}
		if done {
			p.steps = p.steps[1:]
		}
	}
	return p.buf.Read(b)
}

// lineWrapper breaks base64 output into 76-character lines (RFC 2045),
// with CRLF between lines and none after the last: the multipart writer
// puts the CRLF before the next boundary.
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		if l.col == 76 {
			if _, err := io.WriteString(l.w, "\r\n"); err != nil {
				return written, err
			}
			l.col = 0
		}
		n := min(76-l.col, len(p))
		m, err := l.w.Write(p[:n])
		written += m
		l.col += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// base64Len is the size of n bytes once base64-encoded and wrapped by
// lineWrapper.
func base64Len(n int64) int64 {
	l := 4 * ((n + 2) / 3)
	if l == 0 {
		return 0
	}
	lines := (l + 75) / 76
	return l + 2*(lines-1)
}
