package smtpclient

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// TLSVersions is a --tls-protocol restriction (swaks syntax).
type TLSVersions struct {
	// Allowed are the versions allowed, ascending; nil means no
	// restriction.
	Allowed []uint16
	// Notes say what of the specification was ignored (SSL versions Go
	// does not implement).
	Notes []string
}

// goVersions are the versions Go's crypto/tls implements, ascending.
var goVersions = []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13}

// protocolNames maps swaks's (OpenSSL's) protocol names and a few obvious
// spellings to versions; 2 and 3 stand for SSLv2 and SSLv3, which Go does
// not implement.
var protocolNames = map[string]uint16{
	"sslv2": 2, "sslv3": 3,
	"tlsv1": tls.VersionTLS10, "tlsv1_0": tls.VersionTLS10, "tlsv1.0": tls.VersionTLS10, "tls1": tls.VersionTLS10, "tls1_0": tls.VersionTLS10, "tls1.0": tls.VersionTLS10,
	"tlsv1_1": tls.VersionTLS11, "tlsv1.1": tls.VersionTLS11, "tls1_1": tls.VersionTLS11, "tls1.1": tls.VersionTLS11,
	"tlsv1_2": tls.VersionTLS12, "tlsv1.2": tls.VersionTLS12, "tls1_2": tls.VersionTLS12, "tls1.2": tls.VersionTLS12,
	"tlsv1_3": tls.VersionTLS13, "tlsv1.3": tls.VersionTLS13, "tls1_3": tls.VersionTLS13, "tls1.3": tls.VersionTLS13,
}

// ParseTLSProtocol reads a --tls-protocol specification as swaks does: a
// comma-separated list of protocols to allow ("tlsv1_2,tlsv1_3") or to
// exclude ("no_tlsv1,no_tlsv1_1"), not both forms at once. Names are
// sslv2, sslv3, tlsv1, tlsv1_1, tlsv1_2, tlsv1_3 (any case). Go does not
// implement SSLv2 and SSLv3: allowing them alongside a TLS version is a
// note, allowing only them an error. Errors name the value.
func ParseTLSProtocol(spec string) (TLSVersions, error) {
	bad := func(format string, args ...any) (TLSVersions, error) {
		return TLSVersions{}, fmt.Errorf("--tls-protocol %q: %s", spec, fmt.Sprintf(format, args...))
	}
	var items []string
	for _, it := range strings.Split(spec, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	if len(items) == 0 {
		return bad("no protocol given (want e.g. tlsv1_2,tlsv1_3 or no_tlsv1,no_tlsv1_1)")
	}
	negated := 0
	var listed []uint16
	for _, it := range items {
		name := strings.ToLower(it)
		if n, ok := strings.CutPrefix(name, "no_"); ok {
			name = n
			negated++
		}
		v, ok := protocolNames[name]
		if !ok {
			return bad("unknown protocol %q (want sslv2, sslv3, tlsv1, tlsv1_1, tlsv1_2, tlsv1_3, each alone or with no_ before it)", it)
		}
		listed = append(listed, v)
	}
	if negated != 0 && negated != len(items) {
		return bad("cannot mix X and no_X forms (as in swaks)")
	}
	var out TLSVersions
	if negated == 0 {
		for _, v := range listed {
			switch {
			case v < tls.VersionTLS10:
				out.Notes = append(out.Notes, fmt.Sprintf("SSLv%d is not implemented by Go's TLS and is ignored", v))
			case !slices.Contains(out.Allowed, v):
				out.Allowed = append(out.Allowed, v)
			}
		}
		if len(out.Allowed) == 0 {
			return bad("allows no TLS version Go implements (TLS 1.0 to 1.3; SSLv2 and SSLv3 are not implemented)")
		}
		slices.Sort(out.Allowed)
		return out, nil
	}
	for _, v := range goVersions {
		if !slices.Contains(listed, v) {
			out.Allowed = append(out.Allowed, v)
		}
	}
	if len(out.Allowed) == 0 {
		return bad("excludes every TLS version Go implements (TLS 1.0 to 1.3)")
	}
	return out, nil
}

// Allows reports whether version v may be used.
func (t TLSVersions) Allows(v uint16) bool {
	return t.Allowed == nil || slices.Contains(t.Allowed, v)
}

// String lists the allowed versions ("TLS 1.2, TLS 1.3").
func (t TLSVersions) String() string {
	var names []string
	for _, v := range t.Allowed {
		names = append(names, tls.VersionName(v))
	}
	return strings.Join(names, ", ")
}

// apply sets MinVersion and MaxVersion; a gap inside the range (tlsv1,tlsv1_2)
// cannot be expressed there and is enforced after the version is
// negotiated (the handshake fails, naming the version).
func (t TLSVersions) apply(cfg *tls.Config) {
	if len(t.Allowed) == 0 {
		return
	}
	cfg.MinVersion, cfg.MaxVersion = t.Allowed[0], t.Allowed[len(t.Allowed)-1]
}

// TLSCiphers is a --tls-cipher restriction: the TLS 1.2 (and earlier)
// cipher suites allowed. Go does not let TLS 1.3 suites be chosen, as
// OpenSSL's cipher list does not either (OpenSSL takes them with
// -ciphersuites): a TLS 1.3 handshake is not restricted by it.
type TLSCiphers struct {
	Suites []uint16
	Notes  []string
}

// Names lists the allowed suites by their IANA names.
func (c TLSCiphers) Names() []string {
	var out []string
	for _, id := range c.Suites {
		out = append(out, tls.CipherSuiteName(id))
	}
	return out
}

// suite is one cipher suite Go implements for TLS 1.2 and earlier, with
// its OpenSSL name and the OpenSSL keywords that select it.
type suite struct {
	id      uint16
	openssl string
	bits    int
	tags    []string // upper case
}

var suites = []suite{
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", 128, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "AES", "AES128", "AESGCM", "SHA256", "HIGH", "TLSV1.2", "DEFAULT"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", 128, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "AES", "AES128", "AESGCM", "SHA256", "HIGH", "TLSV1.2", "DEFAULT"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", 256, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "AES", "AES256", "AESGCM", "SHA384", "HIGH", "TLSV1.2", "DEFAULT"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", 256, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "AES", "AES256", "AESGCM", "SHA384", "HIGH", "TLSV1.2", "DEFAULT"}},
	{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", 256, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "CHACHA20", "SHA256", "HIGH", "TLSV1.2", "DEFAULT"}},
	{tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", 256, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "CHACHA20", "SHA256", "HIGH", "TLSV1.2", "DEFAULT"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", 128, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "AES", "AES128", "SHA1", "SHA", "HIGH", "TLSV1", "TLSV1.0", "SSLV3", "DEFAULT"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", 128, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "AES", "AES128", "SHA1", "SHA", "HIGH", "TLSV1", "TLSV1.0", "SSLV3", "DEFAULT"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", 256, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "AES", "AES256", "SHA1", "SHA", "HIGH", "TLSV1", "TLSV1.0", "SSLV3", "DEFAULT"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", 256, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "AES", "AES256", "SHA1", "SHA", "HIGH", "TLSV1", "TLSV1.0", "SSLV3", "DEFAULT"}},
	{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", 128, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "AES", "AES128", "SHA256", "HIGH", "TLSV1.2"}},
	{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", 128, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "AES", "AES128", "SHA256", "HIGH", "TLSV1.2"}},
	{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", 128, []string{"KRSA", "RSA", "ARSA", "AES", "AES128", "AESGCM", "SHA256", "HIGH", "TLSV1.2"}},
	{tls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", 256, []string{"KRSA", "RSA", "ARSA", "AES", "AES256", "AESGCM", "SHA384", "HIGH", "TLSV1.2"}},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", 128, []string{"KRSA", "RSA", "ARSA", "AES", "AES128", "SHA256", "HIGH", "TLSV1.2"}},
	{tls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", 128, []string{"KRSA", "RSA", "ARSA", "AES", "AES128", "SHA1", "SHA", "HIGH", "TLSV1", "TLSV1.0", "SSLV3"}},
	{tls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", 256, []string{"KRSA", "RSA", "ARSA", "AES", "AES256", "SHA1", "SHA", "HIGH", "TLSV1", "TLSV1.0", "SSLV3"}},
	{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", 112, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "3DES", "SHA1", "SHA", "MEDIUM", "TLSV1", "TLSV1.0", "SSLV3"}},
	{tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", 112, []string{"KRSA", "RSA", "ARSA", "3DES", "SHA1", "SHA", "MEDIUM", "TLSV1", "TLSV1.0", "SSLV3"}},
	{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", 128, []string{"KECDHE", "ECDHE", "EECDH", "AECDSA", "ECDSA", "RC4", "SHA1", "SHA", "MEDIUM", "TLSV1", "TLSV1.0", "SSLV3"}},
	{tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", 128, []string{"KECDHE", "ECDHE", "EECDH", "ARSA", "RC4", "SHA1", "SHA", "MEDIUM", "TLSV1", "TLSV1.0", "SSLV3"}},
	{tls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", 128, []string{"KRSA", "RSA", "ARSA", "RC4", "SHA1", "SHA", "MEDIUM", "TLSV1", "TLSV1.0", "SSLV3"}},
}

// emptyKeywords are OpenSSL cipher-string keywords that select only suites
// Go does not implement (or none at all): valid, and selecting nothing.
var emptyKeywords = map[string]bool{
	"ANULL": true, "ENULL": true, "NULL": true, "COMPLEMENTOFALL": true, "LOW": true, "EXP": true, "EXPORT": true,
	"EXPORT40": true, "EXPORT56": true, "DES": true, "MD5": true, "ADH": true, "AECDH": true,
	"ADSS": true, "DSS": true, "DH": true, "DHE": true, "EDH": true, "KDHE": true, "KEDH": true,
	"KDH": true, "KDHR": true, "KDHD": true, "ADH_RSA": true, "ADH_DSS": true, "PSK": true, "KPSK": true,
	"KECDHEPSK": true, "KDHEPSK": true, "KRSAPSK": true, "APSK": true, "SRP": true, "KSRP": true, "ASRP": true,
	"CAMELLIA": true, "CAMELLIA128": true, "CAMELLIA256": true, "ARIA": true, "ARIA128": true, "ARIA256": true,
	"ARIAGCM": true, "SEED": true, "IDEA": true, "RC2": true, "AESCCM": true, "AESCCM8": true, "CCM": true,
	"CCM8": true, "KGOST": true, "AGOST": true, "AGOST01": true, "GOST94": true, "GOST89MAC": true,
	"SUITEB128": true, "SUITEB128ONLY": true, "SUITEB192": true,
}

// unsupportedParts are the parts of OpenSSL suite names Go has no suite
// for (finite-field DH, static ECDH, PSK, SRP, CCM, Camellia...).
var unsupportedParts = map[string]bool{
	"DHE": true, "EDH": true, "DH": true, "ECDH": true, "ADH": true, "AECDH": true, "PSK": true, "SRP": true,
	"NULL": true, "SEED": true, "IDEA": true, "CCM": true, "CCM8": true, "DSS": true, "EXP": true, "RC2": true,
	"DES": true, "MD5": true, "CAMELLIA128": true, "CAMELLIA256": true, "ARIA128": true, "ARIA256": true,
	"GOST94": true, "GOST2001": true, "GOST2012": true, "CAMELLIA": true,
}

// tls13Suites are the TLS 1.3 suite names, which a cipher list cannot set.
var tls13Suites = map[string]bool{
	"TLS_AES_128_GCM_SHA256": true, "TLS_AES_256_GCM_SHA384": true, "TLS_CHACHA20_POLY1305_SHA256": true,
	"TLS_AES_128_CCM_SHA256": true, "TLS_AES_128_CCM_8_SHA256": true,
}

// ParseTLSCipher reads a --tls-cipher value in OpenSSL's cipher-list
// syntax (man ciphers): elements separated by ':' (or ',' or spaces),
// each a suite name (OpenSSL's, "ECDHE-RSA-AES128-GCM-SHA256", or
// IANA's, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256") or a keyword (ALL,
// DEFAULT, HIGH, MEDIUM, ECDHE, RSA, aRSA, ECDSA, AES, AES128, AES256,
// AESGCM, CHACHA20, 3DES, RC4, SHA1, SHA256, SHA384, TLSv1.2, TLSv1...),
// several joined by '+' meaning all of them; a leading '!' removes for
// good, '-' removes, '+' moves to the end; @STRENGTH sorts by key length
// and @SECLEVEL=n is ignored. Keywords that select only suites Go lacks
// (!aNULL, !eNULL, DHE, CAMELLIA...) are accepted and select nothing;
// a name Go has no suite for is a note; an unknown word, a TLS 1.3 suite
// name or a list that selects nothing is an error naming the value. Only
// TLS 1.2 and earlier suites can be chosen: Go does not let a program
// choose TLS 1.3 suites.
func ParseTLSCipher(spec string) (TLSCiphers, error) {
	bad := func(format string, args ...any) (TLSCiphers, error) {
		return TLSCiphers{}, fmt.Errorf("--tls-cipher %q: %s", spec, fmt.Sprintf(format, args...))
	}
	fields := strings.FieldsFunc(spec, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
	if len(fields) == 0 {
		return bad("no cipher given (want OpenSSL cipher names or keywords, e.g. ECDHE-RSA-AES128-GCM-SHA256 or HIGH:!aNULL)")
	}
	var out TLSCiphers
	var list []int // indexes into suites, in order
	banned := map[int]bool{}
	for _, f := range fields {
		op := byte(0)
		if f[0] == '!' || f[0] == '-' || f[0] == '+' {
			op, f = f[0], f[1:]
		}
		upper := strings.ToUpper(f)
		if f == "" {
			return bad("%q names nothing", string(op))
		}
		if upper == "@STRENGTH" {
			sort.SliceStable(list, func(i, j int) bool { return suites[list[i]].bits > suites[list[j]].bits })
			continue
		}
		if strings.HasPrefix(upper, "@SECLEVEL=") {
			out.Notes = append(out.Notes, fmt.Sprintf("%s is ignored: Go has no security levels", f))
			continue
		}
		if strings.HasPrefix(upper, "@") {
			return bad("unknown directive %q (want @STRENGTH or @SECLEVEL=n)", f)
		}
		sel, note, err := selectSuites(f)
		if err != nil {
			return bad("%v", err)
		}
		if note != "" {
			out.Notes = append(out.Notes, note)
		}
		switch op {
		case '!':
			for _, i := range sel {
				banned[i] = true
			}
			list = slices.DeleteFunc(list, func(i int) bool { return slices.Contains(sel, i) })
		case '-':
			list = slices.DeleteFunc(list, func(i int) bool { return slices.Contains(sel, i) })
		case '+':
			var moved []int
			list = slices.DeleteFunc(list, func(i int) bool {
				if slices.Contains(sel, i) {
					moved = append(moved, i)
					return true
				}
				return false
			})
			list = append(list, moved...)
		default:
			for _, i := range sel {
				if !banned[i] && !slices.Contains(list, i) {
					list = append(list, i)
				}
			}
		}
	}
	if len(list) == 0 {
		return bad("selects no cipher suite Go implements (only TLS 1.2 and earlier suites can be chosen: Go does not let TLS 1.3 suites be configured)")
	}
	for _, i := range list {
		out.Suites = append(out.Suites, suites[i].id)
	}
	return out, nil
}

// selectSuites resolves one element ("HIGH", "ECDHE+AESGCM",
// "ECDHE-RSA-AES128-GCM-SHA256") to indexes into suites.
func selectSuites(elem string) ([]int, string, error) {
	var sel []int
	note := ""
	for n, part := range strings.Split(elem, "+") {
		if part == "" {
			return nil, "", fmt.Errorf("%q has an empty part", elem)
		}
		set, pnote, err := selectPart(part)
		if err != nil {
			return nil, "", err
		}
		if pnote != "" {
			note = pnote
		}
		if n == 0 {
			sel = set
			continue
		}
		sel = slices.DeleteFunc(sel, func(i int) bool { return !slices.Contains(set, i) })
	}
	return sel, note, nil
}

func selectPart(part string) ([]int, string, error) {
	upper := strings.ToUpper(part)
	var sel []int
	for i, s := range suites {
		if upper == s.openssl || upper == tls.CipherSuiteName(s.id) {
			return []int{i}, "", nil
		}
	}
	switch {
	case tls13Suites[upper]:
		return nil, "", fmt.Errorf("%s is a TLS 1.3 suite: Go does not let TLS 1.3 suites be chosen (OpenSSL takes them with -ciphersuites, not in the cipher list); use --tls-protocol to choose the version", part)
	case upper == "ALL":
		for i := range suites {
			sel = append(sel, i)
		}
		return sel, "", nil
	case upper == "COMPLEMENTOFDEFAULT":
		for i, s := range suites {
			if !slices.Contains(s.tags, "DEFAULT") {
				sel = append(sel, i)
			}
		}
		return sel, "", nil
	case emptyKeywords[upper]:
		return nil, "", nil
	}
	found := false
	for i, s := range suites {
		if slices.Contains(s.tags, upper) {
			sel, found = append(sel, i), true
		}
	}
	if found {
		return sel, "", nil
	}
	if parts := strings.Split(upper, "-"); len(parts) > 1 {
		for _, p := range parts {
			if unsupportedParts[p] || strings.HasPrefix(p, "CAMELLIA") || strings.HasPrefix(p, "ARIA") || strings.HasPrefix(p, "GOST") {
				return nil, fmt.Sprintf("%s is not implemented by Go's TLS and is ignored", part), nil
			}
		}
	}
	return nil, "", fmt.Errorf("unknown cipher or keyword %q", part)
}
