package netguard

import "net/netip"

// Class names why an address is not one an organization may make lakeport
// connect to. The zero Class is a public address.
type Class string

const (
	Public      Class = ""
	Unspecified Class = "unspecified"
	Loopback    Class = "loopback"
	LinkLocal   Class = "link-local"
	// Metadata is the link-local cloud metadata service (169.254.169.254,
	// fd00:ec2::254), named on its own because it hands out the host's
	// credentials.
	Metadata    Class = "cloud metadata"
	Private     Class = "private"
	UniqueLocal Class = "unique-local"
	SharedNAT   Class = "shared (carrier-grade NAT)"
	Multicast   Class = "multicast"
	Broadcast   Class = "broadcast"
	Reserved    Class = "reserved"
	// Documentation and benchmarking ranges are never real servers.
	Documentation Class = "documentation"
	// Listener is one of lakeport's own listening addresses.
	Listener Class = "lakeport's own listener"
)

type prefixClass struct {
	p netip.Prefix
	c Class
}

// v4 are the IPv4 ranges that are not public unicast, most specific first
// where they overlap.
var v4 = []prefixClass{
	{netip.MustParsePrefix("169.254.169.254/32"), Metadata},
	{netip.MustParsePrefix("0.0.0.0/8"), Unspecified}, // "this network"
	{netip.MustParsePrefix("10.0.0.0/8"), Private},
	{netip.MustParsePrefix("100.64.0.0/10"), SharedNAT},
	{netip.MustParsePrefix("127.0.0.0/8"), Loopback},
	{netip.MustParsePrefix("169.254.0.0/16"), LinkLocal},
	{netip.MustParsePrefix("172.16.0.0/12"), Private},
	{netip.MustParsePrefix("192.0.0.0/24"), Reserved}, // IETF protocol assignments
	{netip.MustParsePrefix("192.0.2.0/24"), Documentation},
	{netip.MustParsePrefix("192.88.99.0/24"), Reserved}, // former 6to4 relay anycast
	{netip.MustParsePrefix("192.168.0.0/16"), Private},
	{netip.MustParsePrefix("198.18.0.0/15"), Documentation}, // benchmarking
	{netip.MustParsePrefix("198.51.100.0/24"), Documentation},
	{netip.MustParsePrefix("203.0.113.0/24"), Documentation},
	{netip.MustParsePrefix("224.0.0.0/4"), Multicast},
	{netip.MustParsePrefix("255.255.255.255/32"), Broadcast},
	{netip.MustParsePrefix("240.0.0.0/4"), Reserved},
}

// v6 are the IPv6 ranges inside global unicast (2000::/3) that are not
// public, and the ranges outside it that are named for a clearer message.
// Anything outside 2000::/3 not listed here is Reserved.
var v6 = []prefixClass{
	{netip.MustParsePrefix("::/128"), Unspecified},
	{netip.MustParsePrefix("::1/128"), Loopback},
	{netip.MustParsePrefix("fd00:ec2::254/128"), Metadata},
	{netip.MustParsePrefix("fc00::/7"), UniqueLocal},
	{netip.MustParsePrefix("fe80::/10"), LinkLocal},
	{netip.MustParsePrefix("fec0::/10"), Private}, // deprecated site-local
	{netip.MustParsePrefix("ff00::/8"), Multicast},
	{netip.MustParsePrefix("64:ff9b:1::/48"), Private}, // local-use NAT64
	{netip.MustParsePrefix("2001::/23"), Reserved},     // IETF protocol assignments, Teredo among them
	{netip.MustParsePrefix("2001:db8::/32"), Documentation},
	{netip.MustParsePrefix("3fff::/20"), Documentation},
	{netip.MustParsePrefix("5f00::/16"), Reserved}, // SRv6 SIDs
}

var (
	globalUnicast = netip.MustParsePrefix("2000::/3")
	nat64         = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour     = netip.MustParsePrefix("2002::/16")
)

// Classify says whether ip is a public unicast address (Public) or which
// kind of address it is. IPv4 addresses written in IPv6 forms (IPv4-mapped
// ::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd::) are
// classified by the IPv4 address they carry, so ::ffff:127.0.0.1 is
// Loopback. The zone of a scoped address does not matter.
func Classify(ip netip.Addr) Class {
	if !ip.IsValid() {
		return Reserved
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		return Classify(ip.Unmap())
	}
	if ip.Is4() {
		for _, r := range v4 {
			if r.p.Contains(ip) {
				return r.c
			}
		}
		return Public
	}
	switch {
	case nat64.Contains(ip):
		b := ip.As16()
		return Classify(netip.AddrFrom4([4]byte(b[12:16])))
	case sixToFour.Contains(ip):
		b := ip.As16()
		if c := Classify(netip.AddrFrom4([4]byte(b[2:6]))); c != Public {
			return c
		}
		return Public
	}
	for _, r := range v6 {
		if r.p.Contains(ip) {
			return r.c
		}
	}
	if !globalUnicast.Contains(ip) {
		return Reserved // the rest of ::/8 (IPv4-compatible, IPv4-translated), 100::/64 discard, and unassigned space
	}
	return Public
}
