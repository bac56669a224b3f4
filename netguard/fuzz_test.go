package netguard_test

import (
	"net/netip"
	"testing"

	"github.com/lakeport/lakeport/netguard"
)

// FuzzClassify checks the classifier against the standard library's own
// predicates and against the IPv6 forms of every IPv4 address: whatever the
// bytes, an address Go calls loopback, private, link-local, multicast or
// unspecified is never Public, a Public one is global unicast, and an IPv4
// address classifies the same when written IPv4-mapped, NAT64 or 6to4.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "fd00::1", "8.8.8.8", "::ffff:127.0.0.1",
		"64:ff9b::a9fe:a9fe", "2002:c0a8:101::", "fe80::1%eth0", "2001:db8::1", "0.0.0.0", "::"} {
		ip := netip.MustParseAddr(s)
		b := ip.As16()
		f.Add(b[:], s)
	}
	f.Fuzz(func(t *testing.T, raw []byte, text string) {
		check := func(ip netip.Addr) {
			c := netguard.Classify(ip)
			if c == netguard.Public {
				if !ip.Unmap().IsGlobalUnicast() {
					t.Fatalf("%s is Public but not global unicast", ip)
				}
				if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
					ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
					t.Fatalf("%s is Public but the standard library says it is not", ip)
				}
				u := ip.Unmap()
				if u.IsLoopback() || u.IsPrivate() || u.IsLinkLocalUnicast() || u.IsMulticast() || u.IsUnspecified() {
					t.Fatalf("%s is Public but its IPv4 form %s is not", ip, u)
				}
			}
			if back, err := netip.ParseAddr(ip.String()); err != nil || netguard.Classify(back) != c {
				t.Fatalf("%s: classification changes through its text form (%v)", ip, err)
			}
			if ip.Is4() {
				b := ip.As4()
				forms := []netip.Addr{
					netip.AddrFrom16(ip.As16()), // ::ffff:a.b.c.d
					netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, b[0], b[1], b[2], b[3]}),
				}
				for _, form := range forms {
					if got := netguard.Classify(form); got != c {
						t.Fatalf("%s is %q but %s is %q", ip, c, form, got)
					}
				}
				sixToFour := netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
				if c != netguard.Public && netguard.Classify(sixToFour) == netguard.Public {
					t.Fatalf("%s is %q but its 6to4 form %s is Public", ip, c, sixToFour)
				}
			}
		}
		switch len(raw) {
		case 4:
			check(netip.AddrFrom4([4]byte(raw)))
		case 16:
			check(netip.AddrFrom16([16]byte(raw)))
		}
		if ip, err := netip.ParseAddr(text); err == nil {
			check(ip)
		}
	})
}
