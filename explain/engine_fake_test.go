//go:build !enginebench

package explain

import (
	"fmt"
	"testing"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

const engineName = "fake"

// benchEngine is the stand-in engine; build with -tags enginebench to
// measure with the real diagnose engine.
func benchEngine(testing.TB) Diagnoser { return &countingEngine{} }

// countingEngine is fakeEngine without the recording, so a benchmark's
// memory stays flat.
type countingEngine struct{ fakeEngine }

func (e *countingEngine) Diagnose(in diagnose.Input) diagnose.Diagnosis {
	d := e.fakeEngine.Diagnose(in)
	e.inputs = e.inputs[:0]
	return d
}

func fmtSscanLines(s string, n *int) (int, error) { return fmt.Sscanf(s, "Scanned %d lines", n) }
