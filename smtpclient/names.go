package smtpclient

import (
	"context"
	"net"
	"os"
	"regexp"
	"strings"
)

// DefaultEHLOName is this host's fully qualified name, as RFC 5321 §4.1.4
// asks, or an address literal of the local end when no FQDN is known:
// "localhost" is never sent, because many servers refuse it outright.
//
// A short host name is qualified from the hosts file only, as
// "hostname -f" does on most systems: asking DNS would send a query to
// the network for every probe (and wait on it when DNS is down).
func DefaultEHLOName(_ context.Context, local net.Addr) string {
	if h, err := os.Hostname(); err == nil {
		if isFQDN(h) {
			return h
		}
		if f := fqdnFromHosts(hostsFile, h); isFQDN(f) {
			return f
		}
	}
	if ta, ok := local.(*net.TCPAddr); ok {
		if ip4 := ta.IP.To4(); ip4 != nil {
			return "[" + ip4.String() + "]"
		}
		return "[IPv6:" + ta.IP.String() + "]"
	}
	return "[127.0.0.1]"
}

// hostsFile is where fqdnFromHosts looks.
const hostsFile = "/etc/hosts"

// fqdnFromHosts returns the canonical name (the first name) of the hosts
// file line that lists host, "" when there is none.
func fqdnFromHosts(path, host string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		for _, name := range fields[1:] {
			if strings.EqualFold(name, host) && isFQDN(fields[1]) {
				return fields[1]
			}
		}
	}
	return ""
}

func isFQDN(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.Contains(h, ".") && !strings.HasPrefix(h, "localhost") && h != "localdomain" && !strings.HasSuffix(h, ".localdomain") && net.ParseIP(h) == nil
}

// queueIDPatterns find the queue ID in the reply to the final dot, in the
// forms of Postfix, Exim, Sendmail, Exchange, Gmail and go-smtp's server.
var queueIDPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)queued as ([A-Za-z0-9]+)`),                           // Postfix
	regexp.MustCompile(`(?i)\bid=([A-Za-z0-9-]+)`),                               // Exim "OK id=1abc-000123-AB"
	regexp.MustCompile(`(?i)\b([A-Za-z0-9]{14,}) Message accepted`),              // Sendmail
	regexp.MustCompile(`(?i)\b([0-9a-f]{8}) Message accepted for delivery`),      // OpenSMTPD (the message ID)
	regexp.MustCompile(`(?i)<([^>]+)>(?: \[[^\]]*\])* Queued mail for delivery`), // Exchange
	regexp.MustCompile(`(?i)^OK\s+\d+\s+([a-z0-9.-]+)\s+-\s+gsmtp`),              // Gmail
	regexp.MustCompile(`(?i)\bqueued with id ([A-Za-z0-9.-]+)`),                  // generic
}

// QueueID extracts the queue ID from the reply to the final dot, or "".
func QueueID(r *Reply) string {
	if r == nil {
		return ""
	}
	text := r.Text()
	for _, re := range queueIDPatterns {
		if m := re.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	return ""
}
