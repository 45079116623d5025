package dkimsign

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
	"github.com/smtpprobe/smtpprobe/sendercheck"
)

func TestCheckPublishedKey(t *testing.T) {
	rk, other := testRSA(t)
	ek := testEd25519(t)
	rsaRec, err := PublicRecord(rk)
	if err != nil {
		t.Fatal(err)
	}
	otherRec, _ := PublicRecord(other)
	edRec, _ := PublicRecord(ek)
	pkcs1 := "v=DKIM1; p=" + base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PublicKey(&rk.PublicKey))
	// A record as a DNS admin might paste it: folded, with spaces in p=.
	spaced := strings.Replace(rsaRec, "p=", "p= ", 1)
	spaced = spaced[:60] + " " + spaced[60:120] + "  " + spaced[120:]

	addr := dnstest.Start(t, dnstest.Zone{
		"rsa._domainkey.example.test.":         {TXT: []string{rsaRec}},
		"spaced._domainkey.example.test.":      {TXT: []string{spaced}},
		"pkcs1._domainkey.example.test.":       {TXT: []string{pkcs1}},
		"ed._domainkey.example.test.":          {TXT: []string{edRec}},
		"other._domainkey.example.test.":       {TXT: []string{otherRec}},
		"revoked._domainkey.example.test.":     {TXT: []string{"v=DKIM1; k=rsa; p="}},
		"testing._domainkey.example.test.":     {TXT: []string{rsaRec + "; t=y"}},
		"sha1._domainkey.example.test.":        {TXT: []string{rsaRec + "; h=sha1"}},
		"svc._domainkey.example.test.":         {TXT: []string{rsaRec + "; s=tlsrpt"}},
		"kind._domainkey.example.test.":        {TXT: []string{edRec}},
		"two._domainkey.example.test.":         {TXT: []string{rsaRec, otherRec}},
		"mixed._domainkey.example.test.":       {TXT: []string{"google-site-verification=abc", rsaRec}},
		"notdkim._domainkey.example.test.":     {TXT: []string{"google-site-verification=abc"}},
		"bad._domainkey.example.test.":         {TXT: []string{"v=DKIM1; k=rsa; p=!!!notbase64"}},
		"nodata._domainkey.example.test.":      {A: []string{"192.0.2.1"}},
		"broken._domainkey.example.test.":      {ServFail: true},
		"huge._domainkey.example.test.":        {TXT: []string{"v=DKIM1; n=" + strings.Repeat("x", 3000) + "; " + strings.TrimPrefix(rsaRec, "v=DKIM1; ")}},
		"Upper._domainkey.xn--bcher-kva.test.": {TXT: []string{rsaRec}},
	})
	r, err := dnsclient.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		selector, domain string
		signer           any
		result           string
		detail           string // a part of Detail
	}{
		{"rsa", "example.test", rk, sendercheck.ResultPass, "public half"},
		{"spaced", "example.test", rk, sendercheck.ResultPass, "public half"},
		{"pkcs1", "example.test", rk, sendercheck.ResultPass, "RSAPublicKey"},
		{"ed", "example.test", ek, sendercheck.ResultPass, "Ed25519"},
		{"Upper", "Bücher.test", rk, sendercheck.ResultPass, "public half"},
		{"huge", "example.test", rk, sendercheck.ResultPass, "public half"},
		{"testing", "example.test", rk, sendercheck.ResultPass, "t=y"},
		{"other", "example.test", rk, sendercheck.ResultFail, "not the public half"},
		{"revoked", "example.test", rk, sendercheck.ResultFail, "revoked"},
		{"sha1", "example.test", rk, sendercheck.ResultFail, "h=sha1"},
		{"svc", "example.test", rk, sendercheck.ResultFail, "s=tlsrpt"},
		{"kind", "example.test", rk, sendercheck.ResultFail, "k=ed25519"},
		{"two", "example.test", rk, sendercheck.ResultFail, "2 TXT records"},
		{"mixed", "example.test", rk, sendercheck.ResultFail, "2 TXT records"},
		{"bad", "example.test", rk, sendercheck.ResultFail, "base64"},
		{"notdkim", "example.test", rk, sendercheck.ResultNone, "not a DKIM key record"},
		{"missing", "example.test", rk, sendercheck.ResultNone, "NXDOMAIN"},
		{"nodata", "example.test", rk, sendercheck.ResultNone, "no TXT record"},
		{"broken", "example.test", rk, sendercheck.ResultTempError, "SERVFAIL"},
	}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			o := Options{Selector: tt.selector, Domain: tt.domain}
			switch k := tt.signer.(type) {
			case *rsa.PrivateKey:
				o.Signer = k
			default:
				o.Signer = ek
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c := CheckPublishedKey(ctx, r, o)
			if c.Name != "dkim-key" {
				t.Errorf("Name = %q", c.Name)
			}
			if c.Result != tt.result {
				t.Errorf("Result = %q, want %q (%s)", c.Result, tt.result, c.Detail)
			}
			if !strings.Contains(c.Detail, tt.detail) {
				t.Errorf("Detail = %q, want it to mention %q", c.Detail, tt.detail)
			}
			wantSubject := tt.selector + "._domainkey." + tt.domain
			if tt.domain == "Bücher.test" {
				wantSubject = "Upper._domainkey.xn--bcher-kva.test"
			}
			if c.Subject != wantSubject {
				t.Errorf("Subject = %q, want %q", c.Subject, wantSubject)
			}
			for _, rec := range c.Records {
				if len(rec) > maxRecordShown+200 {
					t.Errorf("a record of %d bytes is shown whole", len(rec))
				}
				if !strings.HasPrefix(rec, c.Subject+" TXT ") {
					t.Errorf("record %q is not NAME TXT VALUE", rec)
				}
			}
			if c.Result == sendercheck.ResultPass && len(c.Records) != 1 {
				t.Errorf("Records = %q, want the one key record", c.Records)
			}
			if (c.Result == sendercheck.ResultNone || c.Result == sendercheck.ResultFail) && !strings.HasPrefix(tt.detail, "2 TXT") {
				// The fix is in the message: the record to publish.
				want, _ := PublicRecord(o.Signer)
				if !strings.Contains(c.Detail, want) {
					t.Errorf("Detail does not give the record to publish: %s", c.Detail)
				}
			}
		})
	}
}

// TestCheckPublishedKeyUnansweredServer checks that a server that never
// answers costs no more than ctx allows and reads as temperror.
func TestCheckPublishedKeyUnansweredServer(t *testing.T) {
	rk, _ := testRSA(t)
	addr := dnstest.Start(t, dnstest.Zone{"s._domainkey.example.test.": {Drop: true}})
	r, err := dnsclient.New(addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	start := time.Now()
	c := CheckPublishedKey(ctx, r, Options{Selector: "s", Domain: "example.test", Signer: rk})
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %v with a 700ms context", took)
	}
	if c.Result != sendercheck.ResultTempError {
		t.Errorf("Result = %q (%s), want temperror", c.Result, c.Detail)
	}
	if c.RCode != dnsclient.RCodeTimeout {
		t.Errorf("RCode = %q, want TIMEOUT", c.RCode)
	}
}

// TestCheckPublishedKeyHoldsNoSecret checks that no part of a check's
// output carries the private key.
func TestCheckPublishedKeyHoldsNoSecret(t *testing.T) {
	rk, other := testRSA(t)
	otherRec, _ := PublicRecord(other)
	addr := dnstest.Start(t, dnstest.Zone{"s._domainkey.example.test.": {TXT: []string{otherRec}}})
	r, _ := dnsclient.New(addr)
	c := CheckPublishedKey(context.Background(), r, Options{Selector: "s", Domain: "example.test", Signer: rk})
	all := c.Detail + strings.Join(c.Records, "\n")
	// The private numbers, in any base64 alignment, decimal or hex (the
	// modulus is public and rightly in the record to publish).
	for _, secret := range []*big.Int{rk.D, rk.Primes[0], rk.Primes[1]} {
		if strings.Contains(all, secret.Text(16)) || strings.Contains(all, secret.String()) {
			t.Fatal("the check's output holds a private number")
		}
		b := secret.Bytes()
		for off := 0; off < 3; off++ {
			enc := base64.StdEncoding.EncodeToString(b[off:])
			for i := 0; i+24 <= len(enc); i += 24 {
				if strings.Contains(all, enc[i:i+24]) {
					t.Fatal("the check's output quotes the private key")
				}
			}
		}
	}
}
