package netguard_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/lakeport/lakeport/netguard"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want netguard.Class
	}{
		{"127.0.0.1", netguard.Loopback},
		{"127.255.0.9", netguard.Loopback},
		{"::1", netguard.Loopback},
		{"::ffff:127.0.0.1", netguard.Loopback},
		{"64:ff9b::7f00:1", netguard.Loopback},   // NAT64 of 127.0.0.1
		{"2002:7f00:1::", netguard.Loopback},     // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", netguard.Metadata}, // 6to4 of 169.254.169.254
		{"169.254.169.254", netguard.Metadata},
		{"::ffff:169.254.169.254", netguard.Metadata},
		{"64:ff9b::a9fe:a9fe", netguard.Metadata},
		{"fd00:ec2::254", netguard.Metadata},
		{"169.254.1.1", netguard.LinkLocal},
		{"fe80::1", netguard.LinkLocal},
		{"fe80::1%eth0", netguard.LinkLocal},
		{"10.1.2.3", netguard.Private},
		{"172.16.0.1", netguard.Private},
		{"172.31.255.255", netguard.Private},
		{"192.168.1.1", netguard.Private},
		{"::ffff:10.0.0.1", netguard.Private},
		{"2002:c0a8:101::", netguard.Private},
		{"64:ff9b:1::a00:1", netguard.Private},
		{"fc00::1", netguard.UniqueLocal},
		{"fd12:3456::1", netguard.UniqueLocal},
		{"100.64.0.1", netguard.SharedNAT},
		{"0.0.0.0", netguard.Unspecified},
		{"0.1.2.3", netguard.Unspecified},
		{"::", netguard.Unspecified},
		{"224.0.0.1", netguard.Multicast},
		{"ff02::1", netguard.Multicast},
		{"255.255.255.255", netguard.Broadcast},
		{"240.0.0.1", netguard.Reserved},
		{"::7f00:1", netguard.Reserved},            // IPv4-compatible (deprecated)
		{"2001:0:4136:e378::1", netguard.Reserved}, // Teredo
		{"100::1", netguard.Reserved},              // discard
		{"192.0.2.10", netguard.Documentation},
		{"2001:db8::1", netguard.Documentation},
		{"8.8.8.8", netguard.Public},
		{"172.32.0.1", netguard.Public},
		{"::ffff:8.8.8.8", netguard.Public},
		{"64:ff9b::808:808", netguard.Public},
		{"2002:808:808::1", netguard.Public},
		{"2600:1f18::1", netguard.Public},
		{"52.216.0.1", netguard.Public},
	} {
		ip, err := netip.ParseAddr(tc.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := netguard.Classify(ip); got != tc.want {
			t.Errorf("Classify(%s) = %q, want %q", tc.addr, got, tc.want)
		}
	}
}

// listen starts an HTTP server on addr ("127.0.0.1:0", "[::1]:0") that answers 200.
func listen(t *testing.T, addr string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	hits := &atomic.Int64{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Write([]byte("inside"))
	}))
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, hits
}

func get(t *testing.T, c *http.Client, url string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestRefusedWithoutSettingAllowedWithIt connects to real servers on 127.0.0.1
// and [::1], by address and by the name localhost: refused (and never reached)
// by default, reached with private networks allowed.
func TestRefusedWithoutSettingAllowedWithIt(t *testing.T) {
	v4, hits4 := listen(t, "127.0.0.1:0")
	urls := []string{v4.URL, strings.Replace(v4.URL, "127.0.0.1", "localhost", 1)}
	var hits6 *atomic.Int64
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		var v6 *httptest.Server
		v6, hits6 = listen(t, "[::1]:0")
		urls = append(urls, v6.URL)
	} else {
		t.Logf("no IPv6 loopback on this machine (%v): [::1] is checked by address only", err)
		if err := netguard.New(false).Check(netip.MustParseAddrPort("[::1]:80")); !netguard.IsBlocked(err) {
			t.Errorf("[::1]:80 allowed: %v", err)
		}
	}
	deny := netguard.New(false).Client()
	for _, u := range urls {
		err := get(t, deny, u)
		if !netguard.IsBlocked(err) {
			t.Errorf("GET %s without allow_private: %v, want a refusal", u, err)
		}
		if c, ok := netguard.BlockedClass(err); !ok || c != netguard.Loopback {
			t.Errorf("GET %s: class %q", u, c)
		}
	}
	if hits4.Load() != 0 || hits6 != nil && hits6.Load() != 0 {
		t.Fatal("a refused connection reached the server")
	}
	allow := netguard.New(true).Client()
	for _, u := range urls {
		if err := get(t, allow, u); err != nil {
			t.Errorf("GET %s with allow_private: %v", u, err)
		}
	}
	if hits4.Load() != 2 {
		t.Errorf("the IPv4 server saw %d requests with allow_private, want 2", hits4.Load())
	}
}

// TestMetadataAddressRefused never lets a socket to 169.254.169.254 connect;
// with private networks allowed the dial is attempted (it fails or times out
// here, but not because of the guard).
func TestMetadataAddressRefused(t *testing.T) {
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/", "http://[fd00:ec2::254]/"} {
		start := time.Now()
		err := get(t, netguard.New(false).Client(), u)
		if c, ok := netguard.BlockedClass(err); !ok || c != netguard.Metadata {
			t.Errorf("GET %s: %v (class %q), want a cloud metadata refusal", u, err, c)
		}
		if time.Since(start) > time.Second {
			t.Errorf("GET %s: the refusal waited for a connection", u)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := netguard.New(true).Dialer().DialContext(ctx, "tcp", "169.254.169.254:80")
	if netguard.IsBlocked(err) {
		t.Errorf("with allow_private the guard still refused: %v", err)
	}
}

// TestNameResolvingToLoopback serves DNS itself: a name that resolves to a
// public address at first and to 127.0.0.1 afterwards (DNS rebinding) is
// refused whenever it resolves to loopback, because the check runs on the
// address the socket connects to, not on the name.
func TestNameResolvingToLoopback(t *testing.T) {
	srv, hits := listen(t, "127.0.0.1:0")
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var rebound atomic.Bool
	dns := fakeDNS(t, func(name string) [4]byte {
		if !rebound.Load() {
			return [4]byte{93, 184, 215, 14} // public, at first
		}
		return [4]byte{127, 0, 0, 1}
	})
	g := netguard.New(false)
	d := g.Dialer()
	d.Resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", dns)
	}}
	for i := 0; i < 3; i++ {
		rebound.Store(i > 0)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		c, err := d.DialContext(ctx, "tcp4", net.JoinHostPort("rebind.example.test", port))
		cancel()
		if c != nil {
			c.Close()
		}
		if i == 0 {
			if netguard.IsBlocked(err) {
				t.Fatalf("the public answer was refused: %v", err)
			}
			continue
		}
		if !netguard.IsBlocked(err) {
			t.Fatalf("dial %d of a name now resolving to 127.0.0.1: %v, want a refusal", i, err)
		}
	}
	if hits.Load() != 0 {
		t.Fatal("the rebound name reached the loopback server")
	}
	g.AllowPrivate = true
	c, err := d.DialContext(context.Background(), "tcp4", net.JoinHostPort("rebind.example.test", port))
	if err != nil {
		t.Fatalf("with allow_private: %v", err)
	}
	c.Close()
}

// fakeDNS answers A questions over UDP with answer(name); AAAA questions get no records.
func fakeDNS(t *testing.T, answer func(string) [4]byte) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:n]) != nil || len(m.Questions) != 1 {
				continue
			}
			q := m.Questions[0]
			m.Header.Response, m.Header.Authoritative = true, true
			m.Answers = nil
			if q.Type == dnsmessage.TypeA {
				m.Answers = []dnsmessage.Resource{{
					Header: dnsmessage.ResourceHeader{Name: q.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 0},
					Body:   &dnsmessage.AResource{A: answer(q.Name.String())},
				}}
			}
			out, err := m.Pack()
			if err == nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

// TestOwnListenerRefusedEvenWhenPrivateAllowed: lakeport's own port stays out
// of reach with allow_private, on its address and, for a listener on every
// address, on loopback too; another port of the same host is reachable.
func TestOwnListenerRefusedEvenWhenPrivateAllowed(t *testing.T) {
	self, selfHits := listen(t, "127.0.0.1:0")
	other, otherHits := listen(t, "127.0.0.1:0")
	g := netguard.New(true)
	g.AddListener(self.Listener.Addr())
	c := g.Client()
	err := get(t, c, self.URL)
	if cl, ok := netguard.BlockedClass(err); !ok || cl != netguard.Listener {
		t.Fatalf("GET own listener: %v", err)
	}
	if err := get(t, c, other.URL); err != nil {
		t.Fatalf("GET another local server with allow_private: %v", err)
	}
	if selfHits.Load() != 0 || otherHits.Load() != 1 {
		t.Fatalf("hits: self %d, other %d", selfHits.Load(), otherHits.Load())
	}

	_, port, _ := net.SplitHostPort(self.Listener.Addr().String())
	all := netguard.New(true)
	all.AddListenerString(":" + port)
	for _, a := range []string{"127.0.0.1:" + port, "[::1]:" + port, "[::ffff:127.0.0.1]:" + port, "0.0.0.0:" + port} {
		if err := all.Check(netip.MustParseAddrPort(a)); !netguard.IsBlocked(err) {
			t.Errorf("%s with a listener on :%s: %v, want refused", a, port, err)
		}
	}
	if err := all.Check(netip.MustParseAddrPort("8.8.8.8:" + port)); err != nil {
		t.Errorf("another host on the same port: %v", err)
	}
}

func TestControlRefusesOtherNetworks(t *testing.T) {
	g := netguard.New(true)
	if err := g.Control("unix", "/tmp/x.sock", nil); !netguard.IsBlocked(err) {
		t.Fatalf("unix socket: %v", err)
	}
	if err := g.Control("tcp", "not an address", nil); !netguard.IsBlocked(err) {
		t.Fatalf("unparseable address: %v", err)
	}
}

func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://8.8.8.8:3128")
	t.Setenv("HTTPS_PROXY", "http://8.8.8.8:3128")
	tr := netguard.New(false).Transport()
	if tr.Proxy != nil {
		t.Fatal("the guarded transport uses a proxy")
	}
}

func TestBlockedErrorWraps(t *testing.T) {
	err := netguard.New(false).Check(netip.MustParseAddrPort("10.0.0.1:443"))
	var be *netguard.BlockedError
	if !errors.As(err, &be) || !errors.Is(err, netguard.ErrBlocked) || be.Class != netguard.Private {
		t.Fatalf("%v", err)
	}
	if !strings.Contains(err.Error(), "network.allow_private") {
		t.Errorf("the refusal does not name the setting: %v", err)
	}
}
