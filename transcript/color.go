package transcript

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// ANSI SGR sequences used on terminals. Renderers never emit them: the
// CLI wraps standard output in a ColorWriter only when it is a terminal
// and colour is allowed (no NO_COLOR, no --no-color), so files, pipes,
// JSON and Markdown stay plain. Server text cannot forge them: Escape
// shows every ESC byte it sends as \x1b.
const (
	colorReset    = "\x1b[0m"
	colorRed      = "\x1b[31m"
	colorBoldRed  = "\x1b[1;31m"
	colorBoldGrn  = "\x1b[1;32m"
	colorYellow   = "\x1b[33m"
	colorCyan     = "\x1b[36m"
	colorBoldYell = "\x1b[1;33m"
)

// Styles a line can have, for a classifier passed to NewColorWriterFunc.
const (
	StyleNone     = ""
	StyleError    = colorRed      // an error line
	StyleFailure  = colorBoldRed  // a failure verdict
	StyleSuccess  = colorBoldGrn  // a success verdict
	StyleWarning  = colorBoldYell // a verdict with reservations
	StyleSent     = colorCyan     // a line sent to the server
	StyleReceived = colorYellow   // a line received
)

// LineColor is the colour of one text line by its marker (after an
// optional "[+  0.012s] " time stamp): errors and unexpected replies red,
// the failure verdict bold red, the success verdict bold green, lines
// sent cyan, lines received yellow, anything else none ("").
func LineColor(line string) string {
	if strings.HasPrefix(line, "[+") {
		if i := strings.Index(line, "] "); i > 0 {
			line = line[i+2:]
		}
	}
	switch {
	case strings.HasPrefix(line, "*** Session failed"), strings.HasPrefix(line, "*** TLS handshake"),
		strings.HasPrefix(line, "*** Interrupted"):
		return colorBoldRed
	case strings.HasPrefix(line, "=== Session succeeded, but"):
		return colorBoldYell
	case strings.HasPrefix(line, "=== Session succeeded"):
		return colorBoldGrn
	case strings.HasPrefix(line, "*** "), strings.HasPrefix(line, "<** "):
		return colorRed
	case strings.HasPrefix(line, " -> "), strings.HasPrefix(line, " ~> "):
		return colorCyan
	case strings.HasPrefix(line, "<-  "), strings.HasPrefix(line, "<~  "):
		return colorYellow
	}
	return ""
}

// ColorError colours a message for a terminal's standard error.
func ColorError(s string) string { return colorRed + s + colorReset }

// ColorWriter colours the swaks-like text written through it, line by
// line (LineColor). A line is passed on when its newline arrives; Flush
// passes on an unfinished last line. Safe for concurrent use.
type ColorWriter struct {
	mu       sync.Mutex
	w        io.Writer
	classify func(string) string
	partial  []byte
}

// NewColorWriter colours what is written to w by LineColor.
func NewColorWriter(w io.Writer) *ColorWriter { return &ColorWriter{w: w, classify: LineColor} }

// NewColorWriterFunc colours each line with the style classify gives it
// (one of the Style constants, StyleNone for none).
func NewColorWriterFunc(w io.Writer, classify func(line string) string) *ColorWriter {
	return &ColorWriter{w: w, classify: classify}
}

// Write colours and writes every complete line of p.
func (c *ColorWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.partial = append(c.partial, p...)
	var out bytes.Buffer
	for {
		i := bytes.IndexByte(c.partial, '\n')
		if i < 0 {
			break
		}
		writeColored(&out, c.classify(string(c.partial[:i])), string(c.partial[:i]), "\n")
		c.partial = c.partial[i+1:]
	}
	if out.Len() > 0 {
		if _, err := c.w.Write(out.Bytes()); err != nil {
			return 0, err
		}
	}
	if len(c.partial) == 0 {
		c.partial = nil
	}
	return len(p), nil
}

// Flush writes an unfinished last line.
func (c *ColorWriter) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.partial) == 0 {
		return nil
	}
	var out bytes.Buffer
	writeColored(&out, c.classify(string(c.partial)), string(c.partial), "")
	c.partial = nil
	_, err := c.w.Write(out.Bytes())
	return err
}

func writeColored(b *bytes.Buffer, col, line, end string) {
	if col == "" || line == "" {
		b.WriteString(line + end)
		return
	}
	b.WriteString(col + line + colorReset + end)
}
