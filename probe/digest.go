package probe

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"strings"
	"sync"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// messageDigest watches the message as smtpclient reads it for DATA and
// keeps what identifies it in the report: its size, SHA-256 and
// Message-ID. It hashes the bytes as they go on the wire before
// dot-stuffing: line endings made CRLF and the last line ended, as
// smtpclient's writeBody does, so the hash is that of the message the
// receiver stores.
type messageDigest struct {
	mu        sync.Mutex
	h         hash.Hash
	size      int64
	pendingCR bool
	lineStart bool
	header    []byte // the header section, up to the first empty line (capped)
	inHeader  bool
	done      bool // the reader reached the end: the whole message was sent
}

// maxHeader caps the header bytes kept to find the Message-ID.
const maxHeader = 64 << 10

func newMessageDigest() *messageDigest {
	return &messageDigest{h: sha256.New(), lineStart: true, inHeader: true}
}

// wrap returns the message reader that feeds the digest; a new read of the
// message (another session) starts the digest afresh.
func (d *messageDigest) wrap(open func() (io.ReadCloser, int64, error)) func() (io.ReadCloser, int64, error) {
	return func() (io.ReadCloser, int64, error) {
		rc, n, err := open()
		if err != nil {
			return rc, n, err
		}
		d.mu.Lock()
		d.h.Reset()
		d.size, d.pendingCR, d.lineStart, d.header, d.inHeader, d.done = 0, false, true, nil, true, false
		d.mu.Unlock()
		return digestReader{rc, d}, n, nil
	}
}

type digestReader struct {
	io.ReadCloser
	d *messageDigest
}

func (r digestReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.d.feed(p[:n], err == io.EOF)
	return n, err
}

func (d *messageDigest) feed(p []byte, eof bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range p {
		if d.pendingCR {
			d.pendingCR = false
			d.endLine()
			if c == '\n' {
				continue
			}
		}
		switch c {
		case '\r':
			d.pendingCR = true
			continue
		case '\n':
			d.endLine()
			continue
		}
		d.write(c)
		d.lineStart = false
	}
	if eof && !d.done {
		if d.pendingCR || !d.lineStart {
			d.pendingCR = false
			d.endLine()
		}
		d.done = true
	}
}

func (d *messageDigest) endLine() {
	if d.inHeader && d.lineStart {
		d.inHeader = false // the empty line ends the header section
	}
	d.write('\r')
	d.write('\n')
	d.lineStart = true
}

func (d *messageDigest) write(c byte) {
	d.h.Write([]byte{c})
	d.size++
	if d.inHeader && len(d.header) < maxHeader {
		d.header = append(d.header, c)
	}
}

// info is the message's identity, nil unless it was read to the end.
func (d *messageDigest) info() *transcript.MessageInfo {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.done {
		return nil
	}
	return &transcript.MessageInfo{Size: d.size, SHA256: hex.EncodeToString(d.h.Sum(nil)), MessageID: headerValue(string(d.header), "Message-ID")}
}

// headerValue is the unfolded value of the first header field called name
// in a CRLF header section, "" when there is none.
func headerValue(header, name string) string {
	lines := strings.Split(header, "\r\n")
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), name) || strings.HasPrefix(l, " ") || strings.HasPrefix(l, "\t") {
			continue
		}
		for _, more := range lines[i+1:] {
			if !strings.HasPrefix(more, " ") && !strings.HasPrefix(more, "\t") {
				break
			}
			v += " " + strings.TrimSpace(more)
		}
		return strings.TrimSpace(v)
	}
	return ""
}
