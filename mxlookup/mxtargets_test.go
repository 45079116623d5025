package mxlookup

import (
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
)

// FuzzMXTargets feeds whatever MX answer a hostile or broken DNS server
// could produce to the ordering code: it must not panic, and what it returns
// must be ordered, unique, valid hosts, or one of the sentinel errors.
func FuzzMXTargets(f *testing.F) {
	f.Add("mx1.example.test.", uint16(10), "mx2.example.test.", uint16(10), ".", uint16(0), uint64(1))
	f.Add(".", uint16(0), "", uint16(0), "", uint16(0), uint64(0))
	f.Add("MX.Example.TEST", uint16(65535), "mx.example.test.", uint16(0), "bad host.", uint16(5), uint64(7))
	f.Add("192.0.2.1.", uint16(1), "a..b", uint16(2), "x\r\n.test.", uint16(3), uint64(9))
	f.Fuzz(func(t *testing.T, h1 string, p1 uint16, h2 string, p2 uint16, h3 string, p3 uint16, seed uint64) {
		mxs := []*net.MX{{Host: h1, Pref: p1}, {Host: h2, Pref: p2}, {Host: h3, Pref: p3}}
		var shuffle *rand.Rand
		if seed%2 == 1 {
			shuffle = rand.New(rand.NewPCG(seed, seed))
		}
		got, err := mxTargets("d.test", mxs, shuffle)
		if err != nil {
			if !errors.Is(err, ErrNullMX) && !errors.Is(err, ErrNoMailHost) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if len(got) == 0 || len(got) > 3 {
			t.Fatalf("%d targets from 3 records", len(got))
		}
		seen := map[string]bool{}
		for i, tg := range got {
			if tg.Implicit || !validHost(tg.Host) || strings.HasSuffix(tg.Host, ".") || tg.Host != strings.ToLower(tg.Host) {
				t.Fatalf("bad target %+v", tg)
			}
			if seen[tg.Host] {
				t.Fatalf("duplicate host %q in %v", tg.Host, got)
			}
			seen[tg.Host] = true
			if i > 0 && got[i-1].Preference > tg.Preference {
				t.Fatalf("not ordered by preference: %v", got)
			}
		}
	})
}
