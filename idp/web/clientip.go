package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address of the client of r, for throttling and audit
// logs. It is the TCP peer, unless the peer is one of the trusted
// proxies: then X-Forwarded-For is read from the right (each proxy appends
// the address it saw), skipping trusted proxies, and the first address not
// in trusted is the client. Whatever a client writes in the header itself
// is at the left and never reached past an untrusted hop. An unreadable
// entry stops the walk at the last address known for sure. The zero Addr
// means the peer address could not be read.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	client := parseAddr(r.RemoteAddr)
	if !client.IsValid() || !isTrusted(client, trusted) {
		return client
	}
	var hops []string
	for _, h := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(h, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseAddr(strings.TrimSpace(hops[i]))
		if !a.IsValid() {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client
}

// parseAddr reads "ip", "ip:port" or "[ip]:port", unmapping IPv4-in-IPv6.
func parseAddr(s string) netip.Addr {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("")
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		if a, err := netip.ParseAddr(host); err == nil {
			return a.Unmap().WithZone("")
		}
	}
	return netip.Addr{}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
