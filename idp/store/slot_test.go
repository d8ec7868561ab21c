package store

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestOneSlot(t *testing.T) {
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	sentinel := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}})
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}})
	for _, c := range []redis.UniversalClient{single, sentinel, cluster} {
		t.Cleanup(func() { _ = c.Close() })
	}
	tests := []struct {
		name   string
		c      redis.UniversalClient
		prefix string
		want   bool
	}{
		{"single server", single, "idp:", true},
		{"Sentinel", sentinel, "idp:", true},
		{"Cluster", cluster, "idp:", false},
		{"Cluster, tagged prefix", cluster, "{idp}:", true},
		{"Cluster, tag after the name", cluster, "idp:{a}:", true},
		{"Cluster, empty tag", cluster, "{}:", false},
		{"Cluster, unclosed tag", cluster, "{idp:", false},
		{"Cluster, '}' first", cluster, "}{idp}:", true},
	}
	for _, tc := range tests {
		if got := oneSlot(tc.c, tc.prefix); got != tc.want {
			t.Errorf("%s, prefix %q: oneSlot = %v, want %v", tc.name, tc.prefix, got, tc.want)
		}
	}
}
