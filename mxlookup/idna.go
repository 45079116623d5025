package mxlookup

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
)

// Limits from RFC 1035 §2.3.4. The 253 figure is the 255-octet wire limit
// minus the length octet of the first label and the root label, i.e. the
// longest name that can be written in dotted text without the trailing dot.
const (
	maxNameOctets  = 253
	maxLabelOctets = 63
)

// ToASCII converts a domain name to the ASCII form used on the wire: U-labels
// become A-labels (bücher.example -> xn--bcher-kva.example) under the IDNA
// lookup profile, letters are lower-cased and one trailing root dot is
// dropped. It rejects empty names, empty labels, control bytes (CR/LF
// smuggled into a name would otherwise reach SMTP commands and logs),
// invalid UTF-8, names the IDNA rules refuse, labels over 63 octets and names
// over 253 octets.
func ToASCII(domain string) (string, error) {
	if domain == "" {
		return "", fmt.Errorf("invalid domain name: empty")
	}
	if !utf8.ValidString(domain) {
		return "", fmt.Errorf("invalid domain name %q: not valid UTF-8", domain)
	}
	for _, r := range domain {
		// C0 controls, DEL and C1 controls. Checked before IDNA mapping so
		// that the error names the real problem instead of a generic
		// disallowed-rune message.
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return "", fmt.Errorf("invalid domain name %q: contains control character %U", domain, r)
		}
		if r == ' ' {
			return "", fmt.Errorf("invalid domain name %q: contains a space", domain)
		}
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("invalid domain name %q: %w", domain, err)
	}
	// Trim the root dot only after mapping: IDNA maps the ideographic and
	// full-width full stops to "." too, so "例え。テスト。" ends in a root
	// dot as much as "example.test." does. A second trailing dot stays and
	// is reported as an empty label below.
	ascii = strings.TrimSuffix(ascii, ".")
	if ascii == "" {
		return "", fmt.Errorf("invalid domain name %q: the root is not a mail domain", domain)
	}
	if len(ascii) > maxNameOctets {
		return "", fmt.Errorf("invalid domain name %q: %d octets in ASCII form, limit is %d", domain, len(ascii), maxNameOctets)
	}
	for label := range strings.SplitSeq(ascii, ".") {
		switch {
		case label == "":
			return "", fmt.Errorf("invalid domain name %q: empty label", domain)
		case len(label) > maxLabelOctets:
			return "", fmt.Errorf("invalid domain name %q: label %q is %d octets, limit is %d", domain, label, len(label), maxLabelOctets)
		}
	}
	return ascii, nil
}
