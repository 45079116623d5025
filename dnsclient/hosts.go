package dnsclient

import (
	"bufio"
	"net"
	"net/netip"
	"os"
	"strings"
)

// hostsFile is /etc/hosts as the C library reads it: names to addresses.
// The client consults it first in its default mode, as the system
// resolver does ("files dns" in nsswitch.conf), so "-s localhost" or a
// name an admin pinned there works as with every other tool.
type hostsFile struct {
	addrs map[string][]netip.Addr // lower-case name without trailing dot
}

// maxHostsBytes bounds how much of a hosts file is read: a runaway file
// must not cost a probe its memory.
const maxHostsBytes = 4 << 20

func loadHosts(path string) *hostsFile {
	h := &hostsFile{addrs: map[string][]netip.Addr{}}
	f, err := os.Open(path)
	if err != nil {
		return h
	}
	defer f.Close()
	sc := bufio.NewScanner(&limitedReader{f: f, left: maxHostsBytes})
	sc.Buffer(make([]byte, 0, 4096), 64*1024)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		addr, err := netip.ParseAddr(fields[0])
		if err != nil || addr.Zone() != "" {
			continue
		}
		for _, name := range fields[1:] {
			key := strings.ToLower(strings.TrimSuffix(name, "."))
			h.addrs[key] = append(h.addrs[key], addr.Unmap())
		}
	}
	return h
}

type limitedReader struct {
	f    *os.File
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, os.ErrClosed
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.f.Read(p)
	l.left -= int64(n)
	return n, err
}

// lookup returns the addresses of name for network ("ip", "ip4", "ip6"),
// and whether the file knows the name at all.
func (h *hostsFile) lookup(name, network string) ([]net.IP, bool) {
	if h == nil {
		return nil, false
	}
	addrs, ok := h.addrs[strings.ToLower(strings.TrimSuffix(name, "."))]
	if !ok {
		return nil, false
	}
	return filterFamily(addrs, network), true
}

// localhostAddrs answers "localhost" and names under it with loopback
// addresses whatever the server says (RFC 6761 §6.3), so that a
// --dns-server pointed at a test zone still lets "-s localhost" work.
func localhostAddrs(name, network string) ([]net.IP, bool) {
	n := strings.ToLower(strings.TrimSuffix(name, "."))
	if n != "localhost" && !strings.HasSuffix(n, ".localhost") {
		return nil, false
	}
	return filterFamily([]netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}, network), true
}

func filterFamily(addrs []netip.Addr, network string) []net.IP {
	var out []net.IP
	for _, a := range addrs {
		if (network == "ip4" && !a.Is4()) || (network == "ip6" && a.Is4()) {
			continue
		}
		out = append(out, a.AsSlice())
	}
	return out
}
