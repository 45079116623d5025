package dnstest_test

import (
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/smtpprobe/smtpprobe/mxlookup/dnstest"
)

// SetDelay holds every answer (found, NXDOMAIN, SERVFAIL; UDP and TCP)
// for the delay, answers concurrent queries each after its own wait, and
// can be changed back to 0 while the server runs.
func TestServerDelay(t *testing.T) {
	const delay = 150 * time.Millisecond
	srv := dnstest.NewServer(t, dnstest.Zone{
		"a.test.":    {A: []string{"192.0.2.1"}},
		"fail.test.": {ServFail: true},
	})
	srv.SetDelay(delay)
	for _, tc := range []struct {
		network, name string
		rcode         int
	}{
		{"udp", "a.test.", dns.RcodeSuccess},
		{"tcp", "a.test.", dns.RcodeSuccess},
		{"udp", "missing.test.", dns.RcodeNameError},
		{"udp", "fail.test.", dns.RcodeServerFailure},
	} {
		start := time.Now()
		resp := query(t, srv.Addr, tc.network, tc.name, dns.TypeA, false)
		if took := time.Since(start); took < delay {
			t.Errorf("%s over %s answered after %v, before the %v delay", tc.name, tc.network, took, delay)
		}
		if resp.Rcode != tc.rcode {
			t.Errorf("%s over %s: rcode %s, want %s", tc.name, tc.network, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
		}
	}

	// Eight queries at once wait side by side, not one after the other
	// (that would take 8 x 150 ms = 1.2 s).
	const n = 8
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			m := new(dns.Msg)
			m.SetQuestion("a.test.", dns.TypeA)
			if _, _, err := new(dns.Client).Exchange(m, srv.Addr); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent query: %v", err)
	}
	if took := time.Since(start); took < delay || took > n*delay/2 {
		t.Errorf("%d concurrent queries took %v; want about one delay (%v)", n, took, delay)
	}

	srv.SetDelay(0)
	start = time.Now()
	query(t, srv.Addr, "udp", "a.test.", dns.TypeA, false)
	if took := time.Since(start); took >= delay {
		t.Errorf("after SetDelay(0) the answer took %v", took)
	}
}

// Close does not wait out a long delay: the query in flight is dropped.
func TestServerDelayClose(t *testing.T) {
	srv, err := dnstest.Serve(dnstest.Zone{"a.test.": {A: []string{"192.0.2.1"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv.SetDelay(time.Hour)
	go func() {
		m := new(dns.Msg)
		m.SetQuestion("a.test.", dns.TypeA)
		c := &dns.Client{Timeout: 5 * time.Second}
		_, _, _ = c.Exchange(m, srv.Addr)
	}()
	for deadline := time.Now().Add(5 * time.Second); len(srv.Queries()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the query never arrived")
		}
	}
	start := time.Now()
	srv.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v with an answer delayed by an hour", took)
	}
	srv.Close() // twice is harmless
}
