package probe

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smtpprobe/smtpprobe/compose"
	"github.com/smtpprobe/smtpprobe/dkimsign"
	"github.com/smtpprobe/smtpprobe/dnsclient"
	"github.com/smtpprobe/smtpprobe/mxlookup"
	"github.com/smtpprobe/smtpprobe/smtpclient"
	"github.com/smtpprobe/smtpprobe/transcript"
)

// Bounds of an all-MX run (--all-mx).
const (
	// DefaultAllMXParallel is how many sessions run at once by default
	// (--all-mx-parallel).
	DefaultAllMXParallel = 8
	// MaxAllMXParallel bounds --all-mx-parallel: more connections at once
	// to one domain's servers look like an attack and trip rate limits.
	MaxAllMXParallel = 64
	// MaxAllMXAddresses bounds the addresses probed in one run; the rest
	// are counted in the report (mx_skipped).
	MaxAllMXAddresses = 64
)

// RunAllMX runs the session of o against every address (A and AAAA, as
// o.Network allows) of every MX host of the first recipient's domain (or
// of the -s host), at most parallel sessions at once, and reports them
// side by side: Report.MXMatrix, MXDifferences, MXSummary. The MX and the
// addresses are resolved once; the message is built once and each session
// reads its own copy. The top-level result, diagnosis, target, steps and
// tls are those of the most preferred address that failed (exit 0 only
// when every address succeeded), or of an interrupted session (130).
//
// The error is non-nil only for usage errors (parallel out of 1 to
// MaxAllMXParallel among them); DNS failures end in the report, as in Run.
func RunAllMX(ctx context.Context, o Options, parallel int) (*transcript.Report, error) {
	if parallel < 1 || parallel > MaxAllMXParallel {
		return nil, usage("--all-mx-parallel %d: want 1 to %d sessions at once", parallel, MaxAllMXParallel)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if err := validate(&o); err != nil {
		return nil, err
	}
	host, port, mode, err := Endpoint(o)
	if err != nil {
		return nil, err
	}
	quitAfter, err := smtpclient.NormalizeQuitAfter(o.QuitAfter)
	if err != nil {
		return nil, &UsageError{Err: err}
	}
	dropAfter := ""
	if o.DropAfter != "" {
		if dropAfter, err = smtpclient.NormalizeDropAfter(o.DropAfter); err != nil {
			return nil, &UsageError{Err: err}
		}
	}
	if _, err := tlsConfig(o); err != nil {
		return nil, err
	}
	userDNS := o.DNSServer != "" || o.Resolver != nil // asked for, not the default resolver
	if o.Resolver == nil {
		if o.Resolver, err = mxlookup.NewResolver(o.DNSServer); err != nil {
			return nil, &UsageError{Err: fmt.Errorf("--dns-server: %w", err)}
		}
	}
	for _, z := range o.DNSBLZones {
		if err := validZone(z); err != nil {
			return nil, usage("--dnsbl %q: %v", z, err)
		}
	}
	// One set of sender checks for the whole run: every address is
	// reached from the same side, so the checks are made once (the first
	// connection starts them) and judged with the chosen address's
	// diagnosis.
	dnsr, _ := o.Resolver.(dnsclient.Resolver)
	shared := newSenderChecks(ctx, o, dnsr)
	shared.mayQuery = userDNS
	defer shared.cancel()
	o.sharedChecks = shared
	sh := runShared{port: port, mode: mode, source: "server"}
	if sendsMessage(quitAfter, dropAfter) {
		if sh.msg, err = buildShared(ctx, o); err != nil {
			return nil, err
		}
		defer sh.msg.close()
		if sh.msg.dkim != nil {
			shared.startDKIM(*sh.msg.dkim)
		}
	}

	rec, report := newRun(o, host, port, mode)
	report.MXMatrix, report.MXDifferences = []transcript.MXEntry{}, []string{}
	if sh.msg != nil && sh.msg.dkim != nil {
		k := sh.msg.dkim
		rec.Infof("DKIM: signing as d=%s s=%s with a %s key; checking %s._domainkey.%s", k.Domain, k.Selector, dkimsign.KeyDescription(k.Signer), k.Selector, k.Domain)
	}
	hosts := []smtpclient.Host{{Name: host}}
	if host == "" {
		lookup := o
		lookup.FirstMXOnly = false // every MX host is the point
		if hosts, err = mxHosts(ctx, lookup, o.Resolver, rec, report); err != nil {
			if errors.Is(ctx.Err(), context.Canceled) {
				err = interruptedError{}
			}
			report = finish(report, rec, o, nil, err)
			report.MXSummary = "no address probed: " + report.Result.Error
			return report, nil
		}
		sh.source, sh.domain = "mx", report.Target.Domain
	}

	targets := resolveAll(ctx, o, hosts, parallel, rec)
	if len(targets) > MaxAllMXAddresses {
		report.MXSkipped = len(targets) - MaxAllMXAddresses
		rec.Infof("%d addresses: probing the first %d (the %d others are skipped)", len(targets), MaxAllMXAddresses, report.MXSkipped)
		targets = targets[:MaxAllMXAddresses]
	}
	rec.Infof("Probing %d address(es), %d at a time, port %d", len(targets), min(parallel, len(targets)), port)

	runs := make([]mxRun, len(targets))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{} // a cancelled ctx ends the running sessions, which frees slots at once
			defer func() { <-sem }()
			runs[i] = runOne(ctx, o, targets[i], sh)
			if runs[i].err == nil {
				rec.Infof("%s: %s", runs[i].entry.Name(), runs[i].entry.ResultColumn())
			}
		}()
	}
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			return nil, r.err
		}
	}
	for i := range runs {
		runs[i].entry.StartedMS = transcript.Millis(runs[i].report.StartedAt.Sub(report.StartedAt))
		report.MXMatrix = append(report.MXMatrix, runs[i].entry)
	}
	chosen := chooseEntry(runs)
	adopt(report, runs[chosen].report)
	report.Checks = shared.finish(ctx, report.Diagnosis)
	report.DNS = queryLog(o.Resolver) // the whole run's queries
	report.Events = mergeEvents(rec.Events(), runs[chosen].report, report.StartedAt)
	report.MXDifferences = differences(runs)
	report.MXSummary = summary(runs, chosen)
	report.Duration = transcript.Millis(rec.Since())
	return report, nil
}

// mxTarget is one address of one host to probe.
type mxTarget struct {
	host     smtpclient.Host
	ip       net.IP // nil when the host did not resolve
	resolveE error
}

// resolveAll resolves every host into its addresses, in MX order, the
// lookups running concurrently (at most parallel at once).
func resolveAll(ctx context.Context, o Options, hosts []smtpclient.Host, parallel int, rec *transcript.Recorder) []mxTarget {
	network := map[string]string{"tcp4": "ip4", "tcp6": "ip6"}[o.Network]
	if network == "" {
		network = "ip"
	}
	per := make([][]mxTarget, len(hosts))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, h := range hosts {
		name := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h.Name, "["), "IPv6:"), "]")
		if ip := net.ParseIP(name); ip != nil {
			per[i] = []mxTarget{{host: h, ip: ip}}
			if (network == "ip4" && ip.To4() == nil) || (network == "ip6" && ip.To4() != nil) {
				per[i] = []mxTarget{{host: h, resolveE: fmt.Errorf("%s is not an address of the family asked (%s)", name, network)}}
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			tctx, cancel := context.WithTimeout(ctx, timeoutOr(o.Timeout))
			defer cancel()
			ips, err := o.Resolver.LookupIP(tctx, network, h.Name)
			if err == nil && len(ips) == 0 {
				err = fmt.Errorf("no %s address", network)
			}
			if err != nil {
				per[i] = []mxTarget{{host: h, resolveE: err}}
				return
			}
			for _, ip := range ips {
				per[i] = append(per[i], mxTarget{host: h, ip: ip})
			}
		}()
	}
	wg.Wait()
	var out []mxTarget
	for i, ts := range per {
		if ts[0].resolveE != nil {
			rec.Errorf("cannot resolve %s: %v", hosts[i].Name, ts[0].resolveE)
		} else {
			addrs := make([]string, len(ts))
			for j, t := range ts {
				addrs[j] = t.ip.String()
			}
			rec.Infof("%s: %s", hosts[i].Name, strings.Join(addrs, ", "))
		}
		out = append(out, ts...)
	}
	return out
}

// pinnedAddress makes Run's session connect to one address of one host
// (set by RunAllMX in Options.pinned; see apply).
type pinnedAddress struct {
	host   smtpclient.Host
	ip     net.IP
	msg    *sharedMessage // nil when the session sends no message
	source string         // report.Target.Source: "mx", "implicit-mx", "server"
	domain string
}

// apply points cfg at the pinned address: the host keeps its name (SNI,
// certificate check and transcript show it) and resolves to that address
// only. The message is the shared one. It does nothing on a nil receiver.
func (p *pinnedAddress) apply(cfg *smtpclient.Config, report *transcript.Report, rec *transcript.Recorder) {
	if p == nil {
		return
	}
	cfg.Hosts = []smtpclient.Host{p.host}
	cfg.Resolver = pinnedResolver{host: p.host.Name, ip: p.ip}
	report.Target.Host, report.Target.Source, report.Target.Domain = p.host.Name, p.source, p.domain
	if p.host.Implicit {
		rec.Infof("Implicit MX %s, address %s (--all-mx)", p.host.Name, p.ip)
	} else if p.source != "server" {
		rec.Infof("MX %d %s, address %s (--all-mx)", p.host.Preference, p.host.Name, p.ip)
	}
	if p.msg != nil {
		cfg.OpenMessage = p.msg.open
		cfg.EightBitMessage, cfg.UTF8Message = p.msg.eightBit, p.msg.utf8
	}
}

// pinnedResolver answers the pinned host with its one address.
type pinnedResolver struct {
	host string
	ip   net.IP
}

func (r pinnedResolver) LookupIP(_ context.Context, _, host string) ([]net.IP, error) {
	if !strings.EqualFold(strings.TrimSuffix(host, "."), strings.TrimSuffix(r.host, ".")) {
		return nil, &net.DNSError{Err: "not the pinned host", Name: host, IsNotFound: true}
	}
	return []net.IP{r.ip}, nil
}

// mxRun is one address's session.
type mxRun struct {
	entry  transcript.MXEntry
	phrase phrase // the outcome in words, singular and plural
	ip     net.IP // nil when the host did not resolve
	report *transcript.Report
	res    *smtpclient.Result
	err    error // a usage error found by Run
}

// runShared is what every session of a run has in common.
type runShared struct {
	msg    *sharedMessage
	port   int
	mode   smtpclient.TLSMode
	source string // report.Target.Source of each session
	domain string
}

// runOne runs the session against one target, or records why it could not.
func runOne(ctx context.Context, o Options, t mxTarget, sh runShared) mxRun {
	o.Live = nil // concurrent sessions would interleave; each keeps its own transcript
	o.FirstMXOnly = false
	source := sh.source
	if t.host.Implicit {
		source = "implicit-mx"
	}
	entry := transcript.MXEntry{Host: t.host.Name, Preference: t.host.Preference, Implicit: t.host.Implicit}
	if t.ip == nil {
		// Nothing to connect to: the report of a session whose host does
		// not resolve.
		rec := transcript.NewRecorder(transcript.RecorderOptions{Now: o.Now})
		report := &transcript.Report{StartedAt: rec.Start().UTC(), Target: transcript.Target{Host: t.host.Name, Port: sh.port, TLSMode: sh.mode.String(), Source: source, Domain: sh.domain}}
		p := verb("does", "not resolve", "unresolved")
		code, e := smtpclient.ExitConnect, fmt.Errorf("cannot resolve %s: %w", t.host.Name, t.resolveE)
		if errors.Is(ctx.Err(), context.Canceled) {
			p = verb("was", "interrupted", "interrupted")
			code, e = smtpclient.ExitInterrupted, fmt.Errorf("interrupted while resolving %s", t.host.Name)
		}
		rec.Errorf("%v", e)
		res := &smtpclient.Result{ExitCode: code, Phase: smtpclient.PhaseConnect, Err: e, Host: t.host.Name}
		report = finish(report, rec, o, res, nil)
		fillEntry(&entry, report, res)
		entry.Failure, entry.Outcome = p.kind, p.one
		return mxRun{entry: entry, phrase: p, report: report, res: res}
	}
	o.pinned = &pinnedAddress{host: t.host, ip: t.ip, msg: sh.msg, source: source, domain: sh.domain}
	entry.Address = t.ip.String()
	report, res, err := RunDetailed(ctx, o)
	if err != nil {
		return mxRun{err: err}
	}
	fillEntry(&entry, report, res)
	p := outcomePhrase(res, report)
	entry.Failure, entry.Outcome = p.kind, p.one
	return mxRun{entry: entry, phrase: p, ip: t.ip, report: report, res: res}
}

// fillEntry copies a session's report into its matrix entry.
func fillEntry(e *transcript.MXEntry, r *transcript.Report, res *smtpclient.Result) {
	e.Result, e.TLS, e.Diagnosis, e.DurationMS = r.Result, r.TLS, r.Diagnosis, r.Duration
	e.TLSFallback, e.Steps, e.Events = r.TLSFallback, r.Steps, r.Events
	if res.Banner != nil && res.Banner.Code/100 == 2 {
		e.Banner = res.ServerName // a refusing greeting's first word is no name
	}
}

// chooseEntry is the index whose result becomes the run's: an interrupted
// session (Ctrl-C ends the run with 130), else the most preferred address
// that failed, else the first.
func chooseEntry(runs []mxRun) int {
	for i, r := range runs {
		if r.entry.Result.ExitCode == smtpclient.ExitInterrupted {
			return i
		}
	}
	for i, r := range runs {
		if !r.entry.Result.OK {
			return i
		}
	}
	return 0
}

// adopt makes the chosen session's report the run's top level, keeping
// the run's own start, transcript and matrix.
func adopt(top, chosen *transcript.Report) {
	top.Target = chosen.Target
	top.Steps, top.TLS, top.Result, top.Diagnosis = chosen.Steps, chosen.TLS, chosen.Result, chosen.Diagnosis
	top.RoundTrips, top.Candidates, top.TLSFallback = chosen.RoundTrips, chosen.Candidates, chosen.TLSFallback
	top.Message, top.Warnings = chosen.Message, chosen.Warnings
}

// mergeEvents is the run's transcript (lookups, one line per finished
// address) merged in time with the chosen session's.
func mergeEvents(top []transcript.Event, chosen *transcript.Report, start time.Time) []transcript.Event {
	shift := chosen.StartedAt.Sub(start)
	out := slices.Clone(top)
	for _, e := range chosen.Events {
		e.At += shift
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b transcript.Event) int { return int(a.At - b.At) })
	return out
}

// summary counts the failures: "2 of 3 addresses failed; ...".
func summary(runs []mxRun, chosen int) string {
	failed := 0
	for _, r := range runs {
		if !r.entry.Result.OK {
			failed++
		}
	}
	n := len(runs)
	noun := "addresses"
	if n == 1 {
		noun = "address"
	}
	c := runs[chosen].entry
	switch {
	case c.Result.ExitCode == smtpclient.ExitInterrupted:
		return fmt.Sprintf("interrupted: %d of %d %s failed or did not finish (exit 130)", failed, n, noun)
	case failed == 0 && n == 1:
		return "the address succeeded (exit 0)"
	case failed == 0:
		return fmt.Sprintf("all %d %s succeeded (exit 0)", n, noun)
	}
	return fmt.Sprintf("%d of %d %s failed; exit %d is that of %s, the most preferred address that failed", failed, n, noun, c.Result.ExitCode, c.Name())
}

// phrase is a verb phrase with a singular and a plural form ("refuses
// connections", "refuse connections"), and the failure kind it stands for.
type phrase struct {
	one, many string
	kind      string
}

// verb makes a phrase from a third-person verb and the rest: "times out",
// "at connect". Verbs of the form "does"/"is"/"has" and regular -s/-es
// verbs are handled.
func verb(v3, rest, kind string) phrase {
	plural := map[string]string{"does": "do", "is": "are", "has": "have", "was": "were", "closes": "close", "refuses": "refuse", "accepts": "accept", "fails": "fail", "times": "time", "works": "work", "greets": "greet", "negotiates": "negotiate", "uses": "use", "offers": "offer", "hits": "hit", "verifies": "verify", "matches": "match"}
	m, ok := plural[v3]
	if !ok {
		m = strings.TrimSuffix(v3, "s")
	}
	if rest != "" {
		rest = " " + rest
	}
	return phrase{one: v3 + rest, many: m + rest, kind: kind}
}

// phaseWords names a phase inside a sentence ("refuses at RCPT TO",
// "times out at the greeting").
func phaseWords(p string) string {
	switch p {
	case smtpclient.PhaseConnect:
		return "connect"
	case smtpclient.PhaseEndOfData:
		return "the end of DATA"
	}
	return phaseName(p)
}

func outcomePhrase(res *smtpclient.Result, r *transcript.Report) phrase {
	reply := func(rep *transcript.Reply) string {
		s := strconv.Itoa(rep.Code)
		if rep.EnhancedCode != "" {
			s += " " + rep.EnhancedCode
		}
		if d := r.Diagnosis; d != nil && d.Category != "" && d.Category != "unknown" {
			s += " (" + d.Category + ")"
		}
		return s
	}
	msg := errString(res.Err)
	at := phaseWords(res.Phase)
	switch {
	case res.OK() && len(r.Result.RejectedRcpts) > 0:
		first := res.RcptReplies[res.Rejected[0]]
		if first != nil {
			return verb("accepts", fmt.Sprintf("but refuses %d recipient(s) with %s", len(res.Rejected), reply(&transcript.Reply{Code: first.Code, EnhancedCode: first.Enhanced})), "")
		}
		return verb("accepts", fmt.Sprintf("but refuses %d recipient(s)", len(res.Rejected)), "")
	case res.OK():
		return verb("accepts", "", "")
	case res.ExitCode == smtpclient.ExitInterrupted:
		return verb("was", "interrupted", "interrupted")
	case r.Result.Reply != nil && r.Result.Reply.Code >= 400:
		return verb("refuses", "at "+at+" with "+reply(r.Result.Reply), "reply")
	case strings.HasPrefix(msg, "cannot resolve"):
		return verb("does", "not resolve", "unresolved")
	case res.ExitCode == smtpclient.ExitTLS:
		rt := smtpclient.ResultValidationFailure
		if r.TLS != nil && r.TLS.ResultType != "" {
			rt = string(r.TLS.ResultType)
		} else if strings.Contains(msg, "does not advertise STARTTLS") {
			rt = smtpclient.ResultStartTLSNotSupported
		}
		return verb("fails", "TLS at "+at+" ("+rt+")", "tls")
	case strings.Contains(msg, "session deadline"):
		return verb("hits", "the session deadline at "+at, "deadline")
	case res.Phase == smtpclient.PhaseConnect && errors.Is(res.Err, syscall.ECONNREFUSED):
		return verb("refuses", "connections", "refused")
	case res.Phase == smtpclient.PhaseConnect && isTimeoutErr(res.Err):
		return verb("times", "out at connect", "timeout")
	case res.Phase == smtpclient.PhaseConnect:
		return verb("cannot", "be reached ("+shortError(res.Err)+")", "unreachable")
	case isTimeoutErr(res.Err) && res.Phase == smtpclient.PhaseBanner:
		return verb("times", "out waiting for the greeting", "timeout")
	case isTimeoutErr(res.Err):
		return verb("times", "out at "+at, "timeout")
	case res.ExitCode == smtpclient.ExitClosed:
		return verb("closes", "the connection at "+at, "closed")
	}
	return verb("fails", fmt.Sprintf("at %s (exit %d)", at, res.ExitCode), "error")
}

// isTimeoutErr recognises a timeout, including the driver's own wording
// ("no reply within 30s").
func isTimeoutErr(err error) bool {
	if err == nil {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "no reply within")
}

// shortError is the innermost message of a connect error ("no route to
// host").
func shortError(err error) string {
	if err == nil {
		return "unknown error"
	}
	var sys *os.SyscallError
	if errors.As(err, &sys) {
		return sys.Err.Error()
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return oe.Err.Error()
	}
	return err.Error()
}

// sharedMessage is the message built once and read by every session, each
// through its own reader: small messages in memory, larger ones from an
// unlinked temporary file (read with ReadAt, which is safe concurrently).
type sharedMessage struct {
	data           []byte
	file           *os.File
	size           int64
	eightBit, utf8 bool
	dkim           *dkimsign.Options // the signing done, when --dkim-key
}

// sharedInMemory is the size up to which the message stays in memory.
const sharedInMemory = 8 << 20

// buildShared builds the message as Run does (standard input read once,
// before any connection) and keeps it for all the sessions.
func buildShared(ctx context.Context, o Options) (*sharedMessage, error) {
	mo := o.Message
	if mo.Now.IsZero() {
		mo.Now = o.Now()
	}
	if mo.From == "" {
		mo.From = o.From
	}
	if len(mo.To) == 0 {
		mo.To = o.To
	}
	if mo.ToolName == "" {
		mo.ToolName, mo.ToolVersion = o.ToolName, o.ToolVersion
	}
	if mo.Hostname == "" {
		mo.Hostname = o.EHLO
	}
	if mo.Hostname == "" {
		mo.Hostname = smtpclient.DefaultEHLOName(ctx, nil)
	}
	mo.SpoolStdin = compose.UsesStdin(mo)
	m, err := buildMessage(ctx, mo)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	sm := &sharedMessage{eightBit: m.EightBit, utf8: m.UTF8Headers, dkim: m.DKIM}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(m.Reader, sharedInMemory+1))
	if err != nil {
		return nil, &UsageError{Err: fmt.Errorf("the message: %w", err)}
	}
	if n <= sharedInMemory {
		sm.data, sm.size = buf.Bytes(), n
		return sm, nil
	}
	f, err := os.CreateTemp("", "smtpprobe-allmx-*")
	if err != nil {
		return nil, fmt.Errorf("spooling the message for --all-mx: %w", err)
	}
	_ = os.Remove(f.Name()) // unlinked: nothing is left behind, even on a kill
	sm.file = f
	if _, err := f.Write(buf.Bytes()); err != nil {
		sm.close()
		return nil, fmt.Errorf("spooling the message for --all-mx: %w", err)
	}
	rest, err := io.Copy(f, m.Reader)
	if err != nil {
		sm.close()
		return nil, fmt.Errorf("spooling the message for --all-mx: %w", err)
	}
	sm.size = n + rest
	return sm, nil
}

// open gives a session its own reader of the message.
func (m *sharedMessage) open() (io.ReadCloser, int64, error) {
	var ra io.ReaderAt = bytes.NewReader(m.data)
	if m.file != nil {
		ra = m.file
	}
	return io.NopCloser(io.NewSectionReader(ra, 0, m.size)), m.size, nil
}

func (m *sharedMessage) close() {
	if m.file != nil {
		_ = m.file.Close()
	}
}

// differences says in words how the addresses differ: their outcomes
// (refused, timed out, refusing replies by code and category), IPv6
// against IPv4 of one host, TLS use, version and certificate verdict, and
// banner names. Empty (not nil) when they do not differ.
func differences(runs []mxRun) []string {
	out := []string{}
	out = append(out, outcomeDifferences(runs)...)
	out = append(out, tlsDifferences(runs)...)
	return append(out, bannerDifferences(runs)...)
}

// unit is what a sentence names: one address ("mx1.example.org
// (192.0.2.1)"), or a host whose addresses all agree ("mx1.example.org
// (both addresses)").
type unit struct {
	name string
	host string
	idx  []int // the runs it stands for
}

// unitGroup is the units sharing a key, in the order first seen.
type unitGroup struct {
	key   string
	units []unit
}

// addresses counts the addresses of the group.
func (g unitGroup) addresses() int {
	n := 0
	for _, u := range g.units {
		n += len(u.idx)
	}
	return n
}

// groupUnits groups the runs with a non-empty key into units and the units
// by key. A host whose considered addresses do not share one key is split
// into one unit per address and reported in split.
func groupUnits(runs []mxRun, key func(mxRun) string) (groups []unitGroup, split map[string]bool) {
	split = map[string]bool{}
	var hosts []string
	byHost := map[string][]int{}
	total := map[string]int{}
	for i, r := range runs {
		h := r.entry.Host
		if total[h] == 0 {
			hosts = append(hosts, h)
		}
		total[h]++
		if key(r) != "" {
			byHost[h] = append(byHost[h], i)
		}
	}
	at := map[string]int{}
	add := func(k string, u unit) {
		gi, ok := at[k]
		if !ok {
			gi = len(groups)
			at[k] = gi
			groups = append(groups, unitGroup{key: k})
		}
		groups[gi].units = append(groups[gi].units, u)
	}
	for _, h := range hosts {
		idx := byHost[h]
		if len(idx) == 0 {
			continue
		}
		same := true
		for _, i := range idx[1:] {
			same = same && key(runs[i]) == key(runs[idx[0]])
		}
		if !same {
			split[h] = true
			for _, i := range idx {
				add(key(runs[i]), unit{name: runs[i].entry.Name(), host: h, idx: []int{i}})
			}
			continue
		}
		name := runs[idx[0]].entry.Name()
		switch {
		case len(idx) == 1:
		case len(idx) == total[h] && total[h] == 2:
			name = h + " (both addresses)"
		case len(idx) == total[h]:
			name = fmt.Sprintf("%s (all %d addresses)", h, total[h])
		default:
			addrs := make([]string, len(idx))
			for j, i := range idx {
				addrs[j] = runs[i].entry.Address
			}
			name = h + " (" + strings.Join(addrs, ", ") + ")"
		}
		add(key(runs[idx[0]]), unit{name: name, host: h, idx: idx})
	}
	return groups, split
}

// listNames joins names: "a", "a and b", "a, b and c".
func listNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

func unitNames(units []unit) []string {
	names := make([]string, len(units))
	for i, u := range units {
		names[i] = u.name
	}
	return names
}

// pick chooses a form of p for a subject of n units.
func (p phrase) pick(n int) string {
	if n > 1 {
		return p.many
	}
	return p.one
}

// largest is the index of the group with the most addresses (the first on
// a tie).
func largest(groups []unitGroup) int {
	best := 0
	for i, g := range groups {
		if g.addresses() > groups[best].addresses() {
			best = i
		}
	}
	return best
}

// refText names the reference group of a contrast: its units, or "the N
// other addresses" when they are many.
func refText(g unitGroup) (string, int) {
	if len(g.units) > 3 {
		return fmt.Sprintf("the %d other addresses", g.addresses()), 2
	}
	return listNames(unitNames(g.units)), len(g.units)
}

// outcomeDifferences contrasts how the sessions ended: each outcome that
// is not the reference's (success when any address succeeded) against it,
// and the two address families of a host that disagree.
func outcomeDifferences(runs []mxRun) []string {
	groups, split := groupUnits(runs, func(r mxRun) string { return r.entry.Outcome })
	var out []string
	var hosts []string
	for _, r := range runs {
		if split[r.entry.Host] && !slices.Contains(hosts, r.entry.Host) {
			hosts = append(hosts, r.entry.Host)
		}
	}
	for _, h := range hosts {
		out = append(out, hostSplit(runs, h))
	}
	if len(groups) < 2 {
		return out
	}
	// The reference is a clean success, else a success with refused
	// recipients, else the commonest outcome.
	ref := largest(groups)
	for i := len(groups) - 1; i >= 0; i-- {
		if res := runs[groups[i].units[0].idx[0]].entry.Result; res.OK && (len(res.RejectedRcpts) == 0 || !runs[groups[ref].units[0].idx[0]].entry.Result.OK) {
			ref = i
		}
	}
	refNames, refN := refText(groups[ref])
	refPhrase := runs[groups[ref].units[0].idx[0]].phrase
	for gi, g := range groups {
		if gi == ref {
			continue
		}
		var subjects []unit
		for _, u := range g.units {
			if !split[u.host] {
				subjects = append(subjects, u)
			}
		}
		if len(subjects) == 0 {
			continue // said by the host's own sentence
		}
		p := runs[g.units[0].idx[0]].phrase
		out = append(out, fmt.Sprintf("%s %s while %s %s", listNames(unitNames(subjects)), p.pick(len(subjects)), refNames, refPhrase.pick(refN)))
	}
	return out
}

// hostSplit says how the addresses of one host disagree: by family when
// each family agrees ("the IPv6 address of mx1 (::1) times out while its
// IPv4 address (192.0.2.1) works"), else address by address.
func hostSplit(runs []mxRun, host string) string {
	var v4, v6 []int
	for i, r := range runs {
		if r.entry.Host != host || r.ip == nil {
			continue
		}
		if r.ip.To4() != nil {
			v4 = append(v4, i)
		} else {
			v6 = append(v6, i)
		}
	}
	uniform := func(idx []int) bool {
		for _, i := range idx {
			if runs[i].entry.Outcome != runs[idx[0]].entry.Outcome {
				return false
			}
		}
		return len(idx) > 0
	}
	works := func(p phrase) phrase {
		if p.one == "accepts" {
			return verb("works", "", "")
		}
		return p
	}
	if uniform(v4) && uniform(v6) && runs[v4[0]].entry.Outcome != runs[v6[0]].entry.Outcome {
		subj, ref, subjFam, refFam := v6, v4, "IPv6", "IPv4"
		if runs[v6[0]].entry.Result.OK && !runs[v4[0]].entry.Result.OK {
			subj, ref, subjFam, refFam = v4, v6, "IPv4", "IPv6"
		}
		addrs := func(idx []int) string {
			a := make([]string, len(idx))
			for j, i := range idx {
				a[j] = runs[i].entry.Address
			}
			return strings.Join(a, ", ")
		}
		noun := func(idx []int) string {
			if len(idx) > 1 {
				return "addresses"
			}
			return "address"
		}
		return fmt.Sprintf("the %s %s of %s (%s) %s while its %s %s (%s) %s",
			subjFam, noun(subj), host, addrs(subj), works(runs[subj[0]].phrase).pick(len(subj)),
			refFam, noun(ref), addrs(ref), works(runs[ref[0]].phrase).pick(len(ref)))
	}
	var parts []string
	for i, r := range runs {
		if r.entry.Host == host {
			parts = append(parts, runs[i].entry.Address+" "+works(r.phrase).one)
		}
	}
	return fmt.Sprintf("the addresses of %s disagree: %s", host, strings.Join(parts, "; "))
}

// tlsDifferences contrasts TLS use (after a successful EHLO, with
// STARTTLS), the version negotiated and the certificate verdict.
func tlsDifferences(runs []mxRun) []string {
	var out []string
	use := map[string]phrase{
		"tls":      verb("uses", "TLS", ""),
		"fallback": verb("falls", "back to clear after a failed TLS handshake", ""),
		"failed":   verb("fails", "the TLS handshake", ""),
		"none":     verb("does", "not offer STARTTLS", ""),
		"unused":   verb("does", "not use TLS", ""),
	}
	// STARTTLS use is compared among the sessions that got past EHLO
	// (implicit TLS has no choice to compare).
	useKey := func(r mxRun) string {
		if r.res == nil || r.report.Target.TLSMode == smtpclient.TLSImplicit.String() || r.entry.TLSColumn() == "-" {
			return ""
		}
		switch {
		case r.res.TLSActive:
			return "tls"
		case r.entry.TLSFallback != nil:
			return "fallback"
		case r.entry.TLS != nil && r.entry.TLS.HandshakeError != "":
			return "failed"
		case !r.res.StartTLS:
			return "none"
		}
		return "unused"
	}
	if groups, _ := groupUnits(runs, useKey); len(groups) > 1 {
		ref := largest(groups)
		for i, g := range groups {
			if g.key == "tls" {
				ref = i
			}
		}
		out = append(out, contrast(groups, ref, func(g unitGroup) phrase { return use[g.key] })...)
	}
	established := func(r mxRun) bool {
		return r.entry.TLS != nil && r.entry.TLS.HandshakeError == "" && r.entry.TLS.Version != ""
	}
	if groups, _ := groupUnits(runs, func(r mxRun) string {
		if !established(r) {
			return ""
		}
		return r.entry.TLS.Version
	}); len(groups) > 1 {
		out = append(out, contrast(groups, largest(groups), func(g unitGroup) phrase { return verb("negotiates", g.key, "") })...)
	}
	cert := map[string]phrase{
		"verified":                               verb("verifies", "", ""),
		smtpclient.ResultCertificateExpired:      verb("has", "expired", ""),
		smtpclient.ResultCertificateHostMismatch: verb("does", "not match the host name", ""),
		smtpclient.ResultCertificateNotTrusted:   verb("is", "not trusted", ""),
	}
	certPhrase := func(k string) phrase {
		if p, ok := cert[k]; ok {
			return p
		}
		return verb("fails", "validation ("+k+")", "")
	}
	groups, _ := groupUnits(runs, func(r mxRun) string {
		if !established(r) {
			return ""
		}
		if r.entry.TLS.Verified {
			return "verified"
		}
		if r.entry.TLS.ResultType == "" {
			return "not-verified"
		}
		return string(r.entry.TLS.ResultType)
	})
	if len(groups) < 2 {
		return out
	}
	ref := largest(groups)
	for i, g := range groups {
		if g.key == "verified" {
			ref = i
		}
	}
	for gi, g := range groups {
		if gi == ref {
			continue
		}
		n := len(g.units)
		the := "the certificate of "
		if n > 1 {
			the = "the certificates of "
		}
		subj := the + listNames(unitNames(g.units))
		p := certPhrase(g.key).pick(n)
		if len(groups) == 2 && groups[ref].key == "verified" {
			out = append(out, fmt.Sprintf("only %s %s", subj, p))
			continue
		}
		refNames, refN := refText(groups[ref])
		that := "that of "
		if refN > 1 {
			that = "those of "
		}
		out = append(out, fmt.Sprintf("%s %s while %s%s %s", subj, p, that, refNames, certPhrase(groups[ref].key).pick(refN)))
	}
	return out
}

// contrast says "A <phrase> while B <phrase>" for every group against the
// reference group.
func contrast(groups []unitGroup, ref int, p func(unitGroup) phrase) []string {
	var out []string
	refNames, refN := refText(groups[ref])
	for gi, g := range groups {
		if gi == ref {
			continue
		}
		out = append(out, fmt.Sprintf("%s %s while %s %s", listNames(unitNames(g.units)), p(g).pick(len(g.units)), refNames, p(groups[ref]).pick(refN)))
	}
	return out
}

// bannerDifferences lists the names the servers greet with when they
// differ, unless each server simply gives its own MX host name.
func bannerDifferences(runs []mxRun) []string {
	own := true
	groups, _ := groupUnits(runs, func(r mxRun) string {
		if r.entry.Banner == "" {
			return ""
		}
		name := strings.ToLower(strings.TrimSuffix(r.entry.Banner, "."))
		own = own && name == strings.ToLower(strings.TrimSuffix(r.entry.Host, "."))
		return name
	})
	if len(groups) < 2 || own {
		return nil
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = fmt.Sprintf("%s %s", listNames(unitNames(g.units)), verb("greets", "as "+runs[g.units[0].idx[0]].entry.Banner, "").pick(len(g.units)))
	}
	return []string{"the banner names differ: " + strings.Join(parts, "; ")}
}
