package dkimsign

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

const plainMessage = "From: Alice <alice@example.test>\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: test\r\n" +
	"\r\n" +
	"Hello.\r\n"

// verifyWith verifies msg against a fixed key record, without DNS.
func verifyWith(t *testing.T, msg, record string) []*dkim.Verification {
	t.Helper()
	v, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(string) ([]string, error) { return []string{record}, nil },
	})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return v
}

func TestSignVerifies(t *testing.T) {
	rk, _ := testRSA(t)
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"rsa", Options{Domain: "example.test", Selector: "s1", Signer: rk}},
		{"ed25519", Options{Domain: "example.test", Selector: "s1", Signer: testEd25519(t)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig, n, err := Sign(strings.NewReader(plainMessage), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(plainMessage)) {
				t.Errorf("n = %d, want %d", n, len(plainMessage))
			}
			for _, want := range []string{"DKIM-Signature:", "d=example.test", "s=s1", "c=relaxed/relaxed", "a=" + KeyType(tc.opts.Signer.Public()) + "-sha256"} {
				if !strings.Contains(unfold(sig), want) {
					t.Errorf("signature lacks %q: %s", want, sig)
				}
			}
			if !strings.HasSuffix(sig, "\r\n") {
				t.Errorf("signature does not end with CRLF: %q", sig)
			}
			// The default set, with From oversigned.
			if !strings.Contains(unfold(sig), "h=From:From:Reply-To:Subject:Date:To:Cc:Message-ID:MIME-Version:Content-Type:Content-Transfer-Encoding") {
				t.Errorf("h= is not the default set: %s", sig)
			}
			rec, err := PublicRecord(tc.opts.Signer)
			if err != nil {
				t.Fatal(err)
			}
			v := verifyWith(t, sig+plainMessage, rec)
			if len(v) != 1 || v[0].Err != nil {
				t.Fatalf("verification: %+v", v[0])
			}
			tampered := strings.Replace(plainMessage, "Hello.", "Hellp.", 1)
			if v := verifyWith(t, sig+tampered, rec); v[0].Err == nil {
				t.Fatal("a tampered body verified")
			}
			// A From field added later is caught by the oversigning.
			if v := verifyWith(t, sig+"From: mallory@evil.test\r\n"+plainMessage, rec); v[0].Err == nil {
				t.Fatal("a second From field did not break the signature")
			}
		})
	}
}

func unfold(s string) string {
	return strings.NewReplacer("\r\n ", "", "\r\n\t", "", " ", "").Replace(s)
}

func TestSignHeaders(t *testing.T) {
	rk, _ := testRSA(t)
	sig, _, err := Sign(strings.NewReader(plainMessage), Options{Domain: "example.test", Selector: "s", Signer: rk, Headers: []string{"Subject", "To"}})
	if err != nil {
		t.Fatal(err)
	}
	// From is required by RFC 6376 §5.4 and added when the user forgot it.
	if !strings.Contains(unfold(sig), "h=From:Subject:To;") {
		t.Errorf("h= = %s", sig)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestSignErrors(t *testing.T) {
	rk, _ := testRSA(t)
	o := Options{Domain: "example.test", Selector: "s", Signer: rk}
	if _, _, err := Sign(io.MultiReader(strings.NewReader("From: a@b\r\n"), failingReader{}), o); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("read error: %v", err)
	}
	if _, _, err := Sign(strings.NewReader("From: a@b\r\nno blank line"), o); err == nil || strings.Contains(err.Error(), "reading the message") {
		t.Errorf("header without end: %v (want the signer's error, not a read error)", err)
	}
	noDomain := o
	noDomain.Domain = ""
	if _, _, err := Sign(strings.NewReader(plainMessage), noDomain); err == nil {
		t.Error("signed without a domain")
	}
}

func TestValidate(t *testing.T) {
	rk, _ := testRSA(t)
	good := Options{Domain: "example.test", Selector: "sel-2024.a_b", Signer: rk}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid options: %v", err)
	}
	bad := map[string]Options{
		"selector with CRLF":  {Domain: "example.test", Selector: "s1\r\nBcc: victim@example.net", Signer: rk},
		"selector with LF":    {Domain: "example.test", Selector: "s1\nX: y", Signer: rk},
		"domain with CRLF":    {Domain: "example.test\r\nX-Evil: 1", Selector: "s1", Signer: rk},
		"domain with ;":       {Domain: "example.test; s=other", Selector: "s1", Signer: rk},
		"selector with ;":     {Domain: "example.test", Selector: "s1; d=evil.test", Signer: rk},
		"selector with space": {Domain: "example.test", Selector: "s 1", Signer: rk},
		"empty selector":      {Domain: "example.test", Signer: rk},
		"empty label":         {Domain: "example..test", Selector: "s1", Signer: rk},
		"hyphen label":        {Domain: "example.test", Selector: "-s1", Signer: rk},
		"long label":          {Domain: "example.test", Selector: strings.Repeat("a", 64), Signer: rk},
		"too long name":       {Domain: strings.Repeat("abcdefghi.", 24) + "test", Selector: strings.Repeat("s", 30), Signer: rk},
		"no key":              {Domain: "example.test", Selector: "s1"},
		"header with colon":   {Domain: "example.test", Selector: "s1", Signer: rk, Headers: []string{"Subject:"}},
		"header with CRLF":    {Domain: "example.test", Selector: "s1", Signer: rk, Headers: []string{"Subject\r\nX"}},
		"header with ;":       {Domain: "example.test", Selector: "s1", Signer: rk, Headers: []string{"Subject;x=y"}},
		"empty header":        {Domain: "example.test", Selector: "s1", Signer: rk, Headers: []string{""}},
	}
	for name, o := range bad {
		err := o.Validate()
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.ContainsAny(err.Error(), "\r\n") {
			t.Errorf("%s: the error carries a raw CR/LF: %q", name, err)
		}
	}
	// The domain may be left to compose (the From domain).
	if err := (Options{Selector: "s1", Signer: rk}).Validate(); err != nil {
		t.Errorf("empty domain: %v", err)
	}
}

func TestNormalizeIDN(t *testing.T) {
	o, err := Options{Domain: "Bücher.Example.", Selector: "s1", Signer: testEd25519(t)}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	if o.Domain != "xn--bcher-kva.example" {
		t.Errorf("Domain = %q", o.Domain)
	}
	if got := o.KeyName(); got != "s1._domainkey.xn--bcher-kva.example" {
		t.Errorf("KeyName = %q", got)
	}
}
