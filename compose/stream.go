package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// stream assembles the message reader: the header section (the default one
// or the one read from --data, edited by --header/--add-header), the body
// (spliced in at %BODY%), token expansion over all of it, then the final
// fix-ups. In sizing mode base64 parts are skipped (see size).
func (b *builder) stream(sizing bool) (io.Reader, error) {
	o := &b.opts
	splice := func() (io.Reader, error) {
		if b.mime {
			return b.mimeBody(sizing)
		}
		return b.body.open()
	}
	if b.data == nil {
		fields, err := editHeader(b.defaultFields(), o.Headers, o.AddHeaders)
		if err != nil {
			return nil, err
		}
		head := append(writeHeader(fields, true), "\r\n"...)
		top := io.MultiReader(bytes.NewReader(head), strings.NewReader("%BODY%\r\n"))
		return newFinisher(newExpander(top, b.values, splice), true), nil
	}

	r, err := b.data.open()
	if err != nil {
		return nil, err
	}
	if o.NoDataFixup {
		return newFinisher(r, false), nil
	}
	// swaks turns `\n` into line breaks before it cuts the header off.
	br := bufio.NewReaderSize(newExpander(r, nil, nil), 64<<10)
	lines, raw, err := readHeaderSection(br, maxHeaderSection)
	switch {
	case errors.Is(err, errHeaderTooLarge):
		if len(o.Headers)+len(o.AddHeaders) > 0 {
			return nil, fmt.Errorf("--data: no blank line ends the header section within its first %d bytes, so --header and --add-header cannot be applied", maxHeaderSection)
		}
		// Nothing to edit: send the data as it is, tokens expanded.
		if !o.NoStripFrom && bytes.HasPrefix(raw, []byte("From ")) {
			if i := bytes.IndexByte(raw, '\n'); i >= 0 {
				raw = raw[i+1:]
			}
		}
		rest := io.MultiReader(bytes.NewReader(raw), br)
		return newFinisher(newExpander(rest, b.values, splice), true), nil
	case err != nil:
		return nil, fmt.Errorf("--data: %w", err)
	}
	fields, err := editHeader(parseFields(lines), o.Headers, o.AddHeaders)
	if err != nil {
		return nil, err
	}
	head := append(writeHeader(fields, o.NoStripFrom), "\r\n"...)
	top := io.MultiReader(bytes.NewReader(head), br)
	return newFinisher(newExpander(top, b.values, splice), true), nil
}

// defaultFields is the default header, swaks's template with our
// additions: MIME-Version and Content-Type always, a Cc header when there
// are Cc recipients, and valid From/To fields for the null sender and for
// no recipients.
func (b *builder) defaultFields() []field {
	o := &b.opts
	f := func(line string) field {
		name, _, _ := strings.Cut(line, ":")
		return field{name: name, lines: []string{line}}
	}
	to := "To: %TO_ADDRESS%"
	if len(o.To) == 0 {
		to = "To: undisclosed-recipients:;"
	}
	from := "From: %FROM_ADDRESS%"
	if o.From == "" {
		// RFC 5322 requires a From address; the null sender has none.
		from = "From: MAILER-DAEMON@" + b.hostname
	}
	mailer := "X-Mailer: " + b.toolName
	if o.ToolVersion != "" {
		mailer += " " + o.ToolVersion
	}
	fields := []field{f("Date: %DATE%"), f(to)}
	if len(o.Cc) > 0 {
		fields = append(fields, f("Cc: %CC_ADDRESS%"))
	}
	fields = append(fields,
		f(from),
		f("Subject: test %DATE%"),
		f("Message-ID: <%MESSAGEID%>"),
		f(mailer),
		f("MIME-Version: 1.0"),
		f("Content-Type: "+b.contentType),
	)
	if !b.mime && mayBe8Bit(b.body) {
		// Without it the body is 7bit by default (RFC 2045 6.1), which
		// 8-bit text is not.
		fields = append(fields, f("Content-Transfer-Encoding: 8bit"))
	}
	return fields
}

// trailingDot is swaks's s/\r?\n\.\r?\n?$//: a final "." line the user
// typed to end the data is removed (the client adds its own). In Perl, $
// also matches before a final newline, which the second group keeps.
var trailingDot = regexp.MustCompile(`(\r?\n\.\r?\n?)(\n?)$`)

// maxTrailingDot is the longest text trailingDot can match.
const maxTrailingDot = 6

// finisher applies the last fix-ups as the message streams: removal of a
// trailing "." line (when stripDot), bare LF to CRLF, and a final CRLF.
type finisher struct {
	src      io.Reader
	stripDot bool
	buf      []byte // read buffer; starts with the held-back tail
	held     int    // bytes at the start of buf not yet emitted
	out      bytes.Buffer
	lastRaw  byte // last input byte emitted, to spot bare LFs
	last2    [2]byte
	emitted  int64
	eof      bool
	err      error
}

func newFinisher(src io.Reader, stripDot bool) *finisher {
	return &finisher{src: src, stripDot: stripDot, buf: make([]byte, 32<<10)}
}

func (f *finisher) Read(p []byte) (int, error) {
	for f.out.Len() == 0 {
		if f.err != nil {
			return 0, f.err
		}
		if f.eof {
			return 0, io.EOF
		}
		n, err := f.src.Read(f.buf[f.held:])
		n += f.held
		if err != nil && err != io.EOF {
			f.err = err
			continue
		}
		if err == io.EOF {
			data := f.buf[:n]
			if f.stripDot {
				if m := trailingDot.FindSubmatchIndex(data); m != nil {
					data = append(data[:m[2]], data[m[4]:m[5]]...)
				}
			}
			f.emit(data)
			if f.emitted < 2 || f.last2 != [2]byte{'\r', '\n'} {
				f.out.WriteString("\r\n")
			}
			f.eof = true
			continue
		}
		keep := 0
		if f.stripDot {
			keep = min(n, maxTrailingDot)
		}
		f.emit(f.buf[:n-keep])
		f.held = copy(f.buf, f.buf[n-keep:n])
	}
	return f.out.Read(p)
}

// emit writes data to out with every bare LF turned into CRLF.
func (f *finisher) emit(data []byte) {
	if len(data) == 0 {
		return
	}
	start := f.out.Len()
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.out.Write(data)
			f.lastRaw = data[len(data)-1]
			break
		}
		f.out.Write(data[:i])
		prev := f.lastRaw
		if i > 0 {
			prev = data[i-1]
		}
		if prev != '\r' {
			f.out.WriteByte('\r')
		}
		f.out.WriteByte('\n')
		f.lastRaw = '\n'
		data = data[i+1:]
	}
	written := f.out.Bytes()[start:]
	f.emitted += int64(len(written))
	switch {
	case len(written) >= 2:
		f.last2 = [2]byte{written[len(written)-2], written[len(written)-1]}
	case len(written) == 1:
		f.last2 = [2]byte{f.last2[1], written[0]}
	}
}
