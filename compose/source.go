package compose

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// source is where one piece of content (data, body, attachment) comes from.
// Regular files are read through independent section readers, so the same
// file can be read by the sizing run, by the real stream and by several
// %BODY% tokens without sharing an offset.
type source struct {
	what string // the option, for error messages ("--data", "attachment 2")

	literal *string
	path    string   // "" unless the content comes from a file
	file    *os.File // regular file (or the stdin spool)
	size    int64    // size of file at Build time

	// once is a stream that can be read a single time: standard input used
	// once, or a FIFO/device given as a path.
	once     io.Reader
	onceName string
	used     bool
}

// sized reports whether the content length is known before reading it.
func (s *source) sized() bool { return s.once == nil }

// length is the content length in bytes; only meaningful when sized.
func (s *source) length() int64 {
	if s.literal != nil {
		return int64(len(*s.literal))
	}
	return s.size
}

// fromFile reports whether the content is a named file (not stdin), which
// gives an attachment its default file name.
func (s *source) fromFile() bool { return s.path != "" }

// open returns a fresh reader over the content.
func (s *source) open() (io.Reader, error) {
	switch {
	case s.literal != nil:
		return strings.NewReader(*s.literal), nil
	case s.file != nil:
		return &exactReader{r: io.NewSectionReader(s.file, 0, s.size), want: s.size, name: s.describe()}, nil
	default:
		if s.used {
			return nil, fmt.Errorf("%s: %s can be read only once, but the message uses it twice", s.what, s.onceName)
		}
		s.used = true
		return &namedReader{r: s.once, name: s.describe()}, nil
	}
}

func (s *source) describe() string {
	if s.path != "" {
		return s.path
	}
	if s.onceName != "" {
		return s.onceName
	}
	return "standard input"
}

// exactReader names the file in read errors and fails when the file turned
// out shorter than it was at Build time: the message size announced with
// SIZE= must not silently become a lie.
type exactReader struct {
	r    io.Reader
	want int64
	got  int64
	name string
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.got += int64(n)
	switch {
	case err == io.EOF && e.got < e.want:
		return n, fmt.Errorf("reading %s: the file shrank from %d to %d bytes while the message was being sent", e.name, e.want, e.got)
	case err != nil && err != io.EOF:
		return n, fmt.Errorf("reading %s: %w", e.name, err)
	}
	return n, err
}

// namedReader names the source in read errors.
type namedReader struct {
	r    io.Reader
	name string
}

func (nr *namedReader) Read(p []byte) (int, error) {
	n, err := nr.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("reading %s: %w", nr.name, err)
	}
	return n, err
}

// argMode says how an argument that is neither "-" nor "@..." is taken.
type argMode int

const (
	// modeLiteral: the argument is the content (--body, --attach-body).
	modeLiteral argMode = iota
	// modeData: an argument without any line break names a file, which
	// must exist (the rule the swaks documentation gives for --data).
	modeData
	// modeAttach: the argument names a file when such a regular file
	// exists, and is the content otherwise (swaks's rule for --attach).
	modeAttach
)

// resolve turns an option argument into a source, following swaks's
// From-File rules: "-" is stdin, "@path" a file, "@@x" the literal "@x".
func (b *builder) resolve(arg, what string, mode argMode) (*source, error) {
	switch {
	case arg == "-":
		if b.stdin == nil {
			return nil, fmt.Errorf("%s: \"-\" reads standard input, but none is available", what)
		}
		return &source{what: what, literal: b.stdin.literal, file: b.stdin.file, size: b.stdin.size,
			once: b.stdin.once, onceName: b.stdin.onceName}, nil
	case strings.HasPrefix(arg, "@@"):
		lit := arg[1:]
		return &source{what: what, literal: &lit}, nil
	case strings.HasPrefix(arg, "@"):
		return b.openFile(arg[1:], what)
	}
	switch mode {
	case modeData:
		if !hasLineBreak(arg) {
			return b.openFile(arg, what)
		}
	case modeAttach:
		if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
			return b.openFile(arg, what)
		}
	}
	lit := arg
	return &source{what: what, literal: &lit}, nil
}

// hasLineBreak reports whether a --data argument contains a newline, the
// two characters `\n`, or a %NEWLINE% token: swaks's test for "this is the
// message itself rather than a file name".
func hasLineBreak(s string) bool {
	return strings.Contains(s, "\n") || strings.Contains(s, `\n`) ||
		strings.Contains(s, "%NEWLINE%") || strings.Contains(s, "..NEWLINE..")
}

// openFile opens path now, so that a missing or unreadable file is reported
// before the SMTP session starts.
func (b *builder) openFile(path, what string) (*source, error) {
	if path == "" {
		return nil, fmt.Errorf("%s: empty file name", what)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	b.files = append(b.files, f)
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case fi.IsDir():
		return nil, fmt.Errorf("%s: %s is a directory, not a file", what, path)
	case fi.Mode().IsRegular():
		return &source{what: what, path: path, file: f, size: fi.Size()}, nil
	default:
		// A FIFO, a device or /dev/stdin: readable once, size unknown.
		return &source{what: what, path: path, once: f, onceName: path}, nil
	}
}

// UsesStdin reports whether the message reads standard input ("-" for
// --data, --body, an attachment or an attachment body).
func UsesStdin(o Options) bool {
	if o.Data == "-" || o.Body == "-" {
		return true
	}
	for _, a := range append(append([]Attachment(nil), o.Attach...), o.AttachBody...) {
		if a.Path == "-" {
			return true
		}
	}
	return false
}

// prepareStdin decides how "-" is served. Used once, standard input is
// streamed. Used several times (swaks allows "-" for the body and several
// attachments, each getting the same content), it is first copied to a
// temporary file, so memory stays flat whatever its size.
func (b *builder) prepareStdin() error {
	o := &b.opts
	uses := 0
	if o.Data == "-" {
		uses++
	}
	if o.Body == "-" && len(o.AttachBody) == 0 {
		uses++
	}
	for _, a := range o.Attach {
		if a.Path == "-" {
			uses++
		}
	}
	for _, a := range o.AttachBody {
		if a.Path == "-" {
			uses++
		}
	}
	if uses == 0 || o.Stdin == nil {
		return nil
	}
	// DKIM signing reads the message twice (see builder.sign), which a
	// stream read once cannot serve.
	if uses == 1 && !o.SpoolStdin && o.DKIM == nil {
		b.stdin = &source{what: "standard input", once: o.Stdin, onceName: "standard input"}
		return nil
	}
	f, err := os.CreateTemp("", "smtpprobe-stdin-*")
	if err != nil {
		return fmt.Errorf("copying standard input (used %d times): %w", uses, err)
	}
	// Unlinked at once: the open file stays readable, and nothing is left
	// on disk if the process is interrupted or killed while copying.
	_ = os.Remove(f.Name())
	b.files = append(b.files, f)
	b.spool = f.Name()
	n, err := io.Copy(f, o.Stdin)
	if err != nil {
		return fmt.Errorf("copying standard input to %s: %w", f.Name(), err)
	}
	b.stdin = &source{what: "standard input", file: f, size: n}
	return nil
}
