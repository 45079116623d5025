package compose

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/smtpprobe/smtpprobe/dkimsign"
)

// sign runs the message once through the DKIM signer and returns the
// DKIM-Signature field to put in front of it, the options actually used
// (the domain filled in from the From field when none was given) and the
// size of the unsigned message.
//
// The message is produced twice — once here, once when it is sent — which
// the sources allow (files are read through independent section readers,
// standard input is spooled when DKIM is on) and which gives the same bytes
// both times: the Message-ID, the date and the MIME boundaries are fixed
// by Build. Only the header section is held in memory; the body streams
// through the hash.
func (b *builder) sign() (string, *dkimsign.Options, int64, error) {
	for _, s := range b.allSources() {
		if !s.sized() {
			return "", nil, 0, fmt.Errorf("%s: DKIM signing reads the message twice (to sign it, then to send it), but %s can be read only once; save it to a regular file first", s.what, s.describe())
		}
	}
	r, err := b.stream(false)
	if err != nil {
		return "", nil, 0, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	lines, head, err := readHeaderSection(br, maxHeaderSection)
	switch {
	case errors.Is(err, errHeaderTooLarge):
		return "", nil, 0, fmt.Errorf("DKIM signing: no blank line ends the header section within its first %d bytes, and the signer must hold the whole header", maxHeaderSection)
	case err != nil:
		return "", nil, 0, fmt.Errorf("DKIM signing: %w", err)
	case !bytes.HasSuffix(head, []byte("\r\n\r\n")):
		// The finished message has CRLF lines, so the blank line that
		// ends a header section is always this; without it the signer
		// would take the whole message for a header.
		return "", nil, 0, errors.New("DKIM signing: the message has no blank line after its header section, so it has no body to sign")
	}
	opts := *b.opts.DKIM
	from, hasFrom := fromAddress(lines)
	if !hasFrom {
		// RFC 6376 §5.4: From is the one field a signature must cover; a
		// signature over a message without it verifies nowhere.
		return "", nil, 0, errors.New("DKIM signing: the message has no From: header field, which DKIM must sign (RFC 6376 §5.4)")
	}
	if opts.Domain == "" {
		opts.Domain = addressDomain(from)
		if opts.Domain == "" {
			opts.Domain = addressDomain(b.opts.From)
		}
		if opts.Domain == "" {
			return "", nil, 0, errors.New("DKIM domain: none given, and neither the From: field nor the envelope sender has a domain to sign for")
		}
	}
	if opts, err = opts.Normalize(); err != nil {
		return "", nil, 0, err
	}
	sig, n, err := dkimsign.Sign(io.MultiReader(bytes.NewReader(head), br), opts)
	if err != nil {
		return "", nil, 0, err
	}
	return sig, &opts, n, nil
}

// fromAddress returns the address of the first From field (unfolded), and
// whether there is a From field at all.
func fromAddress(lines []string) (string, bool) {
	for _, f := range parseFields(lines) {
		if !strings.EqualFold(f.name, "From") {
			continue
		}
		_, value, _ := strings.Cut(strings.Join(f.lines, ""), ":")
		if list, err := (&mail.AddressParser{}).ParseList(value); err == nil && len(list) > 0 {
			return list[0].Address, true
		}
		// Not a valid address list (a test message may be deliberately
		// odd): take the text around the last '@' as the address.
		return lastAddress(value), true
	}
	return "", false
}

// lastAddress extracts local@domain around the last '@' of s.
func lastAddress(s string) string {
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return ""
	}
	stop := " \t<>,;:()\"[]"
	start := strings.LastIndexAny(s[:at], stop) + 1
	end := at + 1
	if i := strings.IndexAny(s[end:], stop); i >= 0 {
		end += i
	} else {
		end = len(s)
	}
	return s[start:end]
}

// addressDomain is the part after the last '@' of an address, "" if none.
func addressDomain(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.TrimSpace(addr[at+1:]), ">")
}
