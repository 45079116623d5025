// Package transcript holds the event model of a probe session (time,
// direction, inside-TLS flag, text), the session report built from it, and
// its renderers: swaks-like text, JSON and Markdown. Secrets are redacted
// when an event is recorded, so no renderer can leak them.
package transcript

import "time"

// Direction says which way an event went.
type Direction string

const (
	Info  Direction = "info"  // "=== " information from the probe
	Send  Direction = "send"  // " -> " / " ~> " bytes sent
	Recv  Direction = "recv"  // "<-  " / "<~  " bytes received
	Error Direction = "error" // "*** " an error of the probe
)

// Event is one transcript line.
type Event struct {
	At   time.Duration // since the session started
	Dir  Direction
	TLS  bool   // sent or received inside TLS
	Text string // one line without CRLF; secrets already replaced; may hold control bytes (renderers escape them)
	// Unexpected marks a received line of an error reply (rendered "<** ").
	Unexpected bool
}

// Marker returns the swaks-like prefix of the event in text output.
func (e Event) Marker() string {
	switch e.Dir {
	case Send:
		if e.TLS {
			return " ~> "
		}
		return " -> "
	case Recv:
		if e.Unexpected {
			return "<** "
		}
		if e.TLS {
			return "<~  "
		}
		return "<-  "
	case Error:
		return "*** "
	default:
		return "=== "
	}
}
