package dkimsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Test keys are generated, never stored in the repository: a private key
// in the tree would be a secret for every scanner that looks.
var (
	rsaOnce    sync.Once
	rsa2048    *rsa.PrivateKey
	rsaOther   *rsa.PrivateKey
	rsaKeysErr error
)

// testRSA returns two distinct RSA 2048 keys, generated once per run.
func testRSA(t testing.TB) (*rsa.PrivateKey, *rsa.PrivateKey) {
	t.Helper()
	rsaOnce.Do(func() {
		if rsa2048, rsaKeysErr = rsa.GenerateKey(rand.Reader, 2048); rsaKeysErr != nil {
			return
		}
		rsaOther, rsaKeysErr = rsa.GenerateKey(rand.Reader, 2048)
	})
	if rsaKeysErr != nil {
		t.Fatal(rsaKeysErr)
	}
	return rsa2048, rsaOther
}

func testEd25519(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// smallRSA builds an RSA key of the given size by hand: crypto/rsa refuses
// to generate one under 1024 bits, but such keys exist in the wild and
// LoadKey must refuse them with its own explanation.
func smallRSA(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	e := big.NewInt(65537)
	one := big.NewInt(1)
	for {
		p, err := rand.Prime(rand.Reader, bits/2)
		if err != nil {
			t.Fatal(err)
		}
		q, err := rand.Prime(rand.Reader, bits/2)
		if err != nil {
			t.Fatal(err)
		}
		if p.Cmp(q) == 0 {
			continue
		}
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != bits {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		k.Precompute()
		return k
	}
}

func writePEM(t *testing.T, name string, blocks ...*pem.Block) string {
	t.Helper()
	var b []byte
	for _, blk := range blocks {
		b = append(b, pem.EncodeToMemory(blk)...)
	}
	return writeFile(t, name, b)
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func pkcs8(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLoadKeyAccepts(t *testing.T) {
	rk, _ := testRSA(t)
	ek := testEd25519(t)
	k1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, ek)
	tests := []struct {
		name    string
		path    string
		public  crypto.PublicKey
		warning bool
	}{
		{"rsa pkcs1", writePEM(t, "pkcs1.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), &rk.PublicKey, false},
		{"rsa pkcs8", writePEM(t, "pkcs8.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(t, rk)}), &rk.PublicKey, false},
		{"ed25519 pkcs8", writePEM(t, "ed.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(t, ek)}), ek.Public(), false},
		// RFC 8301: 1024 bits is the minimum receivers accept; it signs,
		// with a warning that 2048 is what signers SHOULD use.
		{"rsa 1024", writePEM(t, "1024.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k1024)}), &k1024.PublicKey, true},
		// A certificate kept before the key in the same file is skipped.
		{"certificate then key", writePEM(t, "both.pem", &pem.Block{Type: "CERTIFICATE", Bytes: cert}, &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(t, ek)}), ek.Public(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadKey(tt.path)
			if err != nil {
				t.Fatalf("LoadKey: %v", err)
			}
			if !sameKey(tt.public, k.Public()) {
				t.Errorf("loaded a different key")
			}
			if w := KeyWarning(k); (w != "") != tt.warning {
				t.Errorf("KeyWarning = %q, want a warning: %v", w, tt.warning)
			}
		})
	}
}

func selfSigned(t *testing.T, k ed25519.PrivateKey) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dkim.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestLoadKeyRefuses(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	k512 := smallRSA(t, 512)
	ek := testEd25519(t)
	rk, _ := testRSA(t)
	pubDER, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want string // in the error, besides the file name
	}{
		{"ec sec1", writePEM(t, "ec.pem", &pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), "EC"},
		{"ec pkcs8", writePEM(t, "ec8.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8(t, ec)}), "ECDSA"},
		{"garbage", writeFile(t, "garbage.pem", []byte("this is not a key\n\x00\x01\x02")), "not a PEM file"},
		{"empty", writeFile(t, "empty.pem", nil), "empty"},
		{"certificate", writePEM(t, "cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: selfSigned(t, ek)}), "certificate"},
		{"public key", writePEM(t, "pub.pem", &pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}), "PUBLIC KEY"},
		{"rsa 512", writePEM(t, "512.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k512)}), "512 bits"},
		{"corrupt der", writePEM(t, "bad.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte("not DER at all")}), "not a valid PKCS#1"},
		{"encrypted", writePEM(t, "enc.pem", &pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "passphrase"},
		{"legacy encrypted", writePEM(t, "enc1.pem", &pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1, 2, 3}}), "passphrase"},
		{"openssh", writePEM(t, "id_ed25519", &pem.Block{Type: "OPENSSH PRIVATE KEY", Bytes: []byte{1, 2, 3}}), "OpenSSH"},
		{"huge", writeFile(t, "huge.pem", make([]byte, maxKeyFile+10)), "larger than"},
		{"missing", filepath.Join(t.TempDir(), "nonexistent.pem"), "no such file"},
		{"directory", t.TempDir(), "directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := LoadKey(tt.path)
			if err == nil {
				t.Fatalf("LoadKey accepted it (%T)", k)
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.path) {
				t.Errorf("error does not name the file %s: %v", tt.path, err)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

// TestLoadKeyErrorsHoldNoKeyMaterial checks that no error quotes the file:
// a key that is refused (too short) or damaged is still a secret.
func TestLoadKeyErrorsHoldNoKeyMaterial(t *testing.T) {
	k512 := smallRSA(t, 512)
	der := x509.MarshalPKCS1PrivateKey(k512)
	damaged := append([]byte(nil), der...)
	damaged[len(damaged)/2] ^= 0xff
	for name, blk := range map[string]*pem.Block{
		"short":   {Type: "RSA PRIVATE KEY", Bytes: der},
		"damaged": {Type: "RSA PRIVATE KEY", Bytes: damaged},
		"unknown": {Type: "DSA PRIVATE KEY", Bytes: der},
	} {
		path := writePEM(t, name+".pem", blk)
		_, err := LoadKey(path)
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		b64 := base64.StdEncoding.EncodeToString(blk.Bytes)
		for i := 0; i+16 <= len(b64); i += 16 {
			if strings.Contains(err.Error(), b64[i:i+16]) {
				t.Fatalf("%s: the error quotes the key file: %v", name, err)
			}
		}
		for _, secret := range []*big.Int{k512.D, k512.Primes[0], k512.Primes[1]} {
			if strings.Contains(err.Error(), secret.String()) || strings.Contains(err.Error(), secret.Text(16)) {
				t.Fatalf("%s: the error holds a private number: %v", name, err)
			}
		}
	}
}

func TestKeyWarningLargeRSA(t *testing.T) {
	// Only the public part matters to KeyWarning; no 8192-bit key needs to
	// be generated.
	k := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 8191), E: 65537}}
	if w := KeyWarning(k); !strings.Contains(w, "8192") {
		t.Errorf("KeyWarning(8192-bit) = %q", w)
	}
	rk, _ := testRSA(t)
	if w := KeyWarning(rk); w != "" {
		t.Errorf("KeyWarning(2048-bit) = %q, want none", w)
	}
	if w := KeyWarning(testEd25519(t)); w != "" {
		t.Errorf("KeyWarning(ed25519) = %q, want none", w)
	}
}
