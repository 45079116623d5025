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

// Probe a server and act on the diagnosis: here the scenario server that
// refuses to relay, as most MXs do for mail that is not theirs.
func Example_probeAndDiagnose() {
	srv, err := scenario.Start(context.Background(), "relay-denied", scenario.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	host, port, _ := strings.Cut(srv.Addr, ":")
	var portNum int
	fmt.Sscan(port, &portNum)

	report, err := probe.Run(context.Background(), probe.Options{
		Server: host, Port: portNum, TLSMode: smtpclient.TLSNone, TLSModeSet: true,
		From: "alice@example.com", To: []string{"bob@example.net"}, EHLO: "client.example",
		Engine: &diagnose.Lazy{}, ToolName: "example",
	})
	if err != nil {
		fmt.Println("usage:", err)
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
	srv, err := scenario.Start(context.Background(), "ok", scenario.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	host, port, _ := strings.Cut(srv.Addr, ":")
	var portNum int
	fmt.Sscan(port, &portNum)
	report, err := probe.Run(context.Background(), probe.Options{
		Server: host, Port: portNum, TLSMode: smtpclient.TLSNone, TLSModeSet: true,
		From: "alice@example.com", To: []string{"bob@example.net"}, EHLO: "client.example", ToolName: "example",
	})
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
