package explain

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes is the longest line the scanner keeps. Longer lines are cut
// here and marked truncated, so one line of megabytes (a base64 blob without
// newlines, a binary file) cannot grow memory.
const MaxLineBytes = 64 << 10

// lineReader yields lines without their terminator, cut at MaxLineBytes.
// Memory is the bufio buffer plus one line, whatever the input size.
type lineReader struct {
	br        *bufio.Reader
	n         int // physical lines read so far
	truncated int // lines cut at MaxLineBytes
	pending   []byte
	err       error
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, MaxLineBytes)}
}

// next returns the next line, whether it was truncated, and false at the end
// of input (then err holds a read error, or nil at a clean EOF). The returned
// slice is only valid until the following call.
func (lr *lineReader) next() (line []byte, truncated, ok bool) {
	if lr.err != nil {
		return nil, false, false
	}
	b, err := lr.br.ReadSlice('\n')
	switch {
	case err == nil:
		b = b[:len(b)-1]
	case errors.Is(err, bufio.ErrBufferFull):
		// Keep the first MaxLineBytes and drop the rest of this line.
		truncated = true
		lr.pending = append(lr.pending[:0], b...)
		b = lr.pending
		if derr := lr.discardLine(); derr != nil {
			lr.err = derr
		}
	case errors.Is(err, io.EOF):
		if len(b) == 0 {
			lr.err = io.EOF
			return nil, false, false
		}
		lr.err = io.EOF
	default:
		lr.err = fmt.Errorf("read input: %w", err)
		if len(b) == 0 {
			return nil, false, false
		}
	}
	lr.n++
	if truncated {
		lr.truncated++
	}
	b = bytes.TrimSuffix(b, []byte{'\r'})
	return b, truncated, true
}

// discardLine skips input up to and including the next newline.
func (lr *lineReader) discardLine() error {
	for {
		_, err := lr.br.ReadSlice('\n')
		if err == nil {
			return nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) {
			return io.EOF
		}
		return fmt.Errorf("read input: %w", err)
	}
}

// readErr is the error that ended reading, nil for a clean end of input.
func (lr *lineReader) readErr() error {
	if lr.err == nil || errors.Is(lr.err, io.EOF) {
		return nil
	}
	return lr.err
}
