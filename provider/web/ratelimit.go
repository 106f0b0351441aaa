package web

import (
	"net"
	"net/http"
	"net/netip"

	"github.com/dnshandle/dnshandle/internal/ratelimit"
)

// newLimiter returns the limiter of l.
func newLimiter(l RateLimit) *ratelimit.Limiter {
	return ratelimit.New(l.Burst, l.Interval)
}

// clientKey returns the rate-limit key of the client of r: its IP address,
// or for IPv6 its /64 prefix, which one subscriber usually has whole.
//
// NOTE: behind a reverse proxy every client has the proxy's address, so
// they share one bucket. Forwarded headers are not read because a client
// can forge them.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.Unmap().WithZone("")
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}
