package dkimsign

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// KeyRecord is a parsed DKIM key record (RFC 6376 §3.6.1), the TXT record
// at SELECTOR._domainkey.DOMAIN.
type KeyRecord struct {
	Version  string   // v=, "" when absent (it is optional)
	KeyType  string   // k=: "rsa" (the default) or "ed25519"
	Hashes   []string // h=: the hash algorithms allowed; nil means all
	Services []string // s=: the service types; nil means all ("*")
	Flags    []string // t=: "y" (testing), "s" (strict identity)
	Notes    string   // n=
	// PublicKey is *rsa.PublicKey or ed25519.PublicKey; nil when Revoked.
	PublicKey crypto.PublicKey
	// Revoked is an empty p=: the key was withdrawn (§3.6.1), every
	// signature by it fails.
	Revoked bool
	// PKCS1 says an RSA p= holds a bare RSAPublicKey instead of the
	// SubjectPublicKeyInfo RFC 6376 specifies (erratum 3017); some
	// verifiers accept it, others do not.
	PKCS1 bool
}

// Testing reports the t=y flag: the domain is testing DKIM, and receivers
// must not treat its messages differently from unsigned ones (§3.6.1).
func (k *KeyRecord) Testing() bool { return hasFold(k.Flags, "y") }

// AllowsSHA256 reports whether h= (absent, or listing sha256) allows the
// hash this package signs with.
func (k *KeyRecord) AllowsSHA256() bool { return k.Hashes == nil || hasFold(k.Hashes, "sha256") }

// AllowsEmail reports whether s= (absent, "*" or "email") allows the key
// to sign mail.
func (k *KeyRecord) AllowsEmail() bool {
	return k.Services == nil || hasFold(k.Services, "*") || hasFold(k.Services, "email")
}

func hasFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// LooksLikeKeyRecord reports whether a TXT record is meant as a DKIM key
// record: one that starts with v=DKIM1 or has a p= tag. Another TXT record
// at the same name (a verification token, a stray SPF record) is not a
// broken key, it is no key.
func LooksLikeKeyRecord(txt string) bool {
	tags, err := parseTagList(txt)
	if err != nil {
		s := strings.TrimLeft(txt, " \t\r\n")
		return strings.HasPrefix(strings.ToLower(s), "v=dkim1") || strings.Contains(txt, "p=")
	}
	if len(tags) > 0 && tags[0].name == "v" && strings.EqualFold(tags[0].value, "DKIM1") {
		return true
	}
	for _, t := range tags {
		if t.name == "p" {
			return true
		}
	}
	return false
}

// ParseKeyRecord parses a DKIM key record as a verifier does: a tag list
// (§3.2: no duplicate tag, values of printable ASCII), v= first when
// present and then DKIM1, k= rsa or ed25519, p= base64 (whitespace allowed)
// holding a SubjectPublicKeyInfo RSA key, a bare RSAPublicKey, or the 32
// raw octets of an Ed25519 key (RFC 8463). Unknown tags are ignored.
func ParseKeyRecord(txt string) (*KeyRecord, error) {
	tags, err := parseTagList(txt)
	if err != nil {
		return nil, err
	}
	rec := &KeyRecord{KeyType: "rsa"}
	var p *string
	for i, t := range tags {
		switch t.name {
		case "v":
			if i != 0 {
				return nil, errors.New("v= is not the first tag (RFC 6376 §3.6.1 requires it first)")
			}
			if t.value != "DKIM1" {
				return nil, fmt.Errorf("v=%s is not DKIM1", t.value)
			}
			rec.Version = t.value
		case "k":
			rec.KeyType = strings.ToLower(t.value)
		case "h":
			rec.Hashes = colonList(t.value)
		case "s":
			rec.Services = colonList(t.value)
		case "t":
			rec.Flags = colonList(t.value)
		case "n":
			rec.Notes = t.value
		case "p":
			v := t.value
			p = &v
		}
	}
	switch rec.KeyType {
	case "rsa", "ed25519":
	default:
		return nil, fmt.Errorf("k=%s is not a key type DKIM defines (rsa, ed25519)", rec.KeyType)
	}
	if p == nil {
		return nil, errors.New("no p= tag (the public key)")
	}
	b64 := stripFWS(*p)
	if b64 == "" {
		rec.Revoked = true
		return rec, nil
	}
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("p= is not valid base64: %v", err)
	}
	switch rec.KeyType {
	case "rsa":
		pub, pkcs1, err := parseRSAPublic(der)
		if err != nil {
			if len(der) == ed25519.PublicKeySize {
				return nil, fmt.Errorf("p= is %d octets, the size of an Ed25519 key, but the record says k=rsa (by default): add k=ed25519", len(der))
			}
			return nil, err
		}
		rec.PublicKey, rec.PKCS1 = pub, pkcs1
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("p= is %d octets, but an Ed25519 key (k=ed25519) is %d (RFC 8463 publishes the raw key, not a SubjectPublicKeyInfo)", len(der), ed25519.PublicKeySize)
		}
		rec.PublicKey = ed25519.PublicKey(der)
	}
	return rec, nil
}

// parseRSAPublic reads a SubjectPublicKeyInfo (what RFC 6376 says) or a
// bare PKCS#1 RSAPublicKey (what some generators publish).
func parseRSAPublic(der []byte) (*rsa.PublicKey, bool, error) {
	if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
		rsaPub, ok := pub.(*rsa.PublicKey)
		if !ok {
			return nil, false, fmt.Errorf("p= holds a %s public key, not an RSA one (k=rsa)", keyTypeName(pub))
		}
		return rsaPub, false, nil
	}
	pub, err := x509.ParsePKCS1PublicKey(der)
	if err != nil {
		return nil, false, errors.New("p= is not an RSA public key (neither SubjectPublicKeyInfo nor RSAPublicKey)")
	}
	return pub, true, nil
}

// tag is one tag-spec of a tag list.
type tag struct{ name, value string }

// parseTagList parses an RFC 6376 §3.2 tag list: tag-spec *(";" tag-spec)
// [";"], tag-spec = [FWS] name [FWS] "=" [FWS] value [FWS]. An empty
// tag-spec (";;") is tolerated, as verifiers do.
func parseTagList(s string) ([]tag, error) {
	var tags []tag
	seen := map[string]bool{}
	for spec := range strings.SplitSeq(s, ";") {
		if strings.Trim(spec, " \t\r\n") == "" {
			continue
		}
		name, value, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("%q has no '=' (want tag=value pairs separated by ';')", shorten(strings.TrimSpace(spec), 40))
		}
		name = strings.Trim(name, " \t\r\n")
		if !validTagName(name) {
			return nil, fmt.Errorf("%q is not a valid tag name", shorten(name, 40))
		}
		value = strings.Trim(value, " \t\r\n")
		for i := 0; i < len(value); i++ {
			c := value[i]
			if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
				continue
			}
			if c < 0x21 || c > 0x7e {
				return nil, fmt.Errorf("the value of %s= holds byte 0x%02x, which a tag value cannot hold", name, c)
			}
		}
		if seen[name] {
			// §3.2: "if a tag name does occur more than once, the entire
			// tag-list is invalid".
			return nil, fmt.Errorf("tag %s= occurs twice", name)
		}
		seen[name] = true
		tags = append(tags, tag{name, value})
	}
	return tags, nil
}

// validTagName is ALPHA *(ALPHA / DIGIT / "_").
func validTagName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !alpha || !(alpha || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// colonList splits a colon-separated tag value (h=, s=, t=).
func colonList(v string) []string {
	var out []string
	for item := range strings.SplitSeq(v, ":") {
		if item = stripFWS(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// stripFWS removes the folding white space a base64 or list value may
// contain.
func stripFWS(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, s)
}

// shorten cuts s to about n bytes for a message, saying how long it was.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", s[:n], len(s))
}

// PublicRecord is the TXT record to publish at Options.KeyName for the
// public half of k: "v=DKIM1; k=rsa; p=..." with a SubjectPublicKeyInfo RSA
// key, or the raw Ed25519 key of RFC 8463. Only public material is in it.
func PublicRecord(k crypto.Signer) (string, error) {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
	case ed25519.PublicKey:
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub), nil
	}
	return "", fmt.Errorf("a %s key has no DKIM record form", keyTypeName(k))
}
