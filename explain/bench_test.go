package explain

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/smtpprobe/smtpprobe/diagnose"
)

// mixedLog builds n lines of a mail log: the refusals of the sample files
// diluted with the ordinary traffic that makes up most of a real log.
func mixedLog(tb testing.TB, n int) []byte {
	tb.Helper()
	var samples []string
	for _, name := range []string{"testdata/postfix.log", "testdata/exim.log", "testdata/sendmail.log"} {
		b, err := os.ReadFile(name)
		if err != nil {
			tb.Fatal(err)
		}
		samples = append(samples, strings.Split(strings.TrimSpace(string(b)), "\n")...)
	}
	ordinary := []string{
		"Jan 15 10:00:14 mail postfix/smtp[3329]: D29DAEBFC0: to=<judy@example.com>, relay=mx1.example.com[203.0.113.10]:25, delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 12345)",
		"Jan 15 10:00:01 mail postfix/smtpd[2211]: connect from client.example.net[198.51.100.7]",
		"Jan 15 10:00:02 mail postfix/qmgr[901]: 4F2A91C0A3B: from=<alice@example.org>, size=2345, nrcpt=1 (queue active)",
		"Jan 15 10:00:02 mail dovecot: imap-login: Login: user=<alice@example.org>, method=PLAIN, rip=198.51.100.7, lip=192.0.2.1, mpid=4242, TLS, session=<abcdef>",
		"Jan 15 10:00:02 mail CRON[4242]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)",
		"Jan 15 10:00:02 mail postfix/cleanup[3400]: 4F2A91C0A3B: message-id=<20240115100002.4F2A91C0A3B@example.org>",
	}
	var buf bytes.Buffer
	for i := range n {
		// About one line in ten is a refusal, as in a busy outbound relay.
		if i%10 == 0 {
			buf.WriteString(samples[(i/10)%len(samples)])
		} else {
			buf.WriteString(ordinary[i%len(ordinary)])
		}
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkScan(b *testing.B) {
	log := mixedLog(b, 100_000)
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	start := time.Now()
	lines := 0
	for b.Loop() {
		sc := NewScanner(bytes.NewReader(log))
		for sc.Scan() {
		}
		lines += sc.Lines()
	}
	b.ReportMetric(float64(lines)/time.Since(start).Seconds(), "lines/s")
}

// BenchmarkExplainSummary runs the whole `probe explain --summary` path
// with the real engine: scan, diagnose every refusal, aggregate and print.
func BenchmarkExplainSummary(b *testing.B) {
	log := mixedLog(b, 100_000)
	eng, err := diagnose.New()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(log)))
	b.ResetTimer()
	start := time.Now()
	lines := 0
	for b.Loop() {
		var errb bytes.Buffer
		code := Run(context.Background(), Options{Summary: true, Diagnoser: eng}, nil, bytes.NewReader(log), io.Discard, &errb)
		if code != 0 {
			b.Fatalf("exit %d: %s", code, errb.String())
		}
		lines += 100_000
	}
	b.ReportMetric(float64(lines)/time.Since(start).Seconds(), "lines/s")
}
