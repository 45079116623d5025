package compose

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestLargeAttachmentStreams sends a 200 MB (sparse) attachment through the
// composer and checks that the heap stays flat: the file is read as the
// message is read, never loaded.
func TestLargeAttachmentStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 270 MB of output")
	}
	const size = 200 << 20
	p := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	m, err := Build(fixed(Options{From: "a@example.org", To: []string{"b@example.net"}, Body: "@testdata/body.txt", Attach: []Attachment{{Path: "@" + p}}}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	buf := make([]byte, 64<<10)
	var total int64
	var peak uint64
	var stats runtime.MemStats
	for i := 0; ; i++ {
		n, err := m.Read(buf)
		total += int64(n)
		if i%512 == 0 {
			runtime.ReadMemStats(&stats)
			peak = max(peak, stats.HeapAlloc)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if total != m.Size {
		t.Errorf("read %d bytes, Size announced %d", total, m.Size)
	}
	if want := base64Len(size); total < want {
		t.Errorf("read %d bytes, less than the encoded attachment (%d)", total, want)
	}
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("message %d bytes; heap before %d KiB, peak %d KiB (growth %d KiB)", total, before.HeapAlloc>>10, peak>>10, growth>>10)
	if growth > 16<<20 {
		t.Errorf("heap grew by %d MiB while streaming a %d MiB attachment", growth>>20, size>>20)
	}
}

// TestLargeDataStreams does the same for --data from a file, which goes
// through header parsing, token expansion and line-ending fix-ups.
func TestLargeDataStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and reads 64 MB")
	}
	p := writeLargeData(t, "Subject: big %DATE%\n\n", strings.Repeat("0123456789 %TO_ADDRESS% ..DATE.. \\n", 2)+"\n", 64<<20)
	runtime.GC()
	var before, stats runtime.MemStats
	runtime.ReadMemStats(&before)
	m, err := Build(fixed(Options{To: []string{"b@example.net"}, Data: "@" + p, Headers: []string{"Subject: replaced"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var peak uint64
	w := &peakWriter{every: 1024, peak: &peak, stats: &stats}
	n, err := io.Copy(w, m)
	if err != nil {
		t.Fatal(err)
	}
	if n != m.Size {
		t.Errorf("read %d bytes, Size announced %d", n, m.Size)
	}
	if !bytes.HasPrefix(w.head, []byte("Subject: replaced\r\n\r\n0123456789 b@example.net Fri, 02 Jan 2026")) {
		t.Errorf("unexpected start %q", w.head)
	}
	growth := int64(peak) - int64(before.HeapAlloc)
	t.Logf("message %d bytes; heap growth %d KiB", n, growth>>10)
	if growth > 16<<20 {
		t.Errorf("heap grew by %d MiB while streaming --data", growth>>20)
	}
}

// writeLargeData writes a --data file of head then line repeated until
// size bytes, and returns its path.
func writeLargeData(t *testing.T, head, line string, size int) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.eml")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(f, head); err != nil {
		t.Fatal(err)
	}
	for written := 0; written < size; written += len(line) {
		if _, err := io.WriteString(f, line); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// peakWriter discards what it gets, keeps the start, and samples the heap.
type peakWriter struct {
	head  []byte
	calls int
	every int
	peak  *uint64
	stats *runtime.MemStats
}

func (w *peakWriter) Write(p []byte) (int, error) {
	if len(w.head) < 80 {
		w.head = append(w.head, p[:min(len(p), 80-len(w.head))]...)
	}
	if w.calls%w.every == 0 {
		runtime.ReadMemStats(w.stats)
		*w.peak = max(*w.peak, w.stats.HeapAlloc)
	}
	w.calls++
	return len(p), nil
}

func FuzzValidateHeader(f *testing.F) {
	for _, s := range []string{"Subject: x", `A: 1\nB: 2`, `A: 1\n  fold`, "A: x\r\nB: y", "bad name: x", "%NEWLINE%", "X: ..BODY.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		err := ValidateHeader(h)
		if err != nil {
			if strings.ContainsAny(h, "\r\n") && !strings.Contains(err.Error(), "CR or LF") && !strings.Contains(err.Error(), "NUL") {
				t.Fatalf("ValidateHeader(%q) = %v, want the CR/LF error", h, err)
			}
			return
		}
		if strings.ContainsAny(h, "\r\n\x00") {
			t.Fatalf("ValidateHeader accepted %q", h)
		}
		// An accepted header must not be able to end the header section or
		// smuggle a line that is not a header: the default body must still
		// follow the first blank line, untouched.
		m, err := Build(fixed(Options{From: "a@example.org", To: []string{"b@example.net"}, Headers: []string{h}, AddHeaders: []string{h}}))
		if err != nil {
			t.Fatalf("ValidateHeader accepted %q but Build refused it: %v", h, err)
		}
		defer m.Close()
		b, err := io.ReadAll(m)
		if err != nil {
			t.Fatal(err)
		}
		head, body, ok := strings.Cut(string(b), "\r\n\r\n")
		if !ok || !strings.HasPrefix(body, "This is a test mailing from smtpprobe") {
			t.Fatalf("header %q broke the header section:\n%s", h, b)
		}
		for _, line := range strings.Split(head, "\r\n") {
			if line == "" || (line[0] != ' ' && line[0] != '\t' && !strings.Contains(line, ":")) {
				t.Fatalf("header %q produced the line %q", h, line)
			}
		}
		if int64(len(b)) != m.Size {
			t.Fatalf("Size %d, read %d", m.Size, len(b))
		}
	})
}

// FuzzBuildData feeds arbitrary --data (and a --header to edit it) through
// the whole pipeline: it must never panic, and every message it produces
// must have CRLF line endings, end with CRLF and match its announced size.
func FuzzBuildData(f *testing.F) {
	for _, s := range []string{"Subject: a\n\nbody\n.\n", `From x\nA: 1\n\n%BODY%`, "\n\n", "no header", "A: 1\r\n %NEW_HEADERS%\r\n\r\n..DATE..", "\r\r\n\n."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		if data == "" {
			return
		}
		o := fixed(Options{From: "a@example.org", To: []string{"b@example.net"}, Data: "@@" + data,
			Headers: []string{"Subject: fuzz"}, AddHeaders: []string{"X-Fuzz: 1"}, Attach: []Attachment{{Path: "x"}}})
		m, err := Build(o)
		if err != nil {
			t.Fatalf("Build(%q): %v", data, err)
		}
		defer m.Close()
		b, err := io.ReadAll(m)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, b, m.Size)
		if m.Size < 0 {
			t.Fatalf("Size unknown for literal data")
		}
	})
}
