// Package dkimsign signs the probe's test message with DKIM (RFC 6376,
// RFC 8463 for Ed25519) and checks that the key published in DNS at
// SELECTOR._domainkey.DOMAIN is the public half of the signing key, so that a
// user can test their signing and their DNS from their own host against a
// real receiver.
//
// Signing itself is github.com/emersion/go-msgauth/dkim; this package adds
// what a command-line probe needs around it: loading and vetting the key
// file, validating the selector, domain and header names given on the
// command line (they end up in a header, so a CR or LF must never get
// through), and the published-key check in the vocabulary of the other
// sender checks.
package dkimsign

import (
	"crypto"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/smtpprobe/smtpprobe/mxlookup"
)

// DefaultHeaders are the header fields signed when Options.Headers is
// empty: those RFC 6376 §5.4.1 recommends that a test message has. A name
// listed but absent from the message is still put in h=, so that adding such
// a field later breaks the signature (§5.4.2); From is listed twice so that
// a second From field cannot be added either (the "oversigning" that
// defeats the duplicate-From attack).
var DefaultHeaders = []string{
	"From", "From", "Reply-To", "Subject", "Date", "To", "Cc",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// Options say how to sign. The canonicalization is relaxed/relaxed (the
// header and body survive the whitespace changes relays make) and the
// algorithm rsa-sha256 or ed25519-sha256, from the key.
type Options struct {
	// Domain is the signing domain (d=). Empty means "the domain of the
	// message's From address", which compose fills in (see
	// compose.Message.DKIM for the value used).
	Domain string
	// Selector is s=: the key is published at Selector._domainkey.Domain.
	Selector string
	// Signer is the private key, from LoadKey.
	Signer crypto.Signer
	// Headers are the header field names to sign (h=); nil or empty means
	// DefaultHeaders. From is added when missing: RFC 6376 §5.4 requires
	// it to be signed.
	Headers []string
}

// Validate checks the options as given on the command line: a key of a type
// DKIM defines, a selector and (when set) a domain that are valid DNS
// names, header names that are valid field names. It never quotes key
// material. An error here is a usage error.
func (o Options) Validate() error {
	_, err := o.normalized(false)
	return err
}

// KeyName is where the public key is published: SELECTOR._domainkey.DOMAIN.
// It is also the subject of the dkim-key check.
func (o Options) KeyName() string {
	return o.Selector + "._domainkey." + o.Domain
}

// normalized validates o and returns it with the domain in ASCII
// (A-labels) and the header list complete.
// needDomain says whether an empty domain is an error.
func (o Options) normalized(needDomain bool) (Options, error) {
	if o.Signer == nil {
		return o, errors.New("DKIM: no signing key")
	}
	if KeyType(o.Signer.Public()) == "" {
		return o, fmt.Errorf("DKIM: a %s key cannot sign DKIM; use RSA or Ed25519", keyTypeName(o.Signer))
	}
	sel, err := checkSelector(o.Selector)
	if err != nil {
		return o, err
	}
	o.Selector = sel
	switch {
	case o.Domain != "":
		d, err := checkDomain(o.Domain)
		if err != nil {
			return o, err
		}
		o.Domain = d
		if n := len(o.KeyName()); n > 253 {
			return o, fmt.Errorf("DKIM selector and domain: %s is %d octets long, more than a DNS name can be (253)", o.KeyName(), n)
		}
	case needDomain:
		return o, errors.New("DKIM domain: none given and none found in the message")
	}
	headers, err := checkHeaders(o.Headers)
	if err != nil {
		return o, err
	}
	o.Headers = headers
	return o, nil
}

// checkSelector accepts a selector as RFC 6376 §3.1 writes it: one or more
// dot-separated labels of letters, digits and hyphens (underscores are
// accepted too: DNS serves them and verifiers query them). Anything else,
// CR and LF above all, could not be looked up and would break the header.
func checkSelector(s string) (string, error) {
	if s == "" {
		return "", errors.New("DKIM selector: empty (give the s= name the key is published under)")
	}
	if err := checkLabels(s); err != nil {
		return "", fmt.Errorf("DKIM selector %q: %w", s, err)
	}
	return s, nil
}

// checkDomain converts the signing domain to A-labels and checks it is a
// DNS name that can carry a key.
func checkDomain(d string) (string, error) {
	if strings.ContainsAny(d, "\r\n\x00") {
		return "", fmt.Errorf("DKIM domain %q: contains a CR, LF or NUL character", d)
	}
	ascii, err := mxlookup.ToASCII(d)
	if err != nil {
		return "", fmt.Errorf("DKIM domain: %w", err)
	}
	if err := checkLabels(ascii); err != nil {
		return "", fmt.Errorf("DKIM domain %q: %w", d, err)
	}
	if !strings.Contains(strings.TrimSuffix(ascii, "."), ".") {
		// A bare host name (the default From of user@host gives one)
		// has no public DNS in which a receiver could find the key.
		return "", fmt.Errorf("DKIM domain %q is a single label: give --dkim-domain, or a --from address with a full domain", d)
	}
	return ascii, nil
}

// checkLabels checks dot-separated DNS labels of letters, digits, hyphens
// and underscores, none empty, none over 63 octets, none starting or
// ending with a hyphen.
func checkLabels(name string) error {
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return errors.New("has an empty label")
		case len(label) > 63:
			return fmt.Errorf("label %q is longer than 63 octets", label)
		case label[0] == '-' || label[len(label)-1] == '-':
			return fmt.Errorf("label %q starts or ends with a hyphen", label)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("contains %q, which a DNS label cannot hold", c)
			}
		}
	}
	return nil
}

// checkHeaders validates header field names (RFC 5322 §3.6.8: printable
// ASCII but ':'), also refusing ';', which would end the h= tag, and makes
// sure From is signed.
func checkHeaders(names []string) ([]string, error) {
	if len(names) == 0 {
		return append([]string(nil), DefaultHeaders...), nil
	}
	out := make([]string, 0, len(names)+1)
	from := false
	for _, n := range names {
		if n == "" {
			return nil, errors.New("DKIM header: empty header name")
		}
		for i := 0; i < len(n); i++ {
			if c := n[i]; c <= ' ' || c >= 0x7f || c == ':' || c == ';' {
				return nil, fmt.Errorf("DKIM header %q: %q cannot appear in a header field name", n, c)
			}
		}
		if strings.EqualFold(n, "From") {
			from = true
		}
		out = append(out, n)
	}
	if !from {
		out = append([]string{"From"}, out...)
	}
	return out, nil
}

// Sign reads a whole message (CRLF line endings, not dot-stuffed: exactly
// what goes after DATA, before the client's dot-stuffing) and returns the
// DKIM-Signature header field to put in front of it, CRLF included, and the
// number of bytes read. The body is hashed as it streams: only the header
// section is held in memory, so callers must bound it (compose does).
// o.Domain must be set.
func Sign(r io.Reader, o Options) (sig string, n int64, err error) {
	o, err = o.normalized(true)
	if err != nil {
		return "", 0, err
	}
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 o.Domain,
		Selector:               o.Selector,
		Signer:                 o.Signer,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             o.Headers,
	})
	if err != nil {
		return "", 0, fmt.Errorf("DKIM signing: %w", err)
	}
	cr := &countingReader{r: r}
	_, err = io.Copy(s, cr)
	// The signer parses as it is written to, so a copy error is either
	// ours (reading the message) or the signer's (a malformed header,
	// which Close then reports).
	cerr := s.Close()
	switch {
	case cr.err != nil:
		return "", cr.n, fmt.Errorf("DKIM signing: reading the message: %w", cr.err)
	case cerr != nil:
		return "", cr.n, fmt.Errorf("DKIM signing: %w", cerr)
	case err != nil:
		return "", cr.n, fmt.Errorf("DKIM signing: %w", err)
	}
	return s.Signature(), cr.n, nil
}

// Normalize returns o as it will be used to sign: the domain in A-labels,
// the header list complete (with From).
func (o Options) Normalize() (Options, error) {
	return o.normalized(false)
}

// countingReader counts the bytes read and keeps the first read error
// other than io.EOF.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
