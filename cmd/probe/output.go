package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/smtpprobe/smtpprobe/transcript"
)

// output is where a run's output goes: standard output, or a file that
// appears only complete. A file's content is kept in memory until commit,
// which writes a temporary file in the target's folder and renames it over
// the target: a failure, a timeout or Ctrl-C never leaves a half-written
// file, and since nothing is on disk before commit, not even a kill -9
// leaves a temporary file behind.
//
// The same type serves every file option: newOutput for --output (stdout
// when no path is given), newFileOutput for a file only (e.g. --report).
// Both check the path before the session starts, so a path that cannot be
// written is a usage error (exit 1) before any connection.
type output struct {
	w    io.Writer // where renderers write (maybe colouring)
	flag string    // the option, for error messages ("--output")
	path string    // "" for standard output
	buf  *bytes.Buffer
	// flush ends a colouring writer (its last partial line).
	flush func() error
}

// newOutput is --output: the file at path, or stdout when path is "".
func newOutput(path string, stdout io.Writer) (*output, error) {
	if path == "" {
		return &output{w: stdout, flag: "--output"}, nil
	}
	return newFileOutput("--output", path)
}

// newFileOutput checks now that path can be written and returns an output
// that keeps what is written until commit. flag names the option in
// errors ("--report"). An empty path returns nil, nil: the option was not
// given (every method of a nil *output does nothing).
func newFileOutput(flag, path string) (*output, error) {
	if path == "" {
		return nil, nil
	}
	if err := checkOutputPath(path); err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	buf := &bytes.Buffer{}
	return &output{w: buf, flag: flag, path: path, buf: buf}, nil
}

// render is the one call for a file rendered at the end, such as
// the --report ticket: render into the checked output and commit it.
func (o *output) render(write func(io.Writer) error) error {
	if o == nil {
		return nil
	}
	if err := write(o.w); err != nil {
		return fmt.Errorf("%s %s: %w", o.flag, o.path, err)
	}
	return o.commit()
}

// checkOutputPath refuses, before anything is sent, what commit could not
// do: a missing folder, a folder where a file is wanted, a read-only file
// and a folder where no file can be created.
func checkOutputPath(path string) error {
	if inPlace(path) {
		// Standard output or error, or a pipe: asked for in place, never
		// by opening a FIFO for writing (it would wait for a reader).
		return nil
	}
	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	dir := filepath.Dir(target)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("folder %s does not exist", dir)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s is not a folder", dir)
	}
	if fi, err := os.Stat(target); err == nil {
		switch {
		case fi.IsDir():
			return errors.New("is a folder; give a file name")
		case !fi.Mode().IsRegular():
			// A device or a pipe is written in place: renaming over it
			// would replace it. A FIFO without a reader would block an
			// open for writing, so only its mode is looked at.
			if fi.Mode()&fs.ModeNamedPipe != 0 {
				return nil
			}
			f, err := os.OpenFile(target, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			return f.Close()
		case fi.Mode().Perm()&0o222 == 0:
			// Renaming over a read-only file would work (only the folder
			// is asked), and silently replace what the user protected.
			return errors.New("the file is read-only")
		}
		f, err := os.OpenFile(target, os.O_WRONLY, 0) // no O_TRUNC: only asks
		if err != nil {
			return err
		}
		f.Close()
	}
	f, err := os.CreateTemp(dir, ".probe-check-*")
	if err != nil {
		return fmt.Errorf("cannot create a file in %s: %w", dir, unwrapPathError(err))
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// inPlace reports whether path names this process's standard output or
// error (/dev/stdout, /dev/fd/N, /proc/self/fd/N, or the very file they are
// redirected to): following its links to the file behind it and renaming
// over that would replace what the shell redirect is writing, so such a
// path is appended to in place.
func inPlace(path string) bool {
	clean := filepath.Clean(path)
	for _, prefix := range []string{"/dev/stdout", "/dev/stderr", "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/"} {
		if clean == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(clean, prefix) {
			return true
		}
	}
	if strings.HasPrefix(clean, "/proc/") && strings.Contains(clean, "/fd/") {
		return true
	}
	fi, err := os.Stat(path)
	if err != nil {
		return false
	}
	for _, std := range []*os.File{os.Stdout, os.Stderr} {
		if sfi, err := std.Stat(); err == nil && os.SameFile(fi, sfi) {
			return true
		}
	}
	return false
}

// writeInPlace appends data to path without replacing it; standard
// output and error are written through their own descriptors, so what the
// process wrote there before and after stays in order.
func writeInPlace(path string, data []byte) error {
	if fi, err := os.Stat(path); err == nil {
		for _, std := range []*os.File{os.Stdout, os.Stderr} {
			if sfi, err := std.Stat(); err == nil && os.SameFile(fi, sfi) {
				_, err := std.Write(data)
				return err
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// resolveTarget follows a symbolic link: the file written is the one it
// points to, the link stays.
func resolveTarget(path string) (string, error) {
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		return path, nil
	}
	t, err := filepath.EvalSymlinks(path)
	if errors.Is(err, fs.ErrNotExist) {
		// A dangling link: write where it points.
		l, lerr := os.Readlink(path)
		if lerr != nil {
			return "", lerr
		}
		if !filepath.IsAbs(l) {
			l = filepath.Join(filepath.Dir(path), l)
		}
		return l, nil
	}
	return t, err
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// colorize colours the text written to standard output when it is a
// terminal and colour is allowed (never for a file, JSON or Markdown:
// the caller passes text only).
func (o *output) colorize(io stdio) {
	o.colorizeWith(io, transcript.LineColor)
}

// colorizeWith is colorize with another line classifier (relay-check's
// table).
func (o *output) colorizeWith(io stdio, classify func(string) string) {
	if o == nil || o.path != "" || !io.colorOn(io.outTerminal) {
		return
	}
	cw := transcript.NewColorWriterFunc(o.w, classify)
	o.w, o.flush = cw, cw.Flush
}

// relayCheckColor colours relay-check's text: a row by its verdict
// (FAIL red, WARN yellow, PASS green), the closing verdict line, and the
// transcript markers as in a session.
func relayCheckColor(line string) string {
	if f := strings.Fields(line); len(f) >= 2 && !strings.HasPrefix(line, " ") {
		switch f[1] {
		case "FAIL":
			return transcript.StyleFailure
		case "WARN":
			return transcript.StyleWarning
		case "PASS":
			return transcript.StyleSuccess
		}
	}
	if strings.HasPrefix(line, "=== ") && strings.Contains(line, " checks: ") {
		switch {
		case strings.Contains(line, "verdict FAIL"):
			return transcript.StyleFailure
		case strings.Contains(line, "verdict WARN"):
			return transcript.StyleWarning
		case strings.Contains(line, "verdict PASS"):
			return transcript.StyleSuccess
		}
	}
	return transcript.LineColor(line)
}

// discard drops what was written for a file that will not be written
// (a usage error found after the output was opened).
func (o *output) discard() {
	if o != nil && o.buf != nil {
		o.buf.Reset()
	}
}

// commit writes the file: a temporary file beside the target, synced,
// then renamed over it. On standard output it only flushes.
func (o *output) commit() error {
	if o == nil {
		return nil
	}
	if o.flush != nil {
		if err := o.flush(); err != nil {
			return err
		}
	}
	if o.path == "" {
		return nil
	}
	if err := writeAtomic(o.path, o.buf.Bytes()); err != nil {
		return fmt.Errorf("%s %s: %w", o.flag, o.path, err)
	}
	return nil
}

// writeAtomic replaces path with data, or writes into it in place when it
// is a device or a pipe. An existing file keeps its permissions; a new one
// is private (0600), as a transcript may name accounts and hosts.
func writeAtomic(path string, data []byte) error {
	if inPlace(path) {
		return writeInPlace(path, data)
	}
	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(target); err == nil {
		if !fi.Mode().IsRegular() {
			f, err := os.OpenFile(target, os.O_WRONLY, 0)
			if err != nil {
				return err
			}
			_, err = f.Write(data)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			return err
		}
		mode = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
