// The client address a write is counted under for the per-client write limit.
package main

import (
	"net/http"
	"net/netip"
)

// clientAddress is the key of the request's write limit: the TCP peer's address,
// an IPv4 address or the /64 an IPv6 address belongs to.
//
// It is the peer of the connection, never a header: X-Forwarded-For and friends
// are whatever the client chose to send. Behind Azure's load balancer the peer is
// the real client because the Service keeps the client's source address
// (externalTrafficPolicy: Local); behind a proxy that does not, every client
// shares the proxy's limit. An IPv6 host is normally given a whole /64, so
// counting single addresses would give one host 2^64 limits.
func clientAddress(r *http.Request) string {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		// Not an IP peer (a Unix socket, a test): one key for all such clients.
		return r.RemoteAddr
	}
	addr := ap.Addr().Unmap()
	if addr.Is4() {
		return addr.String()
	}
	return netip.PrefixFrom(addr.WithZone(""), 64).Masked().String()
}
