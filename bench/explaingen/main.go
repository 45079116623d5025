// Command explaingen writes a realistic mixed mail log (Postfix, Exim and
// Sendmail deliveries and rejections among ordinary traffic and noise) for
// benchmarking `probe explain --summary`. The output is deterministic for a
// given seed.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

func main() {
	lines := flag.Int("lines", 1_000_000, "number of log lines to write")
	seed := flag.Uint64("seed", 1, "random seed")
	out := flag.String("o", "-", "output file (- for stdout)")
	flag.Parse()
	if err := run(*lines, *seed, *out); err != nil {
		fmt.Fprintf(os.Stderr, "explaingen: %v\n", err)
		os.Exit(1)
	}
}

func run(lines int, seed uint64, out string) error {
	var w io.Writer = os.Stdout
	if out != "-" {
		f, err := os.Create(out)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g := gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), t: newTables()}
	for i := range lines {
		g.line(bw, i)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

type gen struct {
	r *rand.Rand
	t tables
}

// template is a refusal: the enhanced code Postfix logs and the text, in
// which {rcpt}, {n} and {mx} are replaced.
type template struct{ dsn, text string }

// tables holds the vocabulary the generator draws from.
type tables struct {
	users, domains, mxs []string
	bounces, deferrals  []template
}

func newTables() tables {
	return tables{
		users:   []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank", "ivan", "judy", "ken", "lea", "max", "nina", "oscar", "paul"},
		domains: []string{"example.com", "example.net", "example.org", "gmail.com", "yahoo.com", "outlook.com", "example.info", "example.biz", "mail.example.de", "corp.example"},
		mxs: []string{"mx1.example.com[203.0.113.10]", "gmail-smtp-in.l.google.com[142.250.102.27]", "mta7.am0.yahoodns.net[67.195.204.72]",
			"example-com.mail.protection.outlook.com[52.101.8.49]", "mx.example.net[192.0.2.25]", "mx.example.org[198.51.100.20]", "mx.example.info[192.0.2.77]"},
		bounces: []template{
			{"5.7.1", "554 5.7.1 <{rcpt}>: Relay access denied (in reply to RCPT TO command)"},
			{"5.1.1", "550-5.1.1 The email account that you tried to reach does not exist. Please try 550-5.1.1 double-checking the recipient's email address for typos or 550-5.1.1 unnecessary spaces. For more information, go to 550 5.1.1  https://support.google.com/mail/?p=NoSuchUser a640c23a62f3a-a9si{n} - gsmtp (in reply to RCPT TO command)"},
			{"5.1.1", "550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table (in reply to RCPT TO command)"},
			{"5.7.1", "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/203.0.113.5 (in reply to RCPT TO command)"},
			{"5.2.2", "552 5.2.2 <{rcpt}>: Mailbox full (in reply to RCPT TO command)"},
			{"5.7.23", "550 5.7.23 The message was rejected because of Sender Policy Framework violation (in reply to end of DATA command)"},
			{"5.7.26", "550-5.7.26 This mail has been blocked because the sender is unauthenticated. 550-5.7.26 Gmail requires all senders to authenticate with either SPF or DKIM. 550 5.7.26 Authentication results: dkim=none spf=fail - gsmtp {n} (in reply to end of DATA command)"},
			{"5.3.4", "552 5.3.4 Message size exceeds fixed limit (in reply to end of DATA command)"},
			{"5.7.1", "550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). [AM0EUR02FT{n}.eop-EUR02.prod.protection.outlook.com] (in reply to MAIL FROM command)"},
			{"5.7.1", "554 5.7.1 Message rejected as spam by Content Filtering. (in reply to end of DATA command)"},
		},
		deferrals: []template{
			{"4.7.1", "host {mx} said: 451 4.7.1 Greylisted, see https://postgrey.schweikert.ch/help/example.com.html (in reply to RCPT TO command)"},
			{"4.7.0", "host {mx} said: 421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes (in reply to MAIL FROM command)"},
			{"4.4.1", "connect to {mx}:25: Connection timed out"},
			{"4.4.2", "conversation with {mx} timed out while receiving the initial server greeting"},
			{"4.4.2", "lost connection with {mx} while sending end of data -- message may be sent more than once"},
			{"4.2.2", "host {mx} said: 452 4.2.2 The email account that you tried to reach is over quota. (in reply to RCPT TO command)"},
		},
	}
}

func (g *gen) pick(s []string) string { return s[g.r.IntN(len(s))] }

func (g *gen) addr() string {
	return fmt.Sprintf("%s%d@%s", g.pick(g.t.users), g.r.IntN(5000), g.pick(g.t.domains))
}

func (g *gen) qid() string { return fmt.Sprintf("%X", g.r.Uint64()&0xFFFFFFFFFF) }

func (g *gen) line(w *bufio.Writer, i int) {
	sec := i / 40
	ts := fmt.Sprintf("Jan %2d %02d:%02d:%02d", 1+sec/86400%28, sec/3600%24, sec/60%60, sec%60)
	iso := fmt.Sprintf("2024-01-%02d %02d:%02d:%02d", 1+sec/86400%28, sec/3600%24, sec/60%60, sec%60)
	pid := 1000 + g.r.IntN(30000)
	p := g.r.IntN(1000)
	switch {
	case p < 380:
		mx := g.pick(g.t.mxs)
		fmt.Fprintf(w, "%s mail postfix/smtp[%d]: %s: to=<%s>, relay=%s:25, delay=0.%d, delays=0.1/0/0.2/0.3, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as %s)\n",
			ts, pid, g.qid(), g.addr(), mx, g.r.IntN(9), g.qid())
	case p < 480:
		fmt.Fprintf(w, "%s mail postfix/smtpd[%d]: connect from client%d.example.net[198.51.100.%d]\n", ts, pid, g.r.IntN(99), g.r.IntN(255))
	case p < 580:
		fmt.Fprintf(w, "%s mail postfix/qmgr[%d]: %s: from=<%s>, size=%d, nrcpt=1 (queue active)\n", ts, pid, g.qid(), g.addr(), 1000+g.r.IntN(90000))
	case p < 640:
		b := g.t.bounces[g.r.IntN(len(g.t.bounces))]
		mx := g.pick(g.t.mxs)
		to := g.addr()
		text := g.fill(b.text, to, mx)
		fmt.Fprintf(w, "%s mail postfix/smtp[%d]: %s: to=<%s>, relay=%s:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=%s, status=bounced (host %s said: %s)\n",
			ts, pid, g.qid(), to, mx, b.dsn, mx, text)
	case p < 700:
		d := g.t.deferrals[g.r.IntN(len(g.t.deferrals))]
		mx := g.pick(g.t.mxs)
		fmt.Fprintf(w, "%s mail postfix/smtp[%d]: %s: to=<%s>, relay=%s:25, delay=300, delays=0.1/0/300/0, dsn=%s, status=deferred (%s)\n",
			ts, pid, g.qid(), g.addr(), mx, d.dsn, g.fill(d.text, "", mx))
	case p < 730:
		fmt.Fprintf(w, "%s mail postfix/smtpd[%d]: NOQUEUE: reject: RCPT from unknown[198.51.100.%d]: 554 5.7.1 <%s>: Relay access denied; from=<spam@spammer.test> to=<%s> proto=ESMTP helo=<ylmf-pc>\n",
			ts, pid, g.r.IntN(255), "victim@example.com", "victim@example.com")
	case p < 770:
		fmt.Fprintf(w, "%s 1rP%03d-000%dAb-Cd => %s R=dnslookup T=remote_smtp H=mx.example.org [198.51.100.20] X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"250 2.0.0 Ok: queued as %s\"\n",
			iso, g.r.IntN(1000), g.r.IntN(10), g.addr(), g.qid())
	case p < 790:
		fmt.Fprintf(w, "%s 1rP%03d-000%dAb-Cd ** %s R=dnslookup T=remote_smtp H=mx1.example.com [203.0.113.10]: SMTP error from remote mail server after RCPT TO:<x@example.com>: 550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table\n",
			iso, g.r.IntN(1000), g.r.IntN(10), g.addr())
	case p < 800:
		fmt.Fprintf(w, "%s 1rP%03d-000%dAb-Cd == %s R=dnslookup T=remote_smtp defer (-44) H=mx.example.net [192.0.2.25]: SMTP error from remote mail server after pipelined RCPT TO:<y@example.net>: 451 4.7.1 Greylisted, please try again in 5 minutes\n",
			iso, g.r.IntN(1000), g.r.IntN(10), g.addr())
	case p < 810:
		fmt.Fprintf(w, "%s H=(ylmf-pc) [198.51.100.%d]:51234 F=<spam@spammer.test> rejected RCPT <%s>: relay not permitted\n", iso, g.r.IntN(255), g.addr())
	case p < 840:
		fmt.Fprintf(w, "%s mail sm-mta[%d]: %s: to=<%s>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120345, relay=mx.example.net. [192.0.2.25], dsn=2.0.0, stat=Sent (OK)\n",
			ts, pid, g.qid(), g.addr())
	case p < 850:
		fmt.Fprintf(w, "%s mail sm-mta[%d]: %s: to=<%s>, delay=00:00:01, xdelay=00:00:01, mailer=esmtp, pri=120345, relay=mx.example.info. [192.0.2.77], dsn=5.1.1, stat=User unknown\n",
			ts, pid, g.qid(), g.addr())
	case p < 920:
		fmt.Fprintf(w, "%s mail dovecot: imap-login: Login: user=<%s>, method=PLAIN, rip=198.51.100.%d, lip=192.0.2.1, mpid=%d, TLS, session=<%s>\n",
			ts, g.addr(), g.r.IntN(255), pid, g.qid())
	case p < 960:
		fmt.Fprintf(w, "%s mail postfix/cleanup[%d]: %s: message-id=<%s.%d@example.org>\n", ts, pid, g.qid(), g.qid(), g.r.IntN(1e6))
	default:
		fmt.Fprintf(w, "%s mail CRON[%d]: (root) CMD (   cd / && run-parts --report /etc/cron.hourly)\n", ts, pid)
	}
}

// fill replaces the placeholders of a template.
func (g *gen) fill(text, rcpt, mx string) string {
	return strings.NewReplacer("{rcpt}", rcpt, "{mx}", mx, "{n}", strconv.Itoa(g.r.IntN(1_000_000))).Replace(text)
}
