package dnsreport

// The SPF result for one IP comes from sendercheck (a library evaluates
// check_host). What no SPF library reports is how close a record is to the
// limits of RFC 7208 §4.6.4 for every sender, not only the IP at hand: an
// evaluation stops at the first matching mechanism, so the lookups the
// worst case needs are only seen by walking the whole tree, which is what
// this file does.

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/smtpprobe/smtpprobe/dnsclient"
)

// RFC 7208 §4.6.4 limits.
const (
	spfMaxLookups     = 10 // terms that query DNS: include, a, mx, ptr, exists, redirect
	spfMaxVoidLookups = 2  // lookups answered with NXDOMAIN or no records
	spfMaxMXNames     = 10 // MX records an mx mechanism may return
)

// Bounds of the walk itself, so a hostile or broken tree cannot make the
// probe send hundreds of queries: far past the limits the verdict is known.
const (
	spfWalkMaxLookups = 40
	spfWalkMaxDepth   = 12
)

// SPFCount is the static count of an SPF record's DNS lookups, through
// every include and redirect.
type SPFCount struct {
	Lookups     int      `json:"lookups"`      // DNS-querying terms, counted through includes and redirect
	VoidLookups int      `json:"void_lookups"` // those answered with NXDOMAIN or no records
	Loops       []string `json:"loops,omitempty"`
	Truncated   bool     `json:"truncated,omitempty"` // the walk stopped early: the real count is higher
}

// spfWalk is a count with what the walk found on the way.
type spfWalk struct {
	SPFCount
	findings
	dnsFailures []string
}

// countSPFLookups walks the SPF record of domain (record is its text,
// already fetched) and counts the lookups every evaluation may need.
func countSPFLookups(ctx context.Context, r dnsclient.Resolver, domain, record string) spfWalk {
	w := &spfWalker{r: r}
	w.walk(ctx, strings.ToLower(domain), record, []string{strings.ToLower(domain)})
	c := w.count
	if c.Lookups > spfMaxLookups {
		more := ""
		if c.Truncated {
			more = " at least"
		}
		c.Problems = append(c.Problems, fmt.Sprintf(
			"The SPF record of %s needs%s %d DNS lookups, more than the %d RFC 7208 §4.6.4 allows: receivers stop with permerror, so SPF fails for every sender not matched before the limit. Replace include: chains by ip4:/ip6: ranges or drop includes that are not used.",
			domain, more, c.Lookups, spfMaxLookups))
	}
	if c.VoidLookups > spfMaxVoidLookups {
		c.Problems = append(c.Problems, fmt.Sprintf(
			"The SPF record of %s makes %d lookups that find nothing (NXDOMAIN or no records), more than the %d RFC 7208 §4.6.4 allows: receivers stop with permerror. Remove the terms that name hosts or domains that do not exist.",
			domain, c.VoidLookups, spfMaxVoidLookups))
	}
	return c
}

type spfWalker struct {
	r     dnsclient.Resolver
	count spfWalk
}

func (w *spfWalker) problem(format string, args ...any) {
	w.count.Problems = append(w.count.Problems, fmt.Sprintf(format, args...))
}

// counted records one DNS-querying term and says whether the walk may go
// on querying.
func (w *spfWalker) counted() bool {
	w.count.Lookups++
	if w.count.Lookups > spfWalkMaxLookups {
		w.count.Truncated = true
		return false
	}
	return true
}

// walk counts the terms of one record; path is the chain of domains from
// the top, to find loops.
func (w *spfWalker) walk(ctx context.Context, domain, record string, path []string) {
	terms := strings.Fields(record)
	if len(terms) == 0 {
		return
	}
	terms = terms[1:] // past "v=spf1"
	var redirect string
	hasAll := false
	for i, term := range terms {
		name, arg, isMod := splitSPFTerm(term)
		if isMod {
			switch name {
			case "redirect":
				if redirect != "" {
					w.problem("The SPF record of %s has more than one redirect= modifier, which is a permerror (RFC 7208 §6).", domain)
				}
				redirect = arg
			case "exp":
				// Looked up only to explain a fail: not counted (RFC 7208 §6.2).
			}
			continue
		}
		switch name {
		case "all":
			hasAll = true
			if term == "all" || term == "+all" {
				w.problem("The SPF record of %s ends in %q, which lets every host on the Internet pass SPF as this domain; end it in -all (or ~all while testing).", domain, term)
			}
			if rest := terms[i+1:]; len(rest) > 0 && !allModifiers(rest) {
				w.count.Warnings = append(w.count.Warnings, fmt.Sprintf("The SPF record of %s has terms after %q, which are never evaluated; remove them or move them before it.", domain, term))
			}
		case "include":
			if arg == "" {
				w.problem("The SPF record of %s has include without a domain, which is a permerror.", domain)
				continue
			}
			if !w.counted() {
				return
			}
			w.follow(ctx, "include", domain, arg, path)
		case "a", "mx", "exists":
			if name == "exists" && arg == "" {
				w.problem("The SPF record of %s has exists without a domain, which is a permerror.", domain)
				continue
			}
			if !w.counted() {
				return
			}
			// "a/24" and "mx//64" name the current domain; the CIDR
			// lengths are not part of the name.
			target, _, _ := strings.Cut(arg, "/")
			if target == "" {
				target = domain
			}
			w.voidCheck(ctx, name, domain, target)
		case "ptr":
			if !w.counted() {
				return
			}
			w.count.Warnings = append(w.count.Warnings, fmt.Sprintf("The SPF record of %s uses the ptr mechanism, which RFC 7208 §5.5 says not to use: it is slow and many receivers ignore it. Use ip4:/ip6: or a instead.", domain))
		case "ip4", "ip6":
			if !validSPFIP(name, arg) {
				w.problem("The SPF record of %s has %q, which is not a valid %s address or network: receivers stop with permerror.", domain, term, name)
			}
		default:
			w.problem("The SPF record of %s has the unknown term %q: receivers stop with permerror (RFC 7208 §4.6.1).", domain, truncate(term, 60))
		}
	}
	// RFC 7208 §6.1: redirect is used only when no "all" is present.
	if redirect != "" && !hasAll {
		if !w.counted() {
			return
		}
		w.follow(ctx, "redirect", domain, redirect, path)
	}
}

// follow fetches the SPF record of an include or redirect target and walks
// it, unless the target is a loop, has macros or the walk is too deep.
func (w *spfWalker) follow(ctx context.Context, kind, from, target string, path []string) {
	target = strings.ToLower(strings.TrimSuffix(target, "."))
	if strings.Contains(target, "%") {
		// Macros expand per message (sender, IP): the target cannot be
		// known without one, so its own lookups are not counted.
		w.count.Warnings = append(w.count.Warnings, fmt.Sprintf("The SPF record of %s has %s:%s with macros; the lookups behind it depend on each message and are not counted.", from, kind, target))
		return
	}
	for i, d := range path {
		if d == target {
			loop := strings.Join(append(append([]string(nil), path[i:]...), target), " -> ")
			w.count.Loops = append(w.count.Loops, loop)
			w.problem("The SPF records loop (%s): receivers stop with permerror or count to the lookup limit. Remove the %s that points back.", loop, kind)
			return
		}
	}
	if len(path) >= spfWalkMaxDepth {
		w.count.Truncated = true
		return
	}
	txts, err := w.r.LookupTXT(ctx, target)
	if err != nil {
		if dnsclient.RCode(err) == dnsclient.RCodeNXDomain {
			w.count.VoidLookups++
			w.problem("The SPF record of %s has %s:%s, a domain that does not exist: receivers return permerror.", from, kind, target)
			return
		}
		w.count.dnsFailures = append(w.count.dnsFailures, fmt.Sprintf("The SPF record of %s (%s of %s) could not be looked up: %v.", target, kind, from, err))
		return
	}
	var spfs []string
	for _, t := range txts {
		if isSPFRecord(t) {
			spfs = append(spfs, t)
		}
	}
	switch len(spfs) {
	case 0:
		if len(txts) == 0 {
			w.count.VoidLookups++
		}
		w.problem("The SPF record of %s has %s:%s, but %s publishes no SPF record: receivers return permerror (RFC 7208 §5.2).", from, kind, target, target)
		return
	case 1:
	default:
		w.problem("%s (%s of %s) publishes %d SPF records; more than one is a permerror (RFC 7208 §3.2). Merge them into one.", target, kind, from, len(spfs))
		return
	}
	w.walk(ctx, target, spfs[0], append(path, target))
}

// voidCheck makes the lookup of an a, mx or exists term and counts it as
// void when it finds nothing (RFC 7208 §4.6.4).
func (w *spfWalker) voidCheck(ctx context.Context, mech, domain, target string) {
	if strings.Contains(target, "%") {
		return // a macro: depends on the message
	}
	var n int
	var err error
	switch mech {
	case "mx":
		var mxs []string
		mxs, err = w.mxHosts(ctx, target)
		n = len(mxs)
		if n > spfMaxMXNames {
			w.problem("The SPF record of %s has mx:%s, which has %d MX records; RFC 7208 §4.6.4 allows an mx mechanism 10, and receivers stop with permerror.", domain, target, n)
		}
	case "exists":
		var ips []string
		ips, err = w.addrs(ctx, "ip4", target)
		n = len(ips)
	default:
		var ips []string
		ips, err = w.addrs(ctx, "ip", target)
		n = len(ips)
	}
	if err != nil && dnsclient.RCode(err) != dnsclient.RCodeNXDomain {
		w.count.dnsFailures = append(w.count.dnsFailures, fmt.Sprintf("The %s term of the SPF record of %s could not be looked up (%s): %v.", mech, domain, target, err))
		return
	}
	if n == 0 {
		w.count.VoidLookups++
		w.count.Warnings = append(w.count.Warnings, fmt.Sprintf("The SPF record of %s has %s:%s, which finds no records: a void lookup that authorises nobody.", domain, mech, target))
	}
}

func (w *spfWalker) mxHosts(ctx context.Context, name string) ([]string, error) {
	mxs, err := w.r.LookupMX(ctx, name)
	out := make([]string, 0, len(mxs))
	for _, mx := range mxs {
		out = append(out, mx.Host)
	}
	return out, err
}

func (w *spfWalker) addrs(ctx context.Context, network, name string) ([]string, error) {
	ips, err := w.r.LookupIP(ctx, network, name)
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out, err
}

// splitSPFTerm splits a term into its lower-cased name and its argument,
// dropping the qualifier of a mechanism: "-include:x" -> ("include", "x",
// false), "redirect=x" -> ("redirect", "x", true), "a/24" -> ("a", "/24").
func splitSPFTerm(term string) (name, arg string, modifier bool) {
	// A modifier is name "=" ...; a mechanism may hold "=" only after
	// ":" (in a macro), so "=" before any ":" or "/" marks a modifier.
	if i := strings.IndexAny(term, "=:/"); i > 0 && term[i] == '=' {
		return strings.ToLower(term[:i]), term[i+1:], true
	}
	t := strings.TrimLeft(term, "+-~?")
	if len(term)-len(t) > 1 {
		return "", "", false // several qualifiers: not a term
	}
	if i := strings.IndexAny(t, ":/"); i >= 0 {
		name, arg = t[:i], t[i:]
		if arg[0] == ':' {
			arg = arg[1:]
		}
		return strings.ToLower(name), arg, false
	}
	return strings.ToLower(t), "", false
}

// allModifiers reports whether every term is a modifier (exp=, redirect=),
// which may follow "all" harmlessly.
func allModifiers(terms []string) bool {
	for _, t := range terms {
		if _, _, mod := splitSPFTerm(t); !mod {
			return false
		}
	}
	return true
}

// validSPFIP checks the argument of ip4 or ip6: an address of that family
// with an optional prefix length.
func validSPFIP(mech, arg string) bool {
	addr, bits, hasBits := strings.Cut(arg, "/")
	ip, err := netip.ParseAddr(addr)
	if err != nil || ip.Zone() != "" || (mech == "ip4") != ip.Is4() {
		return false
	}
	if !hasBits {
		return true
	}
	p, err := netip.ParsePrefix(ip.String() + "/" + bits)
	return err == nil && p.Bits() >= 0 && bits == fmt.Sprint(p.Bits())
}

// isSPFRecord: a TXT record starting "v=spf1" followed by a space or its
// end (RFC 7208 §4.5), case-insensitively.
func isSPFRecord(txt string) bool {
	if len(txt) < 6 || !strings.EqualFold(txt[:6], "v=spf1") {
		return false
	}
	return len(txt) == 6 || txt[6] == ' '
}
