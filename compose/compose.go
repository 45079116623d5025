// Package compose builds the test message that smtpprobe sends after DATA.
//
// It follows swaks's message options (--data, --body, --header,
// --add-header, --attach, --attach-type, --attach-name, --attach-body and the
// %TOKEN% expansion of the DATA portion) so that swaks users get the message
// they expect, and it streams: files given for the data, the body or the
// attachments are read while the message is read, so memory does not grow
// with the message size.
//
// The message is produced with CRLF line endings and without dot-stuffing:
// the SMTP client's DATA writer does the stuffing and adds the final dot.
// With Options.DKIM it is signed in that form (see dkim.go) and starts with
// its DKIM-Signature field.
package compose

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/smtpprobe/smtpprobe/dkimsign"
)

// Options says what message to build. The zero value (plus From/To) builds
// the default test message.
type Options struct {
	From string   // envelope sender ("" is the null sender)
	To   []string // envelope recipients
	Cc   []string // recipients shown in a Cc: header and in %CC_ADDRESS%
	Bcc  []string // recipients for %BCC_ADDRESS% only (never in a header)

	// Headers are --header arguments: "Name: value" replaces the last header
	// of the same name (case-insensitive) or is added when there is none.
	// As in swaks, the two characters `\n` (or %NEWLINE%) split an argument
	// into several lines; a line starting with a space or tab folds into the
	// previous header. A real CR or LF is an error.
	Headers []string
	// AddHeaders are --add-header arguments: always added, at %NEW_HEADERS%
	// when the data has that token, else at the end of the header section.
	AddHeaders []string

	// Body is --body: literal text, "-" for standard input, "@path" for a
	// file, "@@text" for the literal "@text"; "" means the default body.
	Body string
	// Data is --data, the whole message: literal text (with `\n` or
	// %NEWLINE% for line breaks), "-", "@path", "@@text", or — as the swaks
	// documentation describes — an argument with no line break at all names
	// a file that must exist.
	Data string
	// NoDataFixup is --no-data-fixup: send Data as given, without token
	// expansion, header edits, From_ stripping or body insertion. Line
	// endings are still normalised to CRLF.
	NoDataFixup bool
	// NoStripFrom is --no-strip-from: keep a leading mbox "From " line.
	NoStripFrom bool

	// Attach are --attach arguments, in order.
	Attach []Attachment
	// AttachBody are --attach-body arguments: the body parts of a MIME
	// message (several make a multipart/alternative). When set, Body is not
	// used, as in swaks.
	AttachBody []Attachment

	// Hostname is the domain of the Message-ID, named in the default body.
	// A value that is not a host name or an address literal (such as a
	// deliberately bogus EHLO name) is replaced by "localhost".
	Hostname    string
	Now         time.Time // Date header and %DATE%; zero means time.Now()
	ToolName    string    // X-Mailer and the default body ("smtpprobe" if empty)
	ToolVersion string    // X-Mailer, the default body and %SWAKS_VERSION%
	Stdin       io.Reader // what "-" reads; nil makes "-" an error
	// SpoolStdin copies standard input to a temporary file during Build
	// even when it is used once: the caller then knows the whole input has
	// arrived before it starts a session with deadlines.
	SpoolStdin bool

	// Rand is the random source of the Message-ID and the MIME boundaries;
	// nil means crypto/rand. Tests inject a fixed source for golden output.
	Rand io.Reader

	// DKIM, when set, signs the message (--dkim-key and friends): the
	// DKIM-Signature field is put first and counted in Size. An empty
	// Domain means the domain of the From: field (else of the envelope
	// sender). Signing reads the message once more during Build, so
	// standard input is then always spooled and a source that can be read
	// only once (a FIFO) is an error.
	DKIM *dkimsign.Options
}

// Attachment is one --attach (or --attach-body) argument.
type Attachment struct {
	// Path is "-" for standard input, "@path" for a file, "@@text" for the
	// literal content "@text"; any other value names a file when such a
	// regular file exists and is literal content otherwise (swaks's
	// long-standing rule).
	Path string
	// ContentType is --attach-type. Empty: guessed from the file name's
	// extension, else application/octet-stream (text/plain for body parts).
	ContentType string
	// Name is --attach-name: the file name shown to the recipient. Empty
	// means the base name of the file, if the content came from a file.
	Name string
	// NoName is --attach-name given without a value: send no file name even
	// when the content came from a file.
	NoName bool
}

// Message is the composed message, ready to be copied after DATA.
type Message struct {
	io.Reader // the whole message, CRLF line endings, not dot-stuffed
	// Size is the exact byte size when it can be known before sending (for
	// MAIL FROM SIZE=), -1 when the message streams from standard input or
	// another source that can be read only once.
	Size int64
	// Close releases the files the message reads. It is safe to call more
	// than once.
	Close func() error
	// EightBit says the message may hold bytes above 127: text given
	// literally that has them, or text read from a file or standard input
	// (not scanned in advance, so assumed). Attachments are base64.
	EightBit bool
	// UTF8Headers says a header the user gave (or an address) holds UTF-8:
	// such a message needs SMTPUTF8 (RFC 6532) to be valid.
	UTF8Headers bool
	// DKIM is the signing actually done, when Options.DKIM was set: the
	// options with the domain filled in and normalised (A-labels), ready
	// for dkimsign.CheckPublishedKey. Nil when the message is not signed.
	DKIM *dkimsign.Options
	// DKIMSignature is the DKIM-Signature field that starts the message
	// (CRLF-terminated, folded), "" when not signed. It holds no secret.
	DKIMSignature string
}

// Build composes the message described by opts. Files are opened (and so
// checked) now but read only as the returned Message is read.
func Build(opts Options) (*Message, error) {
	b := &builder{opts: opts}
	msg, err := b.build()
	if err != nil {
		if cerr := b.close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return nil, err
	}
	return msg, nil
}

// builder holds what Build resolved: the sources and the fixed values.
type builder struct {
	opts     Options
	toolName string
	hostname string

	data   *source // nil: the default message
	body   *source // --body, or the default body once prepareParts ran
	bodies []*part // the MIME body parts (text first)
	attach []*part // the MIME attachments
	mime   bool

	contentType string // top-level Content-Type of the default message
	boundary    string // multipart boundary
	altBoundary string // nested multipart/alternative boundary
	sizingExtra int64  // encoded size of the base64 parts skipped by the sizing run
	values      map[string]string

	files   []*os.File
	spool   string // temporary copy of stdin (unlinked as soon as it is made)
	stdin   *source
	closeMu sync.Mutex
	closed  bool
}

func (b *builder) build() (*Message, error) {
	o := &b.opts
	if err := b.checkValues(); err != nil {
		return nil, err
	}
	if err := b.prepareStdin(); err != nil {
		return nil, err
	}
	if o.Data != "" {
		src, err := b.resolve(o.Data, "--data", modeData)
		if err != nil {
			return nil, err
		}
		b.data = src
	}
	if o.Body != "" && len(o.AttachBody) == 0 {
		src, err := b.resolve(o.Body, "--body", modeLiteral)
		if err != nil {
			return nil, err
		}
		b.body = src
	}
	if err := b.prepareParts(); err != nil {
		return nil, err
	}
	if err := b.prepareValues(); err != nil {
		return nil, err
	}

	// The real stream is made first so that a bad --data header section is
	// reported by Build rather than in the middle of the SMTP session.
	r, err := b.stream(false)
	if err != nil {
		return nil, err
	}
	msg := &Message{Reader: r, Close: b.close, EightBit: b.eightBit(), UTF8Headers: b.utf8Headers()}
	if o.DKIM != nil {
		// Signing reads the whole message, so it measures it too: the
		// separate sizing run is not needed.
		sig, used, n, err := b.sign()
		if err != nil {
			return nil, err
		}
		msg.Reader = io.MultiReader(strings.NewReader(sig), r)
		msg.Size = n + int64(len(sig))
		msg.DKIM, msg.DKIMSignature = used, sig
		return msg, nil
	}
	size, err := b.size()
	if err != nil {
		return nil, err
	}
	msg.Size = size
	return msg, nil
}

// checkValues rejects CR, LF and NUL in everything that ends up in a header
// without going through ValidateHeader, and fills defaults.
func (b *builder) checkValues() error {
	o := &b.opts
	check := func(what, v string) error {
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("%s %q contains a CR, LF or NUL character", what, v)
		}
		return nil
	}
	if err := check("sender", o.From); err != nil {
		return err
	}
	for _, list := range []struct {
		what  string
		addrs []string
	}{{"recipient", o.To}, {"Cc recipient", o.Cc}, {"Bcc recipient", o.Bcc}} {
		for _, a := range list.addrs {
			if err := check(list.what, a); err != nil {
				return err
			}
		}
	}
	if err := check("tool name", o.ToolName); err != nil {
		return err
	}
	if err := check("tool version", o.ToolVersion); err != nil {
		return err
	}
	b.toolName = o.ToolName
	if b.toolName == "" {
		b.toolName = "smtpprobe"
	}
	if err := check("hostname", o.Hostname); err != nil {
		return err
	}
	b.hostname = o.Hostname
	if b.hostname == "" || checkHostname(b.hostname) != nil {
		// The host name is cosmetic (Message-ID, default body) and often
		// comes from the EHLO name, which a user may set to something
		// invalid on purpose to test the server: that must not stop the
		// message from being built.
		b.hostname = "localhost"
	}
	for _, h := range o.Headers {
		if err := ValidateHeader(h); err != nil {
			return fmt.Errorf("--header: %w", err)
		}
	}
	for _, h := range o.AddHeaders {
		if err := ValidateHeader(h); err != nil {
			return fmt.Errorf("--add-header: %w", err)
		}
	}
	if o.DKIM != nil {
		// Selector, domain and header names end up in a header field:
		// refuse a bad one now, before anything is read or sent.
		if err := o.DKIM.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// checkHostname accepts a DNS name or an address literal in brackets: it
// goes into the Message-ID and the default body, so it must not carry
// spaces, angle brackets or token-like runs of dots.
func checkHostname(h string) error {
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		inner := h[1 : len(h)-1]
		if inner == "" || strings.Trim(inner, "0123456789abcdefABCDEF.:IPv") != "" {
			return fmt.Errorf("hostname %q is not a valid address literal", h)
		}
		return nil
	}
	if len(h) > 253 {
		return fmt.Errorf("hostname %q is longer than 253 characters", h)
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" {
			return fmt.Errorf("hostname %q has an empty label", h)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("hostname %q contains %q, which is not allowed in a host name", h, c)
			}
		}
	}
	return nil
}

// prepareValues computes the token values and the MIME boundaries.
func (b *builder) prepareValues() error {
	o := &b.opts
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	rnd := o.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	random := func(n int) (string, error) {
		buf := make([]byte, n)
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("reading random bytes: %w", err)
		}
		return hex.EncodeToString(buf), nil
	}
	id, err := random(8)
	if err != nil {
		return err
	}
	b.values = map[string]string{
		"NEWLINE":       "\r\n",
		"FROM_ADDRESS":  o.From,
		"TO_ADDRESS":    strings.Join(o.To, ", "),
		"CC_ADDRESS":    strings.Join(o.Cc, ", "),
		"BCC_ADDRESS":   strings.Join(o.Bcc, ", "),
		"MESSAGEID":     now.Format("20060102150405") + "." + id + "@" + b.hostname,
		"SWAKS_VERSION": o.ToolVersion,
		"DATE":          now.Format(time.RFC1123Z),
	}
	if b.mime {
		if b.boundary, err = random(12); err != nil {
			return err
		}
		b.boundary = "=_smtpprobe_" + b.boundary
		if b.altBoundary, err = random(12); err != nil {
			return err
		}
		b.altBoundary = "=_smtpprobe_alt_" + b.altBoundary
		b.contentType = fmt.Sprintf("%s; boundary=%q", b.multipartType(), b.boundary)
	} else {
		b.contentType = "text/plain; charset=utf-8"
	}
	return nil
}

// eightBit reports whether the text the user gave (data, body, body parts)
// may hold 8-bit bytes; see Message.EightBit.
func (b *builder) eightBit() bool {
	if mayBe8Bit(b.data) || mayBe8Bit(b.body) {
		return true
	}
	for _, p := range append(append([]*part(nil), b.bodies...), b.attach...) {
		if !p.base64 && mayBe8Bit(p.src) {
			return true
		}
	}
	return false
}

// utf8Headers reports whether a header the user gave, or an address that
// goes into the default header, holds bytes above 127.
func (b *builder) utf8Headers() bool {
	o := &b.opts
	all := append(append(append([]string{o.From}, o.To...), o.Cc...), o.Headers...)
	for _, s := range append(all, o.AddHeaders...) {
		for i := 0; i < len(s); i++ {
			if s[i] >= 0x80 {
				return true
			}
		}
	}
	return false
}

// mayBe8Bit reports whether content may hold bytes above 127: literal text
// is checked, a file or stream is assumed to (it is not read twice).
func mayBe8Bit(s *source) bool {
	if s == nil {
		return false
	}
	if s.literal == nil {
		return true
	}
	for i := 0; i < len(*s.literal); i++ {
		if (*s.literal)[i] >= 0x80 {
			return true
		}
	}
	return false
}

// defaultBody is the text of the default body, before token expansion.
func (b *builder) defaultBody() string {
	name := b.toolName
	if b.opts.ToolVersion != "" {
		name += " " + b.opts.ToolVersion
	}
	return "This is a test mailing from " + name + " on " + b.hostname + ".\r\n" +
		"It was sent to test mail delivery; no reply is needed."
}

// size returns the exact size of the message, or -1 when a source can be
// read only once. It runs the pipeline a second time with the base64 parts
// left empty (their encoded size depends only on their length, which is
// added arithmetically), so large attachments are not read twice.
func (b *builder) size() (int64, error) {
	if b.stdin != nil && b.spool == "" {
		return -1, nil
	}
	for _, s := range b.allSources() {
		if !s.sized() {
			return -1, nil
		}
	}
	b.sizingExtra = 0
	r, err := b.stream(true)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		return 0, fmt.Errorf("measuring the message: %w", err)
	}
	// Each base64 part met by the sizing run added its encoded length here:
	// that counts a part once per %BODY% token, and not at all when --data
	// has no such token.
	return n + b.sizingExtra, nil
}

func (b *builder) allSources() []*source {
	var out []*source
	if b.data != nil {
		out = append(out, b.data)
	}
	if b.body != nil {
		out = append(out, b.body)
	}
	for _, p := range b.bodies {
		out = append(out, p.src)
	}
	for _, p := range b.attach {
		out = append(out, p.src)
	}
	return out
}

func (b *builder) close() error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	var errs []error
	for _, f := range b.files {
		if err := f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
			errs = append(errs, fmt.Errorf("closing %s: %w", f.Name(), err))
		}
	}
	return errors.Join(errs...)
}
