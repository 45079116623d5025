package probe

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"testing"
)

func TestMessageDigest(t *testing.T) {
	msg := "Subject: hi\nMessage-ID:\r\n <abc.1@client.example>\r\nX: y\r\n\r\nbody\rline\n.dot"
	sent := "Subject: hi\r\nMessage-ID:\r\n <abc.1@client.example>\r\nX: y\r\n\r\nbody\r\nline\r\n.dot\r\n" // as writeBody sends it, before dot-stuffing
	d := newMessageDigest()
	open := d.wrap(func() (io.ReadCloser, int64, error) {
		return io.NopCloser(strings.NewReader(msg)), int64(len(msg)), nil
	})
	if d.info() != nil {
		t.Fatal("info before the message was read")
	}
	rc, _, err := open()
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := rc.Read(buf); err != nil {
		t.Fatal(err)
	}
	if d.info() != nil {
		t.Fatal("info of a message read in part")
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	info := d.info()
	sum := sha256.Sum256([]byte(sent))
	if info == nil || info.Size != int64(len(sent)) || info.SHA256 != hex.EncodeToString(sum[:]) || info.MessageID != "<abc.1@client.example>" {
		t.Fatalf("info %+v, want size %d sha256 %x", info, len(sent), sum)
	}
	// A second session reads the message afresh.
	rc, _, _ = open()
	if d.info() != nil {
		t.Fatal("info kept from the previous read")
	}
	_, _ = io.Copy(io.Discard, rc)
	if again := d.info(); again == nil || *again != *info {
		t.Fatalf("second read %+v, want %+v", again, info)
	}
	if got := headerValue("Message-Id: <x@y>\r\n", "Message-ID"); got != "<x@y>" {
		t.Errorf("headerValue = %q", got)
	}
	if got := headerValue("Subject: a\r\n X-Message-ID: no\r\n", "Message-ID"); got != "" {
		t.Errorf("headerValue of a folded line = %q", got)
	}
}
