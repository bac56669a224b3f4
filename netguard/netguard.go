// Package netguard keeps the outbound connections an organization chooses (the
// endpoint of its S3-compatible storage, and any later HTTP call a tenant
// names) away from the install's own network: loopback, link-local (the cloud
// metadata service among them), private and unique-local ranges, every other
// non-public range, and lakeport's own listeners.
//
// The check runs on the address a socket is about to connect to, from the
// dialer's Control hook, after name resolution: a name that resolves to a
// public address when it is checked and to 127.0.0.1 when it is used (DNS
// rebinding) is refused all the same, and so is every address of a name
// that resolves to several.
//
// The operator may allow private networks (an install whose S3-compatible
// servers live on its own network); loopback to lakeport's own listeners
// stays refused even then.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrBlocked is wrapped by every refusal of the guard.
var ErrBlocked = errors.New("netguard: address not allowed")

// BlockedError is the refusal of one connection.
type BlockedError struct {
	// Addr is the address the socket was about to connect to.
	Addr netip.AddrPort
	// Class says why it was refused.
	Class Class
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("netguard: refused to connect to %s, a %s address: organizations' endpoints must be public "+
		"(the operator may allow private networks with network.allow_private)", e.Addr, e.Class)
}

func (e *BlockedError) Unwrap() error { return ErrBlocked }

// IsBlocked reports whether err (or an error it wraps) is a refusal of the guard.
func IsBlocked(err error) bool { return errors.Is(err, ErrBlocked) }

// BlockedClass returns the class of the refused address when err is a
// refusal of the guard.
func BlockedClass(err error) (Class, bool) {
	var be *BlockedError
	if errors.As(err, &be) {
		return be.Class, true
	}
	return Public, false
}

// Guard decides which addresses an organization's outbound connections may
// reach. Its zero value refuses every non-public address. It is safe for
// concurrent use.
type Guard struct {
	// AllowPrivate lets connections reach every address but lakeport's own
	// listeners (the operator's network.allow_private).
	AllowPrivate bool

	mu        sync.RWMutex
	listeners []netip.AddrPort
	// interfaceAddrs lists this host's addresses; tests replace it.
	interfaceAddrs func() ([]netip.Addr, error)

	clientOnce sync.Once
	client     *http.Client
}

// New returns a guard; allowPrivate is the operator's network.allow_private.
func New(allowPrivate bool) *Guard { return &Guard{AllowPrivate: allowPrivate} }

// AddListener records one of lakeport's own listening addresses ("host:port",
// a *net.TCPAddr, ...). Connections to it are refused even with private
// networks allowed. A listener on an unspecified host (":8080", "0.0.0.0:8080")
// covers that port on every address of this host. An address that is not an
// IP and port (a Unix socket) is ignored.
func (g *Guard) AddListener(addr net.Addr) {
	if addr == nil {
		return
	}
	g.AddListenerString(addr.String())
}

// AddListenerString is AddListener for an address given as text ("127.0.0.1:8080",
// ":8080", "[::]:8080"). Port 0 and unparseable text are ignored.
func (g *Guard) AddListenerString(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return
	}
	ip := netip.IPv4Unspecified()
	if host != "" {
		if ip, err = netip.ParseAddr(host); err != nil {
			// A host name: cover the port on every address, which is what
			// the name resolves to on this host anyway.
			ip = netip.IPv4Unspecified()
		}
	}
	g.mu.Lock()
	g.listeners = append(g.listeners, netip.AddrPortFrom(ip.Unmap().WithZone(""), uint16(p)))
	g.mu.Unlock()
}

// Check reports whether a connection to ap is allowed: nil, or a *BlockedError.
func (g *Guard) Check(ap netip.AddrPort) error {
	ip := ap.Addr().Unmap().WithZone("")
	if g.isListener(ip, ap.Port()) {
		return &BlockedError{Addr: ap, Class: Listener}
	}
	if g.AllowPrivate {
		return nil
	}
	if c := Classify(ap.Addr()); c != Public {
		return &BlockedError{Addr: ap, Class: c}
	}
	return nil
}

func (g *Guard) isListener(ip netip.Addr, port uint16) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, l := range g.listeners {
		if l.Port() != port {
			continue
		}
		if l.Addr() == ip {
			return true
		}
		if l.Addr().IsUnspecified() && (ip.IsLoopback() || ip.IsUnspecified() || g.isLocal(ip)) {
			return true
		}
	}
	return false
}

// isLocal reports whether ip is an address of this host. An error listing
// them counts as local: the guard fails closed.
func (g *Guard) isLocal(ip netip.Addr) bool {
	list := g.interfaceAddrs
	if list == nil {
		list = localAddrs
	}
	addrs, err := list()
	if err != nil {
		return true
	}
	for _, a := range addrs {
		if a.Unmap().WithZone("") == ip {
			return true
		}
	}
	return false
}

func localAddrs() ([]netip.Addr, error) {
	ifs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ifs))
	for _, a := range ifs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr())
		}
	}
	return out, nil
}

// Control is a net.Dialer Control hook: it refuses a socket whose remote
// address the guard does not allow, before it connects. Only TCP and UDP
// sockets are allowed at all.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6":
	default:
		return &BlockedError{Class: Reserved}
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &BlockedError{Class: Reserved}
	}
	return g.Check(ap)
}

// Dialer returns a dialer whose every connection the guard checks.
func (g *Guard) Dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.Control}
}

// Transport returns an HTTP transport that dials only through the guard and
// never through a proxy from the environment (HTTPS_PROXY and the like would
// move the connection, and so the check, to the proxy).
func (g *Guard) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := g.Dialer()
	t.DialContext = d.DialContext
	t.DialTLSContext = nil
	return t
}

// Client returns the guard's HTTP client (one per guard, so its connections
// are reused): Transport, and no following of redirects, so the caller sees
// a 3xx as the answer (an S3 server has no reason to send lakeport
// elsewhere, and the next address would only be checked again).
func (g *Guard) Client() *http.Client {
	g.clientOnce.Do(func() {
		g.client = &http.Client{
			Transport: g.Transport(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	})
	return g.client
}
