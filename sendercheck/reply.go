package sendercheck

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Reading replies: the patterns below are general (the phrases MTAs put
// before a list or a client address), not one per known reply; the tests
// hold real replies of Postfix, Exim, Sendmail, Microsoft, Gmail, Yahoo,
// Orange, GMX and the lists' own wordings.

var (
	// replyCode strips the SMTP code and enhanced status code that begin
	// each line of a reply ("550-5.7.1 "), and those left mid-line when a
	// multi-line reply was pasted as one line.
	replyCode    = regexp.MustCompile(`^\s*[2-5]\d\d(?:[ -]|$)(?:\s*[2-5]\.\d{1,3}\.\d{1,3}(?:\s|$))?`)
	midReplyCode = regexp.MustCompile(`\s[2-5]\d\d-[2-5]\.\d{1,3}\.\d{1,3}\s`)
	splitScheme  = regexp.MustCompile(`(?i)\b(https?:)\s+//`)

	hostName = regexp.MustCompile(`(?i)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z][a-z0-9-]{0,61}[a-z0-9]\.?`)

	// listCue ends the text before a zone named as the list that blocked:
	// "blocked using", "listed at", "is in a black list at", "RBL:".
	listCue = regexp.MustCompile(`(?i)(?:\bblocked\s+using|\blisted\s+(?:at|in|on|by)|\b(?:black|block|deny)[ -]?list(?:ed)?(?:\s+(?:at|in|on|by))?|\b(?:dns)?rbl(?:\s+(?:at|in|on|by))?|\bblackhole\s+site|\bfound\s+(?:in|on))\s*[:=(\[]?\s*(?:the\s+)?$`)

	// listingWord says a reply is about a listing at all, before a list's
	// bare name ("Spamhaus") is taken for its zone.
	listingWord = regexp.MustCompile(`(?i)\b(?:lists?|listed|blocked|black ?list(?:ed)?|block ?list(?:ed)?|reputation|rbl|dnsbl)\b`)

	// domainListing says the listed thing is a domain, not the client IP:
	// a domain list (Spamhaus DBL, SURBL, URIBL) or "HELO/MailFrom domain
	// is listed".
	domainListing = regexp.MustCompile(`(?i)\b(?:dbl|surbl|uribl)\b|\b(?:domain|helo|mail ?from|url|uri|link)\b[^.;]{0,40}\b(?:listed|blocked|blacklisted|blocklisted)\b`)
)

// normalizeReply joins the lines of a reply into one text without their
// codes, so that phrases and URLs broken across lines read whole.
func normalizeReply(lines []string) string {
	var parts []string
	for _, l := range lines {
		for _, sub := range strings.Split(l, "\n") {
			sub = strings.TrimRight(sub, "\r")
			sub = replyCode.ReplaceAllString(sub, "")
			sub = midReplyCode.ReplaceAllString(sub, " ")
			parts = append(parts, strings.TrimSpace(sub))
		}
	}
	text := strings.Join(parts, " ")
	return splitScheme.ReplaceAllString(text, "$1//")
}

// brandZone maps a list's name, as replies and URLs spell it, to the zone
// that answers for IP addresses.
func brandZone(word string) string {
	w := strings.ToLower(word)
	switch {
	case strings.Contains(w, "spamhaus"):
		return "zen.spamhaus.org"
	case strings.Contains(w, "barracuda"):
		return "b.barracudacentral.org"
	case strings.Contains(w, "spamcop"):
		return "bl.spamcop.net"
	case strings.Contains(w, "surriel") || w == "psbl" || strings.HasSuffix(w, "psbl.org"):
		return "psbl.surriel.com"
	case strings.Contains(w, "uceprotect"):
		return "dnsbl-1.uceprotect.net"
	case strings.Contains(w, "mailspike"):
		return "bl.mailspike.net"
	case strings.Contains(w, "manitu") || strings.Contains(w, "nixspam") || w == "nix spam":
		return "ix.dnsbl.manitu.net"
	case strings.Contains(w, "spamrats"):
		return "all.spamrats.com"
	case strings.Contains(w, "sorbs"):
		return "dnsbl.sorbs.net"
	case strings.Contains(w, "abuseat") || w == "cbl":
		return "xbl.spamhaus.org" // the CBL is part of Spamhaus XBL since 2020
	}
	return ""
}

var brandCue = regexp.MustCompile(`(?i)\b(?:on|in|by|at|using)\s+$`)

var brandWord = regexp.MustCompile(`(?i)\b(?:spamhaus(?:'s)?(?:\s+(sbl|xbl|pbl|zen|css))?|barracuda(?:\s+reputation)?|spamcop|psbl|uceprotect|mailspike|spamrats|nix\s?spam|sorbs|cbl)\b`)

// isDomainList reports zones that list names rather than addresses.
func isDomainList(zone string) bool {
	for _, z := range []string{"dbl.spamhaus.org", "surbl.org", "uribl.com", "dbl.", "rhsbl", "uri.", "dq.spamhaus.net"} {
		if strings.Contains(zone, z) && !strings.Contains(zone, ".zen.dq.") && !strings.Contains(zone, ".sbl.dq.") && !strings.Contains(zone, ".xbl.dq.") && !strings.Contains(zone, ".pbl.dq.") {
			return true
		}
	}
	return false
}

// ZonesInReply returns the DNSBL zones a server reply names ("blocked using
// zen.spamhaus.org", "listed at b.barracudacentral.org", a lookup URL or the
// name of a known list), in order of appearance, without duplicates. Lists
// of domains (Spamhaus DBL, SURBL, URIBL) are left out, as an IP cannot be
// looked up in them, and so is a list's bare name when the reply says a
// domain is listed.
func ZonesInReply(lines []string) []string {
	text := normalizeReply(lines)
	type found struct {
		pos   int
		zone  string
		named bool // the reply gave the zone itself
	}
	var hits []found
	domainOnly := domainListing.MatchString(text)
	listing := listingWord.MatchString(text)

	// URLs: a list's lookup page names it; the URL is then blanked so its
	// host is not read as a zone.
	blanked := []byte(text)
	for _, loc := range urlPattern.FindAllStringIndex(text, -1) {
		u := strings.ToLower(text[loc[0]:loc[1]])
		for i := loc[0]; i < loc[1]; i++ {
			blanked[i] = ' '
		}
		host := strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
		host, _, _ = strings.Cut(host, "/")
		host, _, _ = strings.Cut(host, "?")
		if strings.Contains(u, "/returnc/") || domainOnly || strings.Contains(u, "dbl") || strings.Contains(u, "/domain") {
			continue // a return-code page or a domain listing
		}
		if z := brandZone(host); z != "" {
			hits = append(hits, found{loc[0], z, false})
		}
	}
	rest := string(blanked)

	// Host names are blanked in turn before looking for a list's bare
	// name, so "dbl.spamhaus.org" does not read as "Spamhaus".
	words := []byte(rest)
	for _, loc := range hostName.FindAllStringIndex(rest, -1) {
		for i := loc[0]; i < loc[1]; i++ {
			words[i] = ' '
		}
		start, end := loc[0], loc[1]
		if start > 0 && strings.ContainsRune("@.-_/=", rune(rest[start-1])) {
			continue // an address, a path, a longer token
		}
		if end < len(rest) && (isWordByte(rest[end]) || rest[end] == '@') {
			continue
		}
		zone := strings.ToLower(strings.TrimSuffix(rest[start:end], "."))
		if _, err := normDomain(zone); err != nil || isDomainList(zone) {
			continue
		}
		known := knownList(zone).name != zone
		cued := listCue.MatchString(rest[max(0, start-60):start])
		if known || (cued && strings.Count(zone, ".") >= 2 && !strings.HasPrefix(zone, "www.")) {
			hits = append(hits, found{start, zone, true})
		}
	}

	if !domainOnly {
		rest := string(words)
		for _, m := range brandWord.FindAllStringSubmatchIndex(rest, -1) {
			// A list's bare name is taken for its zone when the reply
			// is about a listing, or names a sub-list ("Spamhaus XBL"),
			// or puts the address on it ("on Spamhaus").
			if !listing && m[2] < 0 && !brandCue.MatchString(rest[max(0, m[0]-20):m[0]]) {
				continue
			}
			word := rest[m[0]:m[1]]
			z := brandZone(word)
			if m[2] >= 0 && strings.HasPrefix(z, "zen.") {
				sub := strings.ToLower(rest[m[2]:m[3]])
				if sub != "zen" && sub != "css" {
					z = sub + ".spamhaus.org"
				}
			}
			if z != "" {
				hits = append(hits, found{m[0], z, false})
			}
		}
	}

	slices.SortStableFunc(hits, func(a, b found) int { return a.pos - b.pos })
	// A zone the reply names wins over one guessed from a URL or a word
	// for the same list.
	namedList := map[string]bool{}
	for _, h := range hits {
		if h.named {
			namedList[knownList(h.zone).name] = true
		}
	}
	var zones []string
	for _, h := range hits {
		if !h.named && namedList[knownList(h.zone).name] {
			continue
		}
		if !slices.Contains(zones, h.zone) {
			zones = append(zones, h.zone)
		}
	}
	return zones
}

func isWordByte(b byte) bool {
	return b == '_' || b == '-' || b >= '0' && b <= '9' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z'
}

var (
	// clientBefore: words that precede the client's address ("Client
	// host [x]", "banned sending IP [x]", "Messages from x", "your IP x").
	clientBefore = regexp.MustCompile(`(?i)\b(?:client|ip|ips|host|connecting|connection|sender|sending|source|your|from|address|addr|peer|remote)\b`)
	// clientAfter: what follows it ("[x] is blocked", "x listed at",
	// "[x] The IP you're using").
	clientAfter = regexp.MustCompile(`(?i)^[\])>,:;]?\s*(?:\d{1,3}\]\s*)?(?:(?:is|was|has been|have been|are)\s+)?(?:not\s+)?(?:currently\s+)?(?:blocked|listed|black ?listed|block ?listed|banned|not allowed|not permitted|refused|rejected|denied|in an? (?:black|block) ?list|on an? (?:black|block) ?list|on our|not authorized|temporarily deferred|the ip\b)`)
	// serverAfter: Postfix's "host mx.example.org[198.51.100.1] said:",
	// the remote server in a bounce, never the client.
	serverAfter  = regexp.MustCompile(`(?i)^\]?(?::\d+)?\s+said\b`)
	serverBefore = regexp.MustCompile(`(?i)(?:relay=\S*|\b(?:by|server|mx)\s+\S*)$`)
	// greetingHost: the server's own name opening its reply line, so an
	// address right after it is the server's ("mx.example.org [192.0.2.1]
	// ESMTP").
	greetingHost = regexp.MustCompile(`(?i)^\s*[a-z0-9-]+(?:\.[a-z0-9-]+)+\s*[\[(]?\s*$`)
	wordRun      = regexp.MustCompile(`[A-Za-z']+`)
)

// ReportedIP returns the client IP the server says it saw ("Client host
// [203.0.113.5]", "banned sending IP [...]", "Messages from 203.0.113.5", a
// lookup URL's ip=...), IPv4 or IPv6, or "" when the reply names none.
// Addresses that are not the client's are skipped: the server's own (after
// its name at the start of a line, "host mx[...] said"), DNSBL answer codes
// (127.0.0.2 and up), the resolver in Spamhaus's returnc URL, and version
// numbers with no cue around them.
func ReportedIP(lines []string) string {
	var best netip.Addr
	bestScore := 0
	for _, lineText := range replyLines(lines) {
		text := strings.NewReplacer("IPv6:", "IPv6 ", "ipv6:", "ipv6 ", "IPV6:", "IPV6 ").Replace(lineText)
		urls := urlPattern.FindAllStringIndex(text, -1)
		for _, cand := range addressCandidates(text) {
			a := cand.addr
			if a.IsUnspecified() || (a.Is4() && a.As4()[0] == 127 && a != netip.AddrFrom4([4]byte{127, 0, 0, 1})) {
				continue
			}
			// Context is read in a window around the address, so a
			// long reply with many addresses costs linear time.
			before := text[max(0, cand.start-80):cand.start]
			after := text[cand.end:min(len(text), cand.end+80)]
			atLineStart := cand.start <= 80
			if serverAfter.MatchString(after) || serverBefore.MatchString(before) || atLineStart && greetingHost.MatchString(before) {
				continue
			}
			score := 0
			inURL := false
			for _, u := range urls {
				if cand.start >= u[0] && cand.end <= u[1] {
					inURL = true
					if strings.Contains(strings.ToLower(text[u[0]:u[1]]), "/returnc/") {
						score = -100 // the receiver's resolver, not the client
					}
				}
			}
			if inURL {
				score += 3
			}
			words := wordRun.FindAllString(before[max(0, len(before)-40):], -1)
			if len(words) > 3 {
				words = words[len(words)-3:]
			}
			if clientBefore.MatchString(strings.Join(words, " ")) {
				score += 3
			}
			if clientAfter.MatchString(after) {
				score += 3
			}
			open := strings.TrimRight(before, " ")
			if strings.HasSuffix(open, "[") || strings.HasSuffix(open, "(") {
				score++
				// Gmail opens its replies with the client address in
				// brackets: "[203.0.113.5 12] Our system has detected".
				if strings.TrimSpace(open) == "[" {
					score += 2
				}
			}
			if score > bestScore {
				best, bestScore = a, score
			}
		}
	}
	if bestScore < 2 || !best.IsValid() {
		return ""
	}
	return best.String()
}

// replyLines are the lines of a reply without their codes, with a line
// continued by a URL broken after its scheme joined back.
func replyLines(lines []string) []string {
	var out []string
	for _, l := range lines {
		for _, sub := range strings.Split(l, "\n") {
			sub = replyCode.ReplaceAllString(strings.TrimRight(sub, "\r"), "")
			sub = midReplyCode.ReplaceAllString(sub, " ")
			if n := len(out); n > 0 && strings.HasSuffix(strings.ToLower(out[n-1]), "https:") || n > 0 && strings.HasSuffix(strings.ToLower(out[n-1]), "http:") {
				out[n-1] += strings.TrimSpace(sub)
				continue
			}
			out = append(out, sub)
		}
	}
	return out
}

type addrCandidate struct {
	start, end int
	addr       netip.Addr
}

// addressCandidates finds the IPv4 and IPv6 addresses written in text as
// whole tokens: a run of hex digits, dots and colons bounded by neither
// letters nor digits, that parses as an address. "4.16.55.1.2" or a time
// "12:34:56" are not addresses.
func addressCandidates(text string) []addrCandidate {
	var out []addrCandidate
	isRun := func(b byte) bool {
		return b == '.' || b == ':' || b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || b >= 'A' && b <= 'F'
	}
	for i := 0; i < len(text); {
		if !isRun(text[i]) {
			i++
			continue
		}
		j := i
		for j < len(text) && isRun(text[j]) {
			j++
		}
		start, end := i, j
		i = j
		if start > 0 && isWordByte(text[start-1]) || end < len(text) && isWordByte(text[end]) {
			continue
		}
		// Sentence punctuation after an address is not part of it.
		for end > start && (text[end-1] == '.' || text[end-1] == ':' && !strings.HasSuffix(text[start:end], "::")) {
			end--
		}
		tok := text[start:end]
		if strings.Count(tok, ":") < 2 && strings.Count(tok, ".") != 3 {
			continue
		}
		a, err := netip.ParseAddr(tok)
		if err != nil || a.Zone() != "" {
			continue
		}
		out = append(out, addrCandidate{start, end, a.Unmap()})
	}
	return out
}
