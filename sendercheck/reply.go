package sendercheck

// ZonesInReply returns the DNSBL zones a server reply names ("blocked using
// zen.spamhaus.org", "listed at b.barracudacentral.org", a lookup URL of a
// known list), in order of appearance, without duplicates; lists of domains
// (Spamhaus DBL, SURBL, URIBL) are left out, as an IP cannot be looked up
// in them.
func ZonesInReply(lines []string) []string {
	return nil
}

// ReportedIP returns the client IP the server says it saw ("Client host
// [203.0.113.5]", "banned sending IP [...]", a lookup URL's ip=...), or ""
// when the reply names none. Addresses that are not the client's (the
// server's own in its greeting, a DNSBL answer code, a resolver in
// Spamhaus's returnc URL) are skipped.
func ReportedIP(lines []string) string {
	return ""
}
