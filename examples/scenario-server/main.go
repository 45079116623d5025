// Command scenario-server serves one scenario of package scenario on a
// random loopback port until interrupted, so other tools (swaks, the
// benchmark scripts, a user trying the probe by hand) can talk to it:
//
//	go run ./examples/scenario-server -scenario submission-ok
//	127.0.0.1:40123
//
// It prints the address on the first line of standard output.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/smtpprobe/smtpprobe/examples/scenario"
)

func main() {
	name := flag.String("scenario", "ok", "scenario to serve (probe demo --list shows them)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := scenario.Start(ctx, *name, scenario.Options{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "scenario-server: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(srv.Addr)
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "scenario-server: %v\n", err)
		os.Exit(1)
	}
}
