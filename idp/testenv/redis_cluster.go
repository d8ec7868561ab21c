package testenv

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCluster is a Redis Cluster of three masters without replicas, each a
// redis-server without persistence on 127.0.0.1, the 16384 slots split in
// three equal ranges.
type RedisCluster struct {
	Addrs []string // 127.0.0.1:PORT of each master

	nodes []*process
}

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// StartRedisCluster starts three cluster-enabled redis-servers, assigns the
// slots and joins them (CLUSTER ADDSLOTSRANGE and MEET: no redis-cli
// needed), and waits until every node reports cluster_state:ok. The nodes
// are stopped in t.Cleanup.
func StartRedisCluster(t testing.TB) *RedisCluster {
	t.Helper()
	bin := Require(t, "redis-server", "redis-server")
	dir := t.TempDir()
	rc := &RedisCluster{}
	t.Cleanup(func() { rc.stop(t) })
	ports := make([]int, 3)
	for i := range ports {
		p, port := startWithRetry(t, func(port int) (*process, error) {
			// The cluster bus listens on its own port: port+10000 may not exist.
			bus := FreePort(t, "127.0.0.1")
			return startRedisServer(bin, "redis-server (cluster)", "127.0.0.1", port, dir,
				"--cluster-enabled", "yes", "--cluster-port", portString(bus),
				"--cluster-config-file", filepath.Join(dir, "nodes-"+portString(port)+".conf"),
				"--cluster-node-timeout", "1000")
		})
		rc.nodes = append(rc.nodes, p)
		ports[i] = port
		rc.Addrs = append(rc.Addrs, "127.0.0.1:"+portString(port))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clients := make([]*redis.Client, len(rc.Addrs))
	for i, a := range rc.Addrs {
		clients[i] = redis.NewClient(&redis.Options{Addr: a})
		defer clients[i].Close()
	}
	for i, c := range clients {
		from, to := i*clusterSlots/len(clients), (i+1)*clusterSlots/len(clients)-1
		if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", from, to).Err(); err != nil {
			t.Fatalf("testenv: CLUSTER ADDSLOTSRANGE on %s: %v", rc.Addrs[i], err)
		}
		// Distinct epochs spare the nodes a collision round at first MEET.
		if err := c.Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			t.Fatalf("testenv: CLUSTER SET-CONFIG-EPOCH on %s: %v", rc.Addrs[i], err)
		}
	}
	for i := 1; i < len(clients); i++ {
		if err := clients[0].Do(ctx, "CLUSTER", "MEET", "127.0.0.1", ports[i], busPort(ctx, clients[i])).Err(); err != nil {
			t.Fatalf("testenv: CLUSTER MEET: %v", err)
		}
	}
	for i, c := range clients {
		err := Poll(ctx, func() error {
			info, err := c.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_known_nodes:3") {
				return fmt.Errorf("not ready: %s", info)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("testenv: cluster node %s: %v", rc.Addrs[i], err)
		}
	}
	return rc
}

// busPort reads the cluster bus port a node listens on.
func busPort(ctx context.Context, c *redis.Client) string {
	v, err := c.ConfigGet(ctx, "cluster-port").Result()
	if err != nil {
		return "0"
	}
	return v["cluster-port"]
}

// Client returns a Cluster client for the nodes, closed in t.Cleanup.
func (rc *RedisCluster) Client(t testing.TB) *redis.ClusterClient {
	t.Helper()
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Addrs})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (rc *RedisCluster) stop(t testing.TB) {
	t.Helper()
	for _, p := range rc.nodes {
		p.stop(t)
	}
}

// startRedisServer starts one redis-server without persistence on port,
// with extra arguments, and waits until it answers PING.
func startRedisServer(bin, name, host string, port int, dir string, extra ...string) (*process, error) {
	args := append([]string{
		"--port", portString(port), "--bind", host,
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--daemonize", "no", "--loglevel", "warning",
	}, extra...)
	p, err := startProcess(name, bin, args...)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(10*time.Second, pinger(net.JoinHostPort(host, portString(port)))); err != nil {
		p.kill()
		return nil, err
	}
	return p, nil
}

func pinger(addr string) func() error {
	return func() error {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return c.Ping(ctx).Err()
	}
}

// Poll calls probe every 25 ms until it succeeds or ctx ends; it returns
// probe's last error then.
func Poll(ctx context.Context, probe func() error) error {
	for {
		err := probe()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}
