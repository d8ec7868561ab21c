package web

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	tests := []struct {
		name   string
		remote string
		xff    []string // one header line each
		want   string
	}{
		{"direct client", "203.0.113.5:4321", nil, "203.0.113.5"},
		{"direct client lies", "203.0.113.5:4321", []string{"198.51.100.1"}, "203.0.113.5"},
		{"through a trusted proxy", "10.0.0.2:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"client lies behind a trusted proxy", "10.0.0.2:80", []string{"198.51.100.1, 203.0.113.5"}, "203.0.113.5"},
		{"two trusted proxies", "10.0.0.2:80", []string{"203.0.113.5, 10.1.1.1"}, "203.0.113.5"},
		{"several header lines", "10.0.0.2:80", []string{"198.51.100.1", "203.0.113.5, 10.1.1.1"}, "203.0.113.5"},
		{"trusted proxy without header", "10.0.0.2:80", nil, "10.0.0.2"},
		{"only trusted hops", "10.0.0.2:80", []string{"10.9.9.9"}, "10.9.9.9"},
		{"garbage appended by the proxy", "10.0.0.2:80", []string{"203.0.113.5, not-an-ip"}, "10.0.0.2"},
		{"garbage at the client's end", "10.0.0.2:80", []string{"x\r\ny, 203.0.113.5"}, "203.0.113.5"},
		{"entry with port", "10.0.0.2:80", []string{"203.0.113.5:5555"}, "203.0.113.5"},
		{"IPv6 proxy and client", "[2001:db8:ffff::1]:443", []string{"[2001:db8:1::7]:1"}, "2001:db8:1::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.2]:80", []string{"203.0.113.5"}, "203.0.113.5"},
		{"unreadable peer", "@", []string{"203.0.113.5"}, "invalid IP"},
	}
	for _, tc := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := ClientIP(r, trusted).String(); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}
