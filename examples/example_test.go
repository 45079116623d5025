// Package examples holds runnable examples of smtpprobe used as a library,
// beside the scenario server (examples/scenario) that `probe demo` and the
// tests probe, and the golden transcripts (examples/transcripts).
package examples_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/smtpprobe/smtpprobe/diagnose"
	"github.com/smtpprobe/smtpprobe/examples/scenario"
	"github.com/smtpprobe/smtpprobe/probe"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// probeScenario starts a scenario server and probes it as a library user
// would: probe.Run with the server's address (probe.SplitServer reads it).
func probeScenario(name string, engine probe.Diagnoser) (*transcript.Report, error) {
	srv, err := scenario.Start(context.Background(), name, scenario.Options{})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	return probe.Run(context.Background(), probe.Options{
		Server: srv.Addr, TLSMode: smtpclient.TLSNone, TLSModeSet: true,
		From: "alice@example.com", To: []string{"bob@example.net"}, EHLO: "client.example",
		Engine: engine, ToolName: "example",
	})
}

// Probe a server and act on the diagnosis: here the scenario server that
// refuses to relay, as most MXs do for mail that is not theirs.
func Example_probeAndDiagnose() {
	report, err := probeScenario("relay-denied", &diagnose.Lazy{})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := report.Result
	fmt.Printf("exit %d at %s: %s\n", r.ExitCode, r.Phase, r.Reply.Lines[0])
	fmt.Printf("%s, who acts: %s\n", report.Diagnosis.Category, report.Diagnosis.Party)
	// Output:
	// exit 24 at rcpt: 554 5.7.1 <bob@example.net>: Relay access denied
	// relay-denied, who acts: sender
}

// Explain a reply pasted from a bounce, without any session.
func Example_explainReply() {
	engine, err := diagnose.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	d := engine.Diagnose(diagnose.Input{
		Lines: []string{"550-5.7.26 This mail has been blocked because the sender is unauthenticated.",
			"550 5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM."},
		Phase: diagnose.PhaseEndOfData,
	})
	fmt.Println(d.Category, d.Party, d.Permanent)
	// Output: dmarc-policy sender true
}

// Render a session for a support ticket.
func Example_markdown() {
	report, err := probeScenario("ok", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var b strings.Builder
	if err := transcript.WriteMarkdown(&b, report, transcript.TextOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.Contains(b.String(), "### Transcript"), report.Result.OK)
	// Output: true true
}
