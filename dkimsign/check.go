package dkimsign

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

// maxRecordShown bounds one TXT record in Check.Records: an RSA 4096 key
// record is about 750 bytes, so anything much longer is shown cut.
const maxRecordShown = 1024

// maxRecordsShown bounds how many TXT records Check.Records lists.
const maxRecordsShown = 5

// CheckPublishedKey fetches the key record at SELECTOR._domainkey.DOMAIN
// and says whether it publishes the public half of opts.Signer: the
// dkim-key check, made before sending so that a failing signature is
// explained before any receiver sees it. Results:
//
//   - pass: the record is valid and its key is the signing key's;
//   - fail: the record is revoked (empty p=), invalid, of the wrong key
//     type (k=), excludes sha256 (h=) or email (s=), holds another key,
//     or there are several TXT records at the name (RFC 6376 §3.6.2.2
//     leaves that undefined and verifiers fail it);
//   - none: no such name (NXDOMAIN), no TXT record, or no DKIM record
//     among the TXT records there;
//   - temperror: SERVFAIL, REFUSED, a timeout or a cancelled ctx.
//
// The lookup is bounded by ctx. opts.Domain must be set (compose's
// Message.DKIM has it filled in). Detail is one human sentence and, when
// the key is not published as it should be, the record to publish (public
// material only); Records is what DNS returned, shortened if huge.
func CheckPublishedKey(ctx context.Context, r dnsclient.Resolver, opts Options) sendercheck.Check {
	c := sendercheck.Check{Name: sendercheck.NameDKIMKey, Subject: opts.KeyName()}
	o, err := opts.normalized(true)
	if err != nil {
		// Options are validated before this is called; reaching here is a
		// programming error, reported rather than a panic.
		c.Result = sendercheck.ResultFail
		c.Detail = err.Error()
		return c
	}
	name := o.KeyName()
	c.Subject = name
	publish := ""
	if rec, err := PublicRecord(o.Signer); err == nil {
		publish = fmt.Sprintf(" Publish the signing key's public half as a TXT record at %s: %q.", name, rec)
	}

	txts, err := r.LookupTXT(ctx, name)
	if err != nil {
		var de *net.DNSError
		switch {
		case errors.As(err, &de) && de.IsNotFound:
			c.Result = sendercheck.ResultNone
			c.RCode = dnsclient.RCodeNXDomain
			c.Detail = fmt.Sprintf("%s does not exist (NXDOMAIN): no DKIM key is published for selector %q of %s, so receivers will fail the signature (dkim=permerror, no key).%s", name, o.Selector, o.Domain, publish)
		default:
			c.Result = sendercheck.ResultTempError
			c.RCode = dnsclient.RCode(err)
			if c.RCode == "" && ctx.Err() != nil {
				c.RCode = dnsclient.RCodeTimeout
			}
			c.Detail = fmt.Sprintf("the key record at %s could not be fetched (%s): receivers that meet the same failure defer or treat the signature as temperror.", name, describeErr(err))
		}
		return c
	}
	for i, t := range txts {
		if i == maxRecordsShown {
			c.Records = append(c.Records, fmt.Sprintf("(%d more TXT records)", len(txts)-i))
			break
		}
		c.Records = append(c.Records, name+" TXT "+strconv.Quote(shorten(t, maxRecordShown)))
	}
	var keys []string
	for _, t := range txts {
		if LooksLikeKeyRecord(t) {
			keys = append(keys, t)
		}
	}
	switch {
	case len(txts) == 0:
		c.Result = sendercheck.ResultNone
		c.RCode = dnsclient.RCodeNoData
		c.Detail = fmt.Sprintf("%s exists but has no TXT record: no DKIM key is published there.%s", name, publish)
		return c
	case len(keys) == 0:
		c.Result = sendercheck.ResultNone
		c.Detail = fmt.Sprintf("the %s at %s %s not a DKIM key record (no v=DKIM1, no p=).%s", plural(len(txts), "TXT record"), name, isAre(len(txts)), publish)
		return c
	case len(txts) > 1:
		c.Result = sendercheck.ResultFail
		c.Detail = fmt.Sprintf("%s has %d TXT records; RFC 6376 §3.6.2.2 leaves the result undefined and verifiers such as go-msgauth fail the signature: keep only the DKIM key record there.", name, len(txts))
		return c
	}

	rec, err := ParseKeyRecord(keys[0])
	if err != nil {
		c.Result = sendercheck.ResultFail
		c.Detail = fmt.Sprintf("the key record at %s is invalid: %v; receivers fail the signature (dkim=permerror).%s", name, err, publish)
		return c
	}
	mine := o.Signer.Public()
	var problems []string
	switch {
	case rec.Revoked:
		c.Result = sendercheck.ResultFail
		c.Detail = fmt.Sprintf("the key at %s is revoked (empty p=): receivers fail every signature made with selector %q.%s", name, o.Selector, publish)
		return c
	case rec.KeyType != KeyType(mine):
		c.Result = sendercheck.ResultFail
		c.Detail = fmt.Sprintf("the record publishes a k=%s key, but the signing key is %s (k=%s): publish the record of this key under another selector, or sign with the %s key.%s",
			rec.KeyType, KeyDescription(o.Signer), KeyType(mine), rec.KeyType, publish)
		return c
	case !sameKey(rec.PublicKey, mine):
		c.Result = sendercheck.ResultFail
		c.Detail = fmt.Sprintf("the published key (%s, %s) is not the public half of the signing key (%s, %s): receivers will find the signature does not verify (dkim=fail). Either the key file or the DNS record is not the one you think.%s",
			describePublic(rec.PublicKey), fingerprint(rec.PublicKey), KeyDescription(o.Signer), fingerprint(mine), publish)
		return c
	}
	if !rec.AllowsSHA256() {
		problems = append(problems, fmt.Sprintf("its h=%s does not allow sha256, the only hash DKIM signers may use (RFC 8301)", strings.Join(rec.Hashes, ":")))
	}
	if !rec.AllowsEmail() {
		problems = append(problems, fmt.Sprintf("its s=%s does not allow email", strings.Join(rec.Services, ":")))
	}
	if len(problems) > 0 {
		c.Result = sendercheck.ResultFail
		c.Detail = fmt.Sprintf("the key at %s is the signing key's, but %s, so receivers fail the signature.%s", name, strings.Join(problems, " and "), publish)
		return c
	}
	c.Result = sendercheck.ResultPass
	c.Detail = fmt.Sprintf("the key published at %s is the public half of the signing key (%s, %s).", name, KeyDescription(o.Signer), fingerprint(mine))
	if rec.Testing() {
		c.Detail += " The record has t=y (testing): receivers must treat the messages like unsigned ones, whatever the signature says."
	}
	if rec.PKCS1 {
		c.Detail += " p= holds a bare RSAPublicKey rather than the SubjectPublicKeyInfo RFC 6376 specifies; some verifiers reject that form."
	}
	return c
}

// sameKey compares two public keys of the types DKIM uses.
func sameKey(a, b crypto.PublicKey) bool {
	switch a := a.(type) {
	case *rsa.PublicKey:
		return a.Equal(b)
	case ed25519.PublicKey:
		return a.Equal(b)
	}
	return false
}

// describePublic names a public key: "RSA 2048-bit", "Ed25519".
func describePublic(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return keyTypeName(k)
}

// fingerprint is a short SHA-256 of a public key in the form it is
// published (SubjectPublicKeyInfo for RSA, raw for Ed25519), so two keys
// can be told apart in a message. Public material only.
func fingerprint(k crypto.PublicKey) string {
	var der []byte
	switch k := k.(type) {
	case *rsa.PublicKey:
		der, _ = x509.MarshalPKIXPublicKey(k)
	case ed25519.PublicKey:
		der = k
	}
	if der == nil {
		return "no fingerprint"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + base64.RawStdEncoding.EncodeToString(sum[:])[:16]
}

// describeErr names a DNS failure by its outcome when dnsclient knows it.
func describeErr(err error) string {
	if rc := dnsclient.RCode(err); rc != "" {
		return rc + ": " + err.Error()
	}
	return err.Error()
}

func plural(n int, what string) string {
	if n == 1 {
		return what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
