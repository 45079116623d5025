package transcript

import (
	"bytes"
	"strings"
	"testing"
)

func TestLineColor(t *testing.T) {
	for line, want := range map[string]string{
		"*** Session failed at RCPT (exit 24: no RCPT accepted)": colorBoldRed,
		"*** Interrupted by SIGINT (exit 130): ...":              colorBoldRed,
		"*** cannot connect to 192.0.2.1:25":                     colorRed,
		"<** 554 5.7.1 Relay access denied":                      colorRed,
		"=== Session succeeded (exit 0): accepted":               colorBoldGrn,
		"=== Session succeeded, but 1 recipient(s) were refused": colorBoldYell,
		" -> EHLO client.example":                                colorCyan,
		" ~> MAIL FROM:<a@b.test>":                               colorCyan,
		"<-  220 mx ESMTP":                                       colorYellow,
		"<~  250 ok":                                             colorYellow,
		"[+  0.012s] <-  220 mx ESMTP":                           colorYellow,
		"=== Trying 192.0.2.1:25...":                             "",
		"    reply:     554 5.7.1":                               "",
	} {
		if got := LineColor(line); got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
}

// TestColorWriter colours whole lines however the text is split, and
// Flush writes a last line without newline.
func TestColorWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewColorWriter(&b)
	for _, part := range []string{"<-  22", "0 hi\n -> QUIT\n", "plain\n", "*** err"} {
		if _, err := w.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(b.String(), "err") {
		t.Fatal("partial line written before its end")
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := colorYellow + "<-  220 hi" + colorReset + "\n" + colorCyan + " -> QUIT" + colorReset + "\nplain\n" + colorRed + "*** err" + colorReset
	if b.String() != want {
		t.Fatalf("got %q\nwant %q", b.String(), want)
	}
}
