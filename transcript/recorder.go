package transcript

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Redacted is the visible placeholder that replaces a secret in every output.
const Redacted = "[redacted]"

// Recorder collects the events of one session. It is safe for concurrent
// use because Ctrl-C handling and the session driver may both write to it.
//
// Secrets registered with AddSecret are scrubbed from every event text,
// including error messages, unless ShowSecrets is set: the driver marks
// the AUTH lines it knows about, and this second net catches a password
// echoed by a server or quoted in an error.
type Recorder struct {
	mu          sync.Mutex
	start       time.Time
	now         func() time.Time
	events      []Event
	secrets     []string
	showSecrets bool
	sink        func(Event)

	// Message body bookkeeping: a 200 MB message must not grow the
	// transcript, so only its first lines are kept.
	inBody        bool
	bodyLines     int
	bodyBytes     int64
	bodyHidden    int
	bodyShowLines int
}

// RecorderOptions configures a Recorder.
type RecorderOptions struct {
	Now         func() time.Time // clock; time.Now when nil
	ShowSecrets bool             // keep secrets in clear (explicit user request)
	Sink        func(Event)      // called with every event as it is recorded (live output)
	// BodyLines is how many lines of the message body are kept in the
	// transcript; the rest are counted. 0 means the default (100);
	// negative hides the whole body (swaks's --suppress-data).
	BodyLines int
}

// NewRecorder starts a recorder whose clock starts now.
func NewRecorder(opts RecorderOptions) *Recorder {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	bl := opts.BodyLines
	if bl == 0 {
		bl = 100
	}
	return &Recorder{start: now(), now: now, showSecrets: opts.ShowSecrets, sink: opts.Sink, bodyShowLines: bl}
}

// Start is the time the recording started.
func (r *Recorder) Start() time.Time { return r.start }

// Since is the time elapsed since the recording started.
func (r *Recorder) Since() time.Duration { return r.now().Sub(r.start) }

// AddSecret registers a secret; it and its base64 form are scrubbed from
// every later event. Short values are ignored: scrubbing "a" would mangle
// the whole transcript while protecting nothing.
func (r *Recorder) AddSecret(s string) {
	if len(s) < 3 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, s, base64.StdEncoding.EncodeToString([]byte(s)))
}

// Scrub replaces registered secrets in s (unless secrets are shown).
func (r *Recorder) Scrub(s string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scrubLocked(s)
}

func (r *Recorder) scrubLocked(s string) string {
	if r.showSecrets {
		return s
	}
	for _, sec := range r.secrets {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, Redacted)
		}
	}
	return s
}

// ShowSecrets reports whether secrets are kept in clear.
func (r *Recorder) ShowSecrets() bool { return r.showSecrets }

func (r *Recorder) add(e Event) {
	r.mu.Lock()
	e.At = r.now().Sub(r.start)
	e.Text = r.scrubLocked(e.Text)
	r.events = append(r.events, e)
	sink := r.sink
	r.mu.Unlock()
	if sink != nil {
		sink(e)
	}
}

// Infof records an information line.
func (r *Recorder) Infof(format string, args ...any) {
	r.add(Event{Dir: Info, Text: fmt.Sprintf(format, args...)})
}

// Errorf records an error line.
func (r *Recorder) Errorf(format string, args ...any) {
	r.add(Event{Dir: Error, Text: fmt.Sprintf(format, args...)})
}

// Sent records a command line sent to the server.
func (r *Recorder) Sent(tls bool, line string) {
	r.add(Event{Dir: Send, TLS: tls, Text: line})
}

// SentSecret records a line that carries a secret: redacted is shown
// instead unless the user asked to see secrets.
func (r *Recorder) SentSecret(tls bool, line, redacted string) {
	if !r.showSecrets {
		line = redacted
	}
	r.add(Event{Dir: Send, TLS: tls, Text: line})
}

// Received records a reply line; unexpected marks lines of an error reply.
func (r *Recorder) Received(tls bool, line string, unexpected bool) {
	r.add(Event{Dir: Recv, TLS: tls, Text: line, Unexpected: unexpected})
}

// BeginBody starts the message body: lines past the configured count are
// only counted.
func (r *Recorder) BeginBody() {
	r.mu.Lock()
	r.inBody, r.bodyLines, r.bodyBytes, r.bodyHidden = true, 0, 0, 0
	r.mu.Unlock()
}

// BodyLine records one line of the message body as sent.
func (r *Recorder) BodyLine(tls bool, line string) {
	r.mu.Lock()
	r.bodyLines++
	r.bodyBytes += int64(len(line)) + 2
	keep := r.inBody && r.bodyShowLines > 0 && r.bodyLines <= r.bodyShowLines
	if !keep {
		r.bodyHidden++
	}
	r.mu.Unlock()
	if keep {
		r.add(Event{Dir: Send, TLS: tls, Text: line})
	}
}

// EndBody closes the body and records how much was not shown.
func (r *Recorder) EndBody(tls bool) {
	r.mu.Lock()
	hidden, lines, bytes := r.bodyHidden, r.bodyLines, r.bodyBytes
	r.inBody = false
	r.mu.Unlock()
	if hidden > 0 {
		r.add(Event{Dir: Send, TLS: tls, Text: fmt.Sprintf("[%d of %d message lines (%d bytes in all) not shown]", hidden, lines, bytes)})
	}
}

// Events returns a copy of the events recorded so far.
func (r *Recorder) Events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}
