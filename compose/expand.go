package compose

import (
	"bytes"
	"io"
)

// Token expansion, as swaks does it on the DATA portion: %NAME% or ..NAME..
// (the same delimiter on both sides) is replaced by its value, and the two
// characters `\n` become CRLF. Unknown names are left as they are. It is one
// left-to-right pass: a replaced value is never scanned again, so an address
// that happens to contain "%DATE%" stays as it is.

// maxTokenName is the longest token name (SWAKS_VERSION, NEW_HEADERS...).
const maxTokenName = 13

// tokenBody is the token replaced by the (streamed) body.
const tokenBody = "BODY"

// maxPendingOut bounds the expanded output produced from one input chunk,
// because a short token can expand into a long recipient list.
const maxPendingOut = 64 << 10

// expander is a streaming io.Reader that expands tokens in src.
type expander struct {
	src    io.Reader
	values map[string]string
	// splice, when set, opens the reader that replaces each %BODY% token;
	// that content is itself expanded, but without a further %BODY%.
	splice func() (io.Reader, error)

	in    []byte // input not yet processed (a possible token prefix at most, between reads)
	out   bytes.Buffer
	cur   io.Reader // the body being spliced in
	chunk []byte
	eof   bool
	err   error
}

func newExpander(src io.Reader, values map[string]string, splice func() (io.Reader, error)) *expander {
	return &expander{src: src, values: values, splice: splice, chunk: make([]byte, 32<<10)}
}

func (e *expander) Read(p []byte) (int, error) {
	for {
		if e.out.Len() > 0 {
			return e.out.Read(p)
		}
		if e.cur != nil {
			n, err := e.cur.Read(p)
			if err == io.EOF {
				e.cur = nil
				err = nil
			}
			if err != nil {
				e.err, e.cur = err, nil
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if e.err != nil {
			return 0, e.err
		}
		if e.eof && len(e.in) == 0 {
			return 0, io.EOF
		}
		if !e.eof && len(e.in) < maxTokenName+4 {
			n, err := e.src.Read(e.chunk)
			e.in = append(e.in, e.chunk[:n]...)
			if err == io.EOF {
				e.eof = true
			} else if err != nil {
				e.err = err
				continue
			}
		}
		if err := e.process(); err != nil {
			e.err = err
		}
	}
}

// process expands as much of e.in as can be decided now. It keeps back a
// suffix that may be the start of a token cut by the read boundary.
func (e *expander) process() error {
	in := e.in
	i := 0
	for i < len(in) && e.out.Len() < maxPendingOut {
		k := bytes.IndexAny(in[i:], `%.\`)
		if k < 0 {
			e.out.Write(in[i:])
			i = len(in)
			break
		}
		e.out.Write(in[i : i+k])
		i += k
		name, end, status := matchToken(in[i:], e.eof)
		if status == tokenNeedMore {
			break
		}
		if status == tokenNone {
			e.out.WriteByte(in[i])
			i++
			continue
		}
		if name == "\n" {
			e.out.WriteString("\r\n")
			i += end
			continue
		}
		if name == tokenBody && e.splice != nil {
			r, err := e.splice()
			if err != nil {
				e.in = in[i+end:]
				return err
			}
			e.cur = newExpander(r, e.values, nil)
			i += end
			// The body goes out before anything after the token.
			break
		}
		if v, ok := e.values[name]; ok {
			e.out.WriteString(v)
			i += end
			continue
		}
		e.out.WriteByte(in[i])
		i++
	}
	// Keep the unprocessed rest at the front of the buffer.
	e.in = append(e.in[:0], in[i:]...)
	return nil
}

type tokenStatus int

const (
	tokenNone     tokenStatus = iota // not a token here
	tokenMatch                       // a token (name, length)
	tokenNeedMore                    // cannot tell before more input arrives
)

// matchToken looks at b, which starts with '%', '.' or '\\'. It returns the
// token name ("\n" for the `\n` escape) and its length in bytes. The name
// is returned whatever it is: the caller decides whether it is known.
func matchToken(b []byte, eof bool) (string, int, tokenStatus) {
	need := func() (string, int, tokenStatus) {
		if eof {
			return "", 0, tokenNone
		}
		return "", 0, tokenNeedMore
	}
	delim := 1
	switch b[0] {
	case '\\':
		if len(b) < 2 {
			return need()
		}
		if b[1] == 'n' {
			return "\n", 2, tokenMatch
		}
		return "", 0, tokenNone
	case '.':
		if len(b) < 2 {
			return need()
		}
		if b[1] != '.' {
			return "", 0, tokenNone
		}
		delim = 2
	}
	j := delim
	for j < len(b) && j-delim <= maxTokenName && isTokenChar(b[j]) {
		j++
	}
	nameLen := j - delim
	if nameLen > maxTokenName {
		return "", 0, tokenNone
	}
	if j+delim > len(b) {
		// The name, or the closing delimiter, may continue in the next read.
		if j == len(b) || bytes.HasPrefix(b[:delim], b[j:]) {
			return need()
		}
		return "", 0, tokenNone
	}
	if nameLen == 0 || !bytes.Equal(b[j:j+delim], b[:delim]) {
		return "", 0, tokenNone
	}
	return string(b[delim:j]), j + delim, tokenMatch
}

func isTokenChar(c byte) bool { return c >= 'A' && c <= 'Z' || c == '_' }
