package web

import (
	"net/http"
	"net/netip"
	"strings"
)

// What the console believes about a request's client depends on who connected: the
// X-Forwarded-* headers are anyone's to write, so they count only when the peer is one
// of the operator's trusted proxies (console.trusted_proxies).

// peerAddr is the address of the connection's other end.
func peerAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

func (h *handler) trusted(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range h.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address sign-in throttling counts against: the peer's, or behind
// trusted proxies, the first address in X-Forwarded-For (walking from the nearest hop)
// that is not a trusted proxy. A hop that cannot be read stops the walk at the proxy
// that passed it on.
func (h *handler) clientAddr(r *http.Request) netip.Addr {
	addr := peerAddr(r)
	if !h.trusted(addr) {
		return addr
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		addr = hop.Unmap()
		if !h.trusted(addr) {
			return addr
		}
	}
	return addr
}

// secure reports whether the browser reached the console over HTTPS: lakeport's own
// TLS, console.secure_cookies (a TLS-terminating proxy in front), or a trusted proxy's
// X-Forwarded-Proto.
func (h *handler) secure(r *http.Request) bool {
	if h.cfg.SecureCookies || r.TLS != nil {
		return true
	}
	if !h.trusted(peerAddr(r)) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
