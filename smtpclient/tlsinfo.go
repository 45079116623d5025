package smtpclient

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// Warning kinds (transcript.Warning.Kind).
const (
	// WarnStartTLSDroppedOnReconnect: the first connection offered
	// STARTTLS, the reconnection after the failed handshake did not.
	WarnStartTLSDroppedOnReconnect = "starttls-dropped-on-reconnect"
	// WarnStartTLSRefusedInClear: STARTTLS was offered, refused (4xx/5xx),
	// and the session went on in clear (opportunistic TLS).
	WarnStartTLSRefusedInClear = "starttls-refused-went-on-in-clear"
	// WarnAuthOnlyInClear: AUTH was advertised before STARTTLS and not
	// inside TLS.
	WarnAuthOnlyInClear = "auth-only-in-clear"
	// WarnPeerCertFile: the peer certificate file could not be written.
	WarnPeerCertFile = "peer-cert-file"
)

// warn records a finding that does not end the session: in the result and
// as a transcript information line.
func (s *session) warn(kind, msg string, evidence ...string) {
	for i, e := range evidence {
		evidence[i] = s.rec.Scrub(e)
	}
	s.res.Warnings = append(s.res.Warnings, transcript.Warning{Kind: kind, Message: s.rec.Scrub(msg), Evidence: evidence})
	s.rec.Infof("Warning: %s", msg)
}

// certInfo describes one certificate for the report.
func certInfo(c *x509.Certificate) transcript.CertInfo {
	ci := transcript.CertInfo{
		Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		DNSNames: append([]string{}, c.DNSNames...), IPAddresses: []string{},
		SignatureAlgorithm: c.SignatureAlgorithm.String(),
		IsCA:               c.IsCA,
	}
	for _, ip := range c.IPAddresses {
		ci.IPAddresses = append(ci.IPAddresses, ip.String())
	}
	sum := sha256.Sum256(c.Raw)
	ci.SHA256 = hex.EncodeToString(sum[:])
	spki := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	ci.SPKISHA256 = hex.EncodeToString(spki[:])
	if c.SerialNumber != nil {
		ci.Serial = c.SerialNumber.Text(16)
	}
	ci.KeyType, ci.KeyBits, ci.Key = keyDescription(c.PublicKey)
	ci.SelfSigned = selfSigned(c)
	return ci
}

// keyDescription names a public key: type, size in bits, and both in words
// ("RSA 2048", "ECDSA P-256", "Ed25519").
func keyDescription(pub any) (typ string, bits int, words string) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return "RSA", k.N.BitLen(), fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		name := k.Curve.Params().Name
		return "ECDSA", k.Curve.Params().BitSize, "ECDSA " + name
	case ed25519.PublicKey:
		return "Ed25519", 256, "Ed25519"
	}
	return "unknown", 0, fmt.Sprintf("unknown key type %T", pub)
}

// selfSigned reports whether c is signed by its own key (a server
// certificate that is not a CA too: CheckSignatureFrom would refuse it as
// a parent).
func selfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

// nameMatches reports whether the leaf is valid for host (a name or an IP
// literal, with or without brackets).
func nameMatches(leaf *x509.Certificate, host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	host = strings.TrimPrefix(host, "IPv6:")
	return host != "" && leaf.VerifyHostname(host) == nil
}

// certName is how a certificate is named in a sentence: its CN, or the
// whole subject when it has none.
func certName(c *x509.Certificate) string {
	if c.Subject.CommonName != "" {
		return "CN=" + c.Subject.CommonName
	}
	if s := c.Subject.String(); s != "" {
		return s
	}
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return "(empty subject)"
}

// certNames lists the names a certificate is valid for, shortened.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName != "" {
			return "no host name at all (only CN=" + c.Subject.CommonName + ", which is not used for host names since RFC 6125)"
		}
		return "no host name at all"
	}
	if len(names) > 3 {
		return strings.Join(names[:3], ", ") + fmt.Sprintf(" (and %d more)", len(names)-3)
	}
	return strings.Join(names, ", ")
}

// verifySummary says in one sentence what the verification of chain for
// name found (err is its error, nil when it verified).
func verifySummary(err error, chain []*x509.Certificate, name string, now time.Time) string {
	if len(chain) == 0 {
		if err != nil {
			return "the server sent no certificate"
		}
		return ""
	}
	leaf := chain[0]
	day := func(t time.Time) string { return t.UTC().Format("2006-01-02") }
	if err == nil {
		return fmt.Sprintf("the certificate is valid for %s, issued by %s, until %s", name, certName(issuerOf(leaf, chain)), day(leaf.NotAfter))
	}
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the certificate is for %s, not %s", certNames(leaf), name)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		c := invalid.Cert
		if c == nil {
			c = leaf
		}
		who := "the certificate"
		if c != leaf {
			who = "the certificate " + certName(c) + " of the chain"
		}
		if now.Before(c.NotBefore) {
			return fmt.Sprintf("%s is not valid yet: not before %s (check the server's clock, and this machine's)", who, day(c.NotBefore))
		}
		return fmt.Sprintf("%s expired on %s", who, day(c.NotAfter))
	case errors.As(err, &unknown):
		switch {
		case selfSigned(leaf):
			return fmt.Sprintf("issued by an unknown authority (self-signed %s)", certName(leaf))
		case len(chain) == 1:
			return fmt.Sprintf("issued by an unknown authority (%s): the server sent no intermediate certificate, or the root is not trusted here", leaf.Issuer.String())
		}
		last := chain[len(chain)-1]
		return fmt.Sprintf("issued by an unknown authority: the chain ends at %s, issued by %s, which is not trusted here", certName(last), last.Issuer.String())
	case errors.As(err, &invalid):
		return fmt.Sprintf("the chain is not valid: %s", invalid.Error())
	}
	return "the certificate could not be verified: " + err.Error()
}

// issuerOf finds the issuer of c in chain, or returns c itself.
func issuerOf(c *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	for _, p := range chain[1:] {
		if bytes.Equal(p.RawSubject, c.RawIssuer) {
			return p
		}
	}
	// Not sent (the root, usually): name it by the issuer field.
	return &x509.Certificate{Subject: c.Issuer}
}

// peerChainPEM is the chain the server sent, leaf first, as PEM.
func peerChainPEM(chain []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range chain {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// writeFileAtomic writes data to path through a temporary file in the same
// folder and a rename: a reader never sees half a file, and a failure
// leaves the old file as it was.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// CheckWritableFile checks, before connecting, that a file can be written
// at path later (--tls-get-peer-cert): its folder exists, is a folder and
// takes a new file, and path itself is not a folder. Writing the file
// during the session only warns on failure; this check makes a wrong
// path a usage error at once.
func CheckWritableFile(path string) error {
	if path == "" {
		return errors.New("no file name")
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder, not a file", path)
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("the folder %s does not exist", dir)
		}
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".check-*")
	if err != nil {
		return fmt.Errorf("cannot write in %s: %w", dir, unwrapPathError(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// savePeerChain writes the chain to --tls-get-peer-cert's file and/or the
// transcript; a failure is a warning, never the session's end.
func (s *session) savePeerChain(chain []*x509.Certificate) {
	if len(chain) == 0 || (s.cfg.TLSPeerCertFile == "" && !s.cfg.TLSShowPeerCert) {
		return
	}
	data := peerChainPEM(chain)
	if s.cfg.TLSShowPeerCert {
		for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
			s.rec.Infof("%s", l)
		}
	}
	if s.cfg.TLSPeerCertFile == "" {
		return
	}
	if err := writeFileAtomic(s.cfg.TLSPeerCertFile, data); err != nil {
		s.warn(WarnPeerCertFile, fmt.Sprintf("could not write the peer certificate chain to %s: %v", s.cfg.TLSPeerCertFile, unwrapPathError(err)), err.Error())
		return
	}
	s.rec.Infof("Peer certificate chain (%d certificate(s), PEM) written to %s", len(chain), s.cfg.TLSPeerCertFile)
}

// parseTLSOptions reads --tls-protocol and --tls-cipher.
func (s *session) parseTLSOptions() error {
	if s.cfg.TLSProtocol != "" {
		v, err := ParseTLSProtocol(s.cfg.TLSProtocol)
		if err != nil {
			return err
		}
		s.versions = v
	}
	if s.cfg.TLSCipher != "" {
		c, err := ParseTLSCipher(s.cfg.TLSCipher)
		if err != nil {
			return err
		}
		s.ciphers = c
	}
	return nil
}

// tlsRestrictions says what --tls-protocol and --tls-cipher allow, ""
// without them.
func (s *session) tlsRestrictions() string {
	var parts []string
	if s.versions.Allowed != nil {
		parts = append(parts, fmt.Sprintf("versions %s (--tls-protocol %s)", s.versions, s.cfg.TLSProtocol))
		parts = append(parts, s.versions.Notes...)
	}
	if s.ciphers.Suites != nil {
		parts = append(parts, fmt.Sprintf("TLS 1.2 and earlier cipher suites %s (--tls-cipher %s; TLS 1.3 suites cannot be chosen in Go: add --tls-protocol no_tlsv1_3 to test these suites)", strings.Join(s.ciphers.Names(), ", "), s.cfg.TLSCipher))
		parts = append(parts, s.ciphers.Notes...)
	}
	return strings.Join(parts, "; ")
}

// noStartTLS records TLS that could not start because STARTTLS was not
// offered or was refused: RFC 8460 starttls-not-supported.
func (s *session) noStartTLS(summary string) {
	name := s.cfg.TLSServerName
	if name == "" {
		name = strings.TrimSuffix(s.server, ".")
	}
	s.res.TLS = &transcript.TLSInfo{
		ServerName: name, NameChecked: strings.TrimSuffix(s.server, "."), PeerCertificates: []transcript.CertInfo{},
		ResultType: ResultStartTLSNotSupported, VerifySummary: s.rec.Scrub(summary),
	}
}

// authOnlyInClear warns when AUTH was advertised before STARTTLS and not
// inside TLS: clients would send credentials only in clear.
func (s *session) authOnlyInClear() {
	if len(s.res.PreTLSAuth) == 0 || len(s.res.AuthMechs) > 0 {
		return
	}
	s.warn(WarnAuthOnlyInClear, "the server advertises AUTH before STARTTLS but not inside TLS: clients can only authenticate in clear, where the credentials can be read",
		"before STARTTLS: AUTH "+strings.Join(s.res.PreTLSAuth, " "), "after STARTTLS: no AUTH in the EHLO reply")
}

// lastHeloLines are the lines of the last EHLO/HELO reply.
func (s *session) lastHeloLines() []string {
	for i := len(s.res.Steps) - 1; i >= 0; i-- {
		if st := s.res.Steps[i]; st.Phase == PhaseHelo && st.Reply != nil {
			return st.Reply.Lines
		}
	}
	return nil
}
