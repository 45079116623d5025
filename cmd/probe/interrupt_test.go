package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// probeBinary builds the command for the tests that need a real process
// (signals), in the test's temporary folder.
func probeBinary(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "probe")
	if out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return path
}

// stallServer accepts connections and never says anything; accepted gets
// one value per connection.
func stallServer(t *testing.T) (addr string, accepted chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = make(chan struct{}, 16)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String(), accepted
}

// TestInterruptWritesOutputs signals a probe that waits for a banner that
// never comes: it exits 130 (SIGINT) or 143 (SIGTERM), its --output file
// is complete, says interrupted (result.interrupted in JSON), and no
// temporary file is left in the folder.
func TestInterruptWritesOutputs(t *testing.T) {
	bin := probeBinary(t)
	for _, tc := range []struct {
		name   string
		sig    syscall.Signal
		code   int
		format string
	}{
		{"SIGINT json", syscall.SIGINT, 130, "--json"},
		{"SIGTERM json", syscall.SIGTERM, 143, "--json"},
		{"SIGINT text", syscall.SIGINT, 130, ""},
		{"SIGTERM text", syscall.SIGTERM, 143, ""},
		{"SIGTERM markdown", syscall.SIGTERM, 143, "--markdown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, accepted := stallServer(t)
			dir := t.TempDir()
			path := filepath.Join(dir, "session.out")
			reportPath := filepath.Join(dir, "ticket.md")
			args := []string{"-s", addr, "-t", "a@b.test", "--timeout", "60s", "--output", path, "--report", reportPath}
			if tc.format != "" {
				args = append(args, tc.format)
			}
			cmd := exec.Command(bin, args...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			select {
			case <-accepted:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the probe never connected")
			}
			time.Sleep(100 * time.Millisecond) // let it reach the banner read
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the probe did not end after the signal")
			}
			if got := cmd.ProcessState.ExitCode(); got != tc.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", got, tc.code, stdout.String(), stderr.String())
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("--output not written: %v", err)
			}
			out := string(b)
			if !strings.Contains(out, "nterrupted") {
				t.Fatalf("output does not say interrupted:\n%s", out)
			}
			sigName := map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM"}[tc.sig]
			if !strings.Contains(out, sigName) {
				t.Fatalf("output does not name %s:\n%s", sigName, out)
			}
			if tc.format == "--json" {
				var r struct {
					Result struct {
						OK          bool `json:"ok"`
						ExitCode    int  `json:"exit_code"`
						Interrupted bool `json:"interrupted"`
					} `json:"result"`
					Transcript []any `json:"transcript"`
				}
				if err := json.Unmarshal(b, &r); err != nil {
					t.Fatalf("not valid JSON: %v\n%s", err, out)
				}
				if !r.Result.Interrupted || r.Result.OK || r.Result.ExitCode != tc.code || len(r.Transcript) == 0 {
					t.Fatalf("result %+v (%d events), want interrupted with exit %d", r.Result, len(r.Transcript), tc.code)
				}
			}
			ticket, err := os.ReadFile(reportPath)
			if err != nil || !strings.HasPrefix(string(ticket), "# Interrupted") || !strings.Contains(string(ticket), "## Transcript") {
				t.Fatalf("--report after %s: %v\n%s", tc.name, err, ticket)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 2 {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("files left in the folder: %q", names)
			}
		})
	}
}

// TestOutputFileWrittenOnFailure: a refused session and a timed-out one
// still write their --output file.
func TestOutputFileWrittenOnFailure(t *testing.T) {
	h, p := startScenario(t, "relay-denied")
	dir := t.TempDir()
	path := filepath.Join(dir, "refused.json")
	code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--json", "--output", path)
	if code == 0 {
		t.Fatalf("exit 0, want a refusal: %s", errOut)
	}
	if b, err := os.ReadFile(path); err != nil || decode(t, string(b)).Result.ExitCode != code {
		t.Fatalf("refused session: --output %v", err)
	}
	addr, _ := stallServer(t)
	host, port, _ := strings.Cut(addr, ":")
	path = filepath.Join(dir, "timeout.txt")
	code, _, _ = runCLI(t, "", "-s", host, "-p", port, "-t", "a@b.test", "--timeout", "300ms", "--output", path)
	b, err := os.ReadFile(path)
	if code != 21 || err != nil || !strings.Contains(string(b), "*** Session failed at BANNER") {
		t.Fatalf("timeout: exit %d, --output %v:\n%s", code, err, b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Fatalf("files in the folder: %v", entries)
	}
}

// TestOutputPathRefusedBeforeConnecting: a path that cannot be written is
// a usage error naming it, found before any connection, and nothing is
// changed on disk.
func TestOutputPathRefusedBeforeConnecting(t *testing.T) {
	addr, accepted := stallServer(t)
	host, port, _ := strings.Cut(addr, ":")
	dir := t.TempDir()
	readOnly := filepath.Join(dir, "protected.json")
	if err := os.WriteFile(readOnly, []byte("keep me"), 0o444); err != nil {
		t.Fatal(err)
	}
	folder := filepath.Join(dir, "a-folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"missing folder": filepath.Join(dir, "missing", "out.json"),
		"a folder":       folder,
		"read-only file": readOnly,
	}
	if os.Geteuid() != 0 { // root writes into a read-only folder anyway
		locked := filepath.Join(dir, "locked")
		if err := os.Mkdir(locked, 0o555); err != nil {
			t.Fatal(err)
		}
		cases["read-only folder"] = filepath.Join(locked, "out.json")
	}
	for name, path := range cases {
		for _, sub := range [][]string{nil, {"relay-check"}} {
			args := append(append([]string{}, sub...), "-s", host, "-p", port, "--output", path)
			if sub == nil {
				args = append(args, "-t", "a@b.test")
			}
			code, out, errOut := runCLI(t, "", args...)
			if code != 1 || !strings.Contains(errOut, path) {
				t.Errorf("%s %v: exit %d, want 1 naming %s\n%s\n%s", name, sub, code, path, out, errOut)
			}
		}
	}
	select {
	case <-accepted:
		t.Fatal("the probe connected before refusing the output path")
	default:
	}
	if b, _ := os.ReadFile(readOnly); string(b) != "keep me" {
		t.Fatalf("read-only file changed: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
}

// TestOutputKeepsModeAndFollowsLinks: replacing a file keeps its
// permissions; a symbolic link stays a link to the new content.
func TestOutputKeepsModeAndFollowsLinks(t *testing.T) {
	h, p := startScenario(t, "ok")
	dir := t.TempDir()
	target := filepath.Join(dir, "real.json")
	if err := os.WriteFile(target, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.json")
	if err := os.Symlink("real.json", link); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "", "-s", h, "-p", p, "-t", "a@b.test", "--json", "--output", link); code != 0 {
		t.Fatalf("exit %d %s", code, errOut)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("link replaced: %v %v", fi.Mode(), err)
	}
	b, _ := os.ReadFile(target)
	decode(t, string(b))
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
}

// TestFileOutputRender is the API of a second output file (--report):
// newFileOutput checks the path at once and names the option; render
// writes the finished file atomically; a nil output (option not given)
// does nothing.
func TestFileOutputRender(t *testing.T) {
	dir := t.TempDir()
	if _, err := newFileOutput("--report", filepath.Join(dir, "missing", "r.md")); err == nil || !strings.Contains(err.Error(), "--report "+filepath.Join(dir, "missing", "r.md")) {
		t.Fatalf("missing folder: %v", err)
	}
	none, err := newFileOutput("--report", "")
	if none != nil || err != nil {
		t.Fatalf("no path: %v %v", none, err)
	}
	if err := none.render(func(w io.Writer) error { t.Fatal("rendered without a path"); return nil }); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "r.md")
	rep, err := newFileOutput("--report", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Fatal("file written before render")
	}
	if err := rep.render(func(w io.Writer) error { _, err := io.WriteString(w, "# report\n"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "# report\n" {
		t.Fatalf("content %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("files: %v", entries)
	}
}
