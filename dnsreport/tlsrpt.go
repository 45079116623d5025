package dnsreport

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"
)

// ParseTLSRPTRecord parses an SMTP TLS Reporting record (RFC 8460 §3), the
// TXT record at _smtp._tls.DOMAIN, and returns its report addresses (rua):
// mailto: and https: URIs. The record must start with v=TLSRPTv1 and carry
// one rua= field; other fields are extensions and ignored.
func ParseTLSRPTRecord(txt string) (rua []string, err error) {
	rest, ok := strings.CutPrefix(txt, "v=TLSRPTv1")
	if !ok {
		return nil, fmt.Errorf("does not start with v=TLSRPTv1")
	}
	fields, err := splitRUA(rest)
	if err != nil {
		return nil, err
	}
	seenRUA := false
	for _, f := range fields {
		name, value, _ := strings.Cut(f, "=")
		switch {
		case name == "rua":
			if seenRUA {
				return nil, fmt.Errorf("has more than one rua= field")
			}
			seenRUA = true
			for u := range strings.SplitSeq(value, ",") {
				u = strings.Trim(u, " \t")
				if err := checkReportURI(u); err != nil {
					return nil, err
				}
				rua = append(rua, u)
			}
		case !validExtName(name):
			return nil, fmt.Errorf("field %q is not name=value", truncate(f, 40))
		case value == "" || !allASCII(value, isExtValueChar):
			return nil, fmt.Errorf("field %q has an empty value or one with spaces, '=' or ';'", truncate(f, 40))
		}
	}
	if !seenRUA {
		return nil, fmt.Errorf("has no rua= field: senders have nowhere to send reports")
	}
	return rua, nil
}

// splitRUA splits the fields after the version like splitTagList, but lets
// the rua list carry spaces around its commas, as RFC 8460's grammar does.
func splitRUA(rest string) ([]string, error) {
	// Spaces around commas are the only ones allowed inside a field;
	// drop them before the generic split checks for stray spaces.
	s := rest
	for _, ws := range []string{" ,", "\t,", ", ", ",\t"} {
		for strings.Contains(s, ws) {
			s = strings.ReplaceAll(s, ws, ",")
		}
	}
	return splitTagList(s)
}

// checkReportURI accepts what RFC 8460 §3 allows in rua: a mailto: URI with
// an address, or an https: URI with a host. A comma inside a URI must be
// %-encoded, so a split on "," never cuts one in two.
func checkReportURI(u string) error {
	if u == "" {
		return fmt.Errorf("rua has an empty entry")
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("rua entry %q is not a URI", truncate(u, 60))
	}
	switch strings.ToLower(p.Scheme) {
	case "mailto":
		addr, _ := url.PathUnescape(p.Opaque)
		if _, err := mail.ParseAddress(addr); err != nil || !strings.Contains(addr, "@") {
			return fmt.Errorf("rua entry %q is not a mailto: URI with an address", truncate(u, 60))
		}
	case "https":
		if p.Host == "" {
			return fmt.Errorf("rua entry %q is an https: URI without a host", truncate(u, 60))
		}
	default:
		return fmt.Errorf("rua entry %q is neither mailto: nor https: (RFC 8460 §3)", truncate(u, 60))
	}
	return nil
}
