package dnsreport

import "strings"

// Character classes of the ABNF of RFC 8461, RFC 8460 and RFC 5321, on
// bytes: every grammar here is ASCII, so a byte test is exact.

func isAlnum(c byte) bool { return isDigit(c) || c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isExtValueChar: %x21-3A / %x3C / %x3E-7E, printable ASCII but ';' and '='.
func isExtValueChar(c byte) bool { return c >= 0x21 && c <= 0x7e && c != ';' && c != '=' }

func allASCII(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}

// validExtName: (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / "."), the
// field names of MTA-STS records and policies and of TLS-RPT records.
func validExtName(s string) bool {
	if s == "" || len(s) > 32 || !isAlnum(s[0]) {
		return false
	}
	return allASCII(s, func(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' })
}

// validLDHLabel: a host name label (RFC 5321 sub-domain): letters, digits
// and hyphens, not starting or ending with a hyphen, 1 to 63 octets.
func validLDHLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	return allASCII(l, func(c byte) bool { return isAlnum(c) || c == '-' })
}

// truncate shortens s for an error message, so a hostile record cannot
// flood the report.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
