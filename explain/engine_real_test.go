//go:build enginebench

package explain

import (
	"fmt"
	"testing"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

const engineName = "diagnose"

// benchEngine returns the real diagnose engine.
func benchEngine(tb testing.TB) Diagnoser {
	eng, err := diagnose.New()
	if err != nil {
		tb.Fatalf("diagnose.New: %v", err)
	}
	return eng
}

func fmtSscanLines(s string, n *int) (int, error) { return fmt.Sscanf(s, "Scanned %d lines", n) }
