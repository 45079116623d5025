package compose

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
	rsaKeyErr  error
)

// testKeys returns an RSA 2048 key (generated once per run: generating is
// slow) and a fresh Ed25519 key. Keys are never stored in the repository.
func testKeys(t testing.TB) (crypto.Signer, crypto.Signer) {
	t.Helper()
	rsaKeyOnce.Do(func() { rsaKey, rsaKeyErr = rsa.GenerateKey(rand.Reader, 2048) })
	if rsaKeyErr != nil {
		t.Fatal(rsaKeyErr)
	}
	_, ek, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return rsaKey, ek
}

// verifier verifies DKIM signatures the way a receiver does, fetching the
// key over DNS from an in-process server that publishes it.
func verifier(t *testing.T, zone dnstest.Zone) func(msg string) []*dkim.Verification {
	t.Helper()
	r, err := dnsclient.New(dnstest.Start(t, zone))
	if err != nil {
		t.Fatal(err)
	}
	return func(msg string) []*dkim.Verification {
		t.Helper()
		v, err := dkim.VerifyWithOptions(strings.NewReader(msg), &dkim.VerifyOptions{
			LookupTXT: func(name string) ([]string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				return r.LookupTXT(ctx, name)
			},
		})
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		return v
	}
}

func publish(t *testing.T, k crypto.Signer) []string {
	t.Helper()
	rec, err := dkimsign.PublicRecord(k)
	if err != nil {
		t.Fatal(err)
	}
	return []string{rec}
}

// buildSigned builds and reads a message (see readAll), keeping the
// Message for its DKIM fields.
func buildSigned(t *testing.T, o Options) (*Message, string) {
	t.Helper()
	m, err := Build(o)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	b, err := io.ReadAll(m)
	if err != nil {
		t.Fatalf("reading the message: %v", err)
	}
	checkInvariants(t, b, m.Size)
	return m, string(b)
}

// TestDKIMSignedMessageVerifies signs messages built by compose (the
// default one, MIME with an attachment, --data) with RSA 2048 and Ed25519,
// and verifies them as a receiver would; a changed body byte must fail.
func TestDKIMSignedMessageVerifies(t *testing.T) {
	rk, ek := testKeys(t)
	verify := verifier(t, dnstest.Zone{
		"rsa._domainkey.example.org.": {TXT: publish(t, rk)},
		"ed._domainkey.example.org.":  {TXT: publish(t, ek)},
	})
	attachment := filepath.Join(t.TempDir(), "report.bin")
	if err := os.WriteFile(attachment, []byte(strings.Repeat("binary\x00\xff data ", 5000)), 0o600); err != nil {
		t.Fatal(err)
	}
	messages := map[string]Options{
		"default": {From: "alice@example.org", To: []string{"bob@example.net"}, Cc: []string{"carol@example.net"}},
		"mime":    {From: "alice@example.org", To: []string{"bob@example.net"}, Body: "trailing spaces   \n\n\n", Attach: []Attachment{{Path: "@" + attachment}}},
		"data":    {From: "alice@example.org", To: []string{"bob@example.net"}, Data: `From: Alice <alice@example.org>\nSubject:   folded\n  subject\n\n.leading dot\n..two dots\n`},
	}
	for kname, k := range map[string]crypto.Signer{"rsa": rk, "ed": ek} {
		for mname, o := range messages {
			t.Run(kname+"/"+mname, func(t *testing.T) {
				o := fixed(o)
				o.DKIM = &dkimsign.Options{Selector: kname, Signer: k}
				m, msg := buildSigned(t, o)
				if !strings.HasPrefix(msg, "DKIM-Signature: ") || !strings.HasPrefix(msg, m.DKIMSignature) {
					t.Fatalf("the message does not start with its DKIM-Signature:\n%.300s", msg)
				}
				if m.DKIM == nil || m.DKIM.Domain != "example.org" || m.DKIM.KeyName() != kname+"._domainkey.example.org" {
					t.Fatalf("Message.DKIM = %+v, want the From domain filled in", m.DKIM)
				}
				v := verify(msg)
				if len(v) != 1 || v[0].Err != nil || v[0].Domain != "example.org" {
					t.Fatalf("verification: %+v", v[0])
				}
				// One changed byte of the body (the last letter before the
				// final CRLF) must break the signature.
				i := strings.LastIndexAny(msg, "abcdefghijklmnopqrstuvwxyz")
				tampered := msg[:i] + string(msg[i]^0x20) + msg[i+1:]
				if v := verify(tampered); v[0].Err == nil {
					t.Fatal("a message with a changed body byte verified")
				}
			})
		}
	}
}

// TestDKIMDomain checks where d= comes from: --dkim-domain, else the From
// field's domain (not the envelope's), else the envelope sender's.
func TestDKIMDomain(t *testing.T) {
	_, ek := testKeys(t)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"explicit", Options{From: "a@example.org", DKIM: &dkimsign.Options{Domain: "Signer.Example", Selector: "s", Signer: ek}}, "signer.example"},
		{"from header", Options{From: "bounce@bounces.example.org", Headers: []string{"From: \"Alice, A.\" <alice@Example.COM>"}, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "example.com"},
		{"idn from", Options{From: "a@example.org", Headers: []string{"From: ü@bücher.example"}, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "xn--bcher-kva.example"},
		{"odd from", Options{From: "a@example.org", Headers: []string{"From: <<odd@weird.example>>"}, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "weird.example"},
		{"envelope", Options{From: "a@envelope.example", Data: `From: nobody\nSubject: x\n\nbody`, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "envelope.example"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build(fixed(tt.o))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.DKIM.Domain != tt.want {
				t.Errorf("Domain = %q, want %q", m.DKIM.Domain, tt.want)
			}
			if !strings.Contains(m.DKIMSignature, "d="+tt.want+";") {
				t.Errorf("signature lacks d=%s: %s", tt.want, m.DKIMSignature)
			}
		})
	}
}

func TestDKIMErrors(t *testing.T) {
	rk, ek := testKeys(t)
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"selector injection", Options{From: "a@example.org", DKIM: &dkimsign.Options{Selector: "s\r\nBcc: x@example.net", Signer: rk}}, "DKIM selector"},
		{"domain injection", Options{From: "a@example.org", DKIM: &dkimsign.Options{Domain: "example.org\nX: 1", Selector: "s", Signer: rk}}, "DKIM domain"},
		{"header name", Options{From: "a@example.org", DKIM: &dkimsign.Options{Selector: "s", Signer: rk, Headers: []string{"Sub ject"}}}, "DKIM header"},
		{"no key", Options{From: "a@example.org", DKIM: &dkimsign.Options{Selector: "s"}}, "no signing key"},
		{"no from", Options{From: "a@example.org", Data: `Subject: x\n\nbody`, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "no From"},
		{"no domain", Options{Data: `From: nobody\nSubject: x\n\nbody`, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "DKIM domain"},
		{"no body", Options{From: "a@example.org", Data: `From: a@example.org\nSubject: x`, NoDataFixup: true, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}, "no blank line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Build(fixed(tt.o))
			if err == nil {
				m.Close()
				t.Fatal("Build accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestDKIMStdin checks that standard input used once is spooled when
// signing (it is read twice) and that the signed message verifies.
func TestDKIMStdin(t *testing.T) {
	_, ek := testKeys(t)
	verify := verifier(t, dnstest.Zone{"s._domainkey.example.org.": {TXT: publish(t, ek)}})
	m, b := buildSigned(t, fixed(Options{From: "a@example.org", To: []string{"b@example.net"}, Body: "-",
		Stdin: strings.NewReader("from standard input\n"), DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}))
	if m.Size < 0 || !strings.Contains(b, "\r\n\r\nfrom standard input\r\n") {
		t.Fatalf("Size %d, message:\n%s", m.Size, b)
	}
	if v := verify(b); v[0].Err != nil {
		t.Fatalf("verification: %v", v[0].Err)
	}
}

// TestDKIMFIFO checks that a source readable once (a FIFO) is refused with
// a clear reason rather than producing a signature over another message.
func TestDKIMFIFO(t *testing.T) {
	_, ek := testKeys(t)
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// Opening a FIFO for reading blocks until a writer comes.
	go func() {
		if f, err := os.OpenFile(p, os.O_WRONLY, 0); err == nil {
			_, _ = f.WriteString("body\n")
			_ = f.Close()
		}
	}()
	m, err := Build(fixed(Options{From: "a@example.org", Body: "@" + p, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}))
	if err == nil {
		m.Close()
		t.Fatal("Build signed a message with a single-use source")
	}
	if !strings.Contains(err.Error(), "only once") || !strings.Contains(err.Error(), p) {
		t.Errorf("err = %v", err)
	}
}

// TestDKIMLargeMessageStreams signs a 64 MiB --data file: the heap must
// stay flat both while Build signs it and while it is read to be sent.
func TestDKIMLargeMessageStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 64 MB twice")
	}
	_, ek := testKeys(t)
	line := strings.Repeat("0123456789 abcdefgh   ", 3) + "\n"
	p := writeLargeData(t, "From: a@example.org\nSubject: big\n\n", line, 64<<20)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		// Sample during Build too: signing reads the whole message there.
		defer close(done)
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			peak = max(peak, s.HeapAlloc)
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	m, err := Build(fixed(Options{To: []string{"b@example.net"}, Data: "@" + p, DKIM: &dkimsign.Options{Selector: "s", Signer: ek}}))
	if err != nil {
		close(stop)
		t.Fatal(err)
	}
	defer m.Close()
	n, err := io.Copy(io.Discard, m)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if n != m.Size {
		t.Errorf("read %d bytes, Size announced %d", n, m.Size)
	}
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("message %d bytes; heap growth %d KiB", n, growth>>10)
	if growth > 16<<20 {
		t.Errorf("heap grew by %d MiB while signing and streaming a %d MiB message", growth>>20, n>>20)
	}
}

// TestDKIMUnsignedUnchanged checks that without DKIM nothing changes: no
// signature, no Message.DKIM.
func TestDKIMUnsignedUnchanged(t *testing.T) {
	m, err := Build(fixed(Options{From: "a@example.org", To: []string{"b@example.net"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.DKIM != nil || m.DKIMSignature != "" {
		t.Errorf("unsigned message has DKIM %+v %q", m.DKIM, m.DKIMSignature)
	}
}
