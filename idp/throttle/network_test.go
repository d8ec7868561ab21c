package throttle_test

import (
	"net/netip"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/throttle"
)

func TestClientNetwork(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"192.0.2.1", "192.0.2.1"},
		{"::ffff:192.0.2.1", "192.0.2.1"},
		{"", "unknown"},
	} {
		var ip netip.Addr
		if c.ip != "" {
			ip = netip.MustParseAddr(c.ip)
		}
		if got := throttle.ClientNetwork(ip); got != c.want {
			t.Errorf("ClientNetwork(%s) = %q, want %q", c.ip, got, c.want)
		}
	}
}
