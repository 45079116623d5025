package dkimsign

import (
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseKeyRecord(t *testing.T) {
	rk, _ := testRSA(t)
	rsaRec, _ := PublicRecord(rk)
	ek := testEd25519(t)
	edRec, _ := PublicRecord(ek)
	edB64 := base64.StdEncoding.EncodeToString(ek.Public().(ed25519.PublicKey))
	edLong := base64.StdEncoding.EncodeToString(append([]byte(ek.Public().(ed25519.PublicKey)), 0, 0, 0))

	good := map[string]func(*KeyRecord) bool{
		rsaRec: func(k *KeyRecord) bool { return k.KeyType == "rsa" && rk.PublicKey.Equal(k.PublicKey) },
		edRec: func(k *KeyRecord) bool {
			return k.KeyType == "ed25519" && ek.Public().(ed25519.PublicKey).Equal(k.PublicKey)
		},
		// v= is optional, k= defaults to rsa, a trailing ';' is allowed.
		strings.TrimPrefix(strings.Replace(rsaRec, "k=rsa; ", "", 1), "v=DKIM1; ") + ";": func(k *KeyRecord) bool {
			_, ok := k.PublicKey.(*rsa.PublicKey)
			return ok && k.Version == ""
		},
		"v=DKIM1; p=":         func(k *KeyRecord) bool { return k.Revoked && k.PublicKey == nil },
		"v=DKIM1;;p= ; t=y:s": func(k *KeyRecord) bool { return k.Revoked && k.Testing() && len(k.Flags) == 2 },
		// Tag names are case-sensitive (§3.2): K= is an unknown tag, so k=
		// stays rsa; the k= value itself is matched without case.
		"k=ED25519; p=" + edB64:             func(k *KeyRecord) bool { return k.KeyType == "ed25519" },
		"K=ed25519; k=rsa; p=" + rsaB64(rk): func(k *KeyRecord) bool { return k.KeyType == "rsa" },
		"k=ed25519; h=sha256; s=email; p=" + edB64: func(k *KeyRecord) bool {
			return k.AllowsSHA256() && k.AllowsEmail()
		},
		"k=ed25519; h=sha1; s=tlsrpt; x_y=z; p=" + edB64: func(k *KeyRecord) bool {
			return !k.AllowsSHA256() && !k.AllowsEmail()
		},
	}
	for rec, ok := range good {
		k, err := ParseKeyRecord(rec)
		if err != nil {
			t.Errorf("ParseKeyRecord(%.50q): %v", rec, err)
			continue
		}
		if !ok(k) {
			t.Errorf("ParseKeyRecord(%.50q) = %+v", rec, k)
		}
	}

	bad := map[string]string{
		"":                               "no p=",
		"v=DKIM1":                        "no p=",
		"v=DKIM2; p=" + edB64:            "not DKIM1",
		"k=ed25519; v=DKIM1; p=" + edB64: "first",
		"k=dsa; p=" + edB64:              "k=dsa",
		"p=" + edB64:                     "add k=ed25519",
		"k=ed25519; p=" + edLong:         "octets",
		"k=ed25519; p=" + edB64 + "; p=": "twice",
		"p=@@@":                          "base64",
		"hello world":                    "no '='",
		"1x=y; p=":                       "tag name",
		"v=DKIM1; n=caf\xc3\xa9; p=":     "byte 0x",
		"k=rsa; p=" + base64.StdEncoding.EncodeToString([]byte("not a key at all, just forty-odd bytes!")): "not an RSA public key",
	}
	for rec, want := range bad {
		_, err := ParseKeyRecord(rec)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKeyRecord(%.50q) error = %v, want %q", rec, err, want)
		}
	}
}

func rsaB64(k *rsa.PrivateKey) string {
	rec, _ := PublicRecord(k)
	_, p, _ := strings.Cut(rec, "p=")
	return p
}

func TestLooksLikeKeyRecord(t *testing.T) {
	for rec, want := range map[string]bool{
		"v=DKIM1; p=abc":               true,
		"p=":                           true,
		"v=DKIM1":                      true,
		"v=DKIM1; broken":              true,
		"google-site-verification=abc": false,
		"v=spf1 -all":                  false,
		"some free text":               false,
	} {
		if got := LooksLikeKeyRecord(rec); got != want {
			t.Errorf("LooksLikeKeyRecord(%q) = %v, want %v", rec, got, want)
		}
	}
}

// FuzzParseKeyRecord checks that no TXT record, however malformed, makes
// the parser panic, and that what it accepts is coherent: a known key
// type, and either a revoked key or a public key of that type.
func FuzzParseKeyRecord(f *testing.F) {
	f.Add("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
	f.Add("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
	f.Add("v=DKIM1; p=")
	f.Add("k=rsa; t=y:s; h=sha256; s=email; n=note; p=")
	f.Add(";;;=;")
	f.Add("v=DKIM1; p=MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKeyRecord(s)
		if err != nil {
			if k != nil {
				t.Fatalf("error %v with a record %+v", err, k)
			}
			return
		}
		switch {
		case k.Revoked:
			if k.PublicKey != nil {
				t.Fatal("revoked with a key")
			}
		case k.KeyType == "rsa":
			pub, ok := k.PublicKey.(*rsa.PublicKey)
			if !ok || pub.N == nil {
				t.Fatalf("k=rsa with %T", k.PublicKey)
			}
		case k.KeyType == "ed25519":
			if pub, ok := k.PublicKey.(ed25519.PublicKey); !ok || len(pub) != ed25519.PublicKeySize {
				t.Fatalf("k=ed25519 with %T", k.PublicKey)
			}
		default:
			t.Fatalf("accepted k=%q", k.KeyType)
		}
		_ = LooksLikeKeyRecord(s)
	})
}
