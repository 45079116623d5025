package dkimsign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxKeyFile bounds what LoadKey reads: a PEM RSA key of 16384 bits is
// about 12 KiB, so anything much larger is not a key file (a log, a
// mailbox, /dev/zero) and must not be read into memory.
const maxKeyFile = 64 << 10

// MinRSABits is the smallest RSA key LoadKey accepts: RFC 8301 §3.2 says
// verifiers MUST NOT accept signatures made with shorter keys, so such a
// signature would fail at every receiver.
const MinRSABits = 1024

// recommendedRSABits is the size RFC 8301 §3.2 says signers SHOULD use.
const recommendedRSABits = 2048

// maxVerifiedRSABits is the largest size RFC 8301 §3.2 requires verifiers
// to handle; a longer key may be refused by some of them.
const maxVerifiedRSABits = 4096

// LoadKey reads a DKIM private key from a PEM file: an RSA key in PKCS#1
// ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY") form, or an Ed25519 key in
// PKCS#8 form (what `openssl genpkey -algorithm ed25519` writes). Any other
// content is an error that names the file and says what was found instead;
// no error ever quotes the file's content, which is a secret.
func LoadKey(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("DKIM key %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("DKIM key %s: is a directory, not a key file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("DKIM key %s: %w", path, err)
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("DKIM key %s: larger than %d KiB, which no PEM private key is", path, maxKeyFile>>10)
	}
	k, err := parseKeyPEM(data)
	// The decoded DER holds the key: drop our copy of the file's bytes as
	// soon as we are done (the parsed key lives on in k).
	clear(data)
	if err != nil {
		return nil, fmt.Errorf("DKIM key %s: %w", path, err)
	}
	return k, nil
}

// parseKeyPEM finds the private key among the PEM blocks of data. Other
// blocks (a certificate kept in the same file, EC parameters) are skipped,
// but remembered so that a file without a usable key says what it holds.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, errors.New("the file is empty")
	}
	var seen []string
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("the %s is encrypted with a passphrase; decrypt it first (openssl pkey -in FILE -out PLAIN)", block.Type)
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("the RSA PRIVATE KEY block is not a valid PKCS#1 RSA key: %s", derError(err))
			}
			return checkKey(k)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("the PRIVATE KEY block is not a valid PKCS#8 key: %s", derError(err))
			}
			return checkKey(k)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the key is encrypted with a passphrase (ENCRYPTED PRIVATE KEY); decrypt it first (openssl pkey -in FILE -out PLAIN)")
		case "EC PRIVATE KEY":
			return nil, errors.New("it holds an EC (ECDSA) key, which DKIM does not define (RFC 6376, RFC 8463): use an RSA or Ed25519 key")
		case "OPENSSH PRIVATE KEY":
			return nil, errors.New("it holds an OpenSSH-format key; DKIM needs a PEM key (openssl genpkey -algorithm ed25519, or openssl genrsa 2048)")
		default:
			seen = append(seen, block.Type)
		}
	}
	if len(seen) == 0 {
		return nil, errors.New("not a PEM file (no -----BEGIN ...----- block); want an RSA or Ed25519 private key in PEM form")
	}
	what := strings.Join(seen, ", ")
	switch {
	case strings.Contains(what, "CERTIFICATE"):
		return nil, fmt.Errorf("it holds %s but no private key: a certificate is not the key that signs", what)
	case strings.Contains(what, "PUBLIC KEY"):
		return nil, fmt.Errorf("it holds %s but no private key: signing needs the private key", what)
	}
	return nil, fmt.Errorf("it holds %s but no RSA or Ed25519 private key", what)
}

// checkKey accepts the key types DKIM defines, with RFC 8301's minimum size.
func checkKey(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if bits := k.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; RFC 8301 §3.2 makes receivers reject signatures by keys under %d bits (generate one of %d: openssl genrsa %d)",
				bits, MinRSABits, recommendedRSABits, recommendedRSABits)
		}
		return k, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("the Ed25519 key has %d bytes, not %d", len(k), ed25519.PrivateKeySize)
		}
		return k, nil
	case *ecdsa.PrivateKey:
		return nil, errors.New("it holds an ECDSA key, which DKIM does not define (RFC 6376, RFC 8463): use an RSA or Ed25519 key")
	default:
		return nil, fmt.Errorf("it holds a %s key, which DKIM does not define: use an RSA or Ed25519 key", keyTypeName(k))
	}
}

// keyTypeName names a key type without printing the key.
func keyTypeName(k any) string {
	name := fmt.Sprintf("%T", k)
	name = strings.TrimPrefix(name, "*")
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	return name
}

// derError keeps the parser's reason but never bytes of the key: the
// x509 errors are fixed texts ("x509: failed to parse..."), quoted here
// without their package prefix.
func derError(err error) string {
	return strings.TrimPrefix(err.Error(), "x509: ")
}

// KeyWarning says what is weak or risky about a key that LoadKey accepted
// (an RSA key shorter than RFC 8301 recommends, or so long that some
// verifiers refuse it), or "" when there is nothing to say. The CLI shows it
// as information, not as an error: such a key still signs.
func KeyWarning(k crypto.Signer) string {
	pub, ok := k.Public().(*rsa.PublicKey)
	if !ok {
		return ""
	}
	switch bits := pub.N.BitLen(); {
	case bits < recommendedRSABits:
		return fmt.Sprintf("the RSA key has %d bits; RFC 8301 §3.2 says signers SHOULD use at least %d", bits, recommendedRSABits)
	case bits > maxVerifiedRSABits:
		return fmt.Sprintf("the RSA key has %d bits; RFC 8301 §3.2 requires verifiers to handle only up to %d, so some may not verify it", bits, maxVerifiedRSABits)
	}
	return ""
}

// KeyType is the k= value of a key: "rsa" or "ed25519" ("" for others).
func KeyType(k crypto.PublicKey) string {
	switch k.(type) {
	case *rsa.PublicKey:
		return "rsa"
	case ed25519.PublicKey:
		return "ed25519"
	}
	return ""
}

// KeyDescription names a key for humans: "RSA 2048-bit", "Ed25519".
func KeyDescription(k crypto.Signer) string {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit", pub.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return keyTypeName(k)
}
