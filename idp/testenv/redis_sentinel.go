package testenv

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// SentinelMaster is the master name the Sentinels of RedisSentinel monitor.
const SentinelMaster = "idp-test"

// RedisSentinel is a primary and one replica (redis-servers without
// persistence) watched by three Sentinels with a quorum of two, tuned for
// tests: a primary is declared down after 500 ms and a failover may take 3 s.
type RedisSentinel struct {
	Sentinels  []string // host:PORT of each Sentinel, on a loopback address of the set's own
	MasterName string

	servers   []*process // primary first, then the replica, in start order
	addrs     []string   // of servers
	sentinels []*process
}

// StartRedisSentinel starts the primary, the replica (waiting until it is
// in sync) and the three Sentinels (waiting until each knows the replica
// and the two other Sentinels, so that a failover can be agreed at once).
// Everything is stopped in t.Cleanup.
//
// The Sentinels are redis-server --sentinel, the same binary as Debian's
// redis-sentinel package links to, so only redis-server is required.
func StartRedisSentinel(t testing.TB) *RedisSentinel {
	t.Helper()
	bin := Require(t, "redis-server", "redis-server")
	dir := t.TempDir()
	rs := &RedisSentinel{MasterName: SentinelMaster}
	t.Cleanup(func() { rs.stop(t) })
	// Each set lives on a loopback address of its own: Sentinels of another
	// set (another test binary, running at the same time) that lost their
	// primary keep calling its address, and would take over a server of
	// this set that got the same port.
	host := privateLoopback()
	addr := func(port int) string { return net.JoinHostPort(host, portString(port)) }
	// A primary waits 5 s by default before a full sync, in case more
	// replicas come; the replica may become primary too. Both announce
	// this set's address, not 127.0.0.1, the kernel's source address.
	// Protected mode only counts 127.0.0.1 and ::1 as loopback.
	common := []string{"--repl-diskless-sync-delay", "0", "--replica-announce-ip", host, "--bind-source-addr", host, "--protected-mode", "no"}

	primary, primaryPort := startWithRetryOn(t, host, func(port int) (*process, error) {
		return startRedisServer(bin, "redis-server (primary)", host, port, dir, common...)
	})
	rs.servers = append(rs.servers, primary)
	rs.addrs = append(rs.addrs, addr(primaryPort))
	primaryAddr := addr(primaryPort)
	replica, replicaPort := startWithRetryOn(t, host, func(port int) (*process, error) {
		return startRedisServer(bin, "redis-server (replica)", host, port, dir,
			append([]string{"--replicaof", host, portString(primaryPort)}, common...)...)
	})
	rs.servers = append(rs.servers, replica)
	rs.addrs = append(rs.addrs, addr(replicaPort))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc := redis.NewClient(&redis.Options{Addr: addr(replicaPort)})
	defer rc.Close()
	// The Sentinels learn of the replica from the primary's INFO, which they
	// read at once on connecting, then only every 10 s: it must be there first.
	if err := Poll(ctx, func() error { return infoHas(ctx, rc, "master_link_status:up") }); err != nil {
		t.Fatalf("testenv: replica of %s not in sync: %v", primaryAddr, err)
	}

	for i := range 3 {
		p, port := startWithRetryOn(t, host, func(port int) (*process, error) {
			conf := filepath.Join(dir, fmt.Sprintf("sentinel-%d.conf", i))
			// Sentinel rewrites its configuration file: one per Sentinel.
			text := strings.Join([]string{
				"port " + portString(port),
				"bind " + host,
				"bind-source-addr " + host,
				"protected-mode no",
				"sentinel announce-ip " + host,
				"dir " + dir,
				"sentinel monitor " + SentinelMaster + " " + host + " " + portString(primaryPort) + " 2",
				"sentinel down-after-milliseconds " + SentinelMaster + " 500",
				"sentinel failover-timeout " + SentinelMaster + " 3000",
				"sentinel parallel-syncs " + SentinelMaster + " 1",
				"",
			}, "\n")
			if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
				return nil, err
			}
			sp, err := startProcess("redis-sentinel", bin, conf, "--sentinel", "--loglevel", "warning")
			if err != nil {
				return nil, err
			}
			if err := sp.waitReady(10*time.Second, pinger(addr(port))); err != nil {
				sp.kill()
				return nil, err
			}
			return sp, nil
		})
		rs.sentinels = append(rs.sentinels, p)
		rs.Sentinels = append(rs.Sentinels, addr(port))
	}
	for _, addr := range rs.Sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: addr})
		defer sc.Close()
		err := Poll(ctx, func() error {
			m, err := sc.Master(ctx, SentinelMaster).Result()
			if err != nil {
				return err
			}
			if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
				return fmt.Errorf("sentinel sees %s replicas and %s other sentinels", m["num-slaves"], m["num-other-sentinels"])
			}
			return nil
		})
		if err != nil {
			t.Fatalf("testenv: sentinel %s: %v", addr, err)
		}
	}
	return rs
}

// Client returns a failover client (what go-redis's UniversalClient makes
// of a master name), closed in t.Cleanup.
func (rs *RedisSentinel) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: rs.MasterName, SentinelAddrs: rs.Sentinels})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Primary returns the address the Sentinels currently give for the primary.
func (rs *RedisSentinel) Primary(ctx context.Context) (string, error) {
	sc := redis.NewSentinelClient(&redis.Options{Addr: rs.Sentinels[0]})
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(ctx, rs.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel get-master-addr-by-name: %w", err)
	}
	return a[0] + ":" + a[1], nil
}

// Failover asks a Sentinel to promote the replica now (SENTINEL FAILOVER)
// and waits until the Sentinels name another primary and that primary
// accepts writes. It returns the new primary's address.
func (rs *RedisSentinel) Failover(ctx context.Context) (string, error) {
	old, err := rs.Primary(ctx)
	if err != nil {
		return "", err
	}
	sc := redis.NewSentinelClient(&redis.Options{Addr: rs.Sentinels[0]})
	defer sc.Close()
	if err := sc.Failover(ctx, rs.MasterName).Err(); err != nil {
		return "", fmt.Errorf("sentinel failover: %w", err)
	}
	return rs.promoted(ctx, old)
}

// KillPrimary kills the current primary (SIGKILL: no goodbye to anyone)
// and waits until the Sentinels, having agreed it is down, name the
// replica primary and it accepts writes. It returns the new primary's
// address. The killed server stays down.
func (rs *RedisSentinel) KillPrimary(ctx context.Context) (string, error) {
	old, err := rs.Primary(ctx)
	if err != nil {
		return "", err
	}
	for i, a := range rs.addrs {
		if a == old {
			rs.servers[i].kill()
		}
	}
	return rs.promoted(ctx, old)
}

// promoted waits until the Sentinels name a primary other than old and it
// accepts writes.
func (rs *RedisSentinel) promoted(ctx context.Context, old string) (string, error) {
	var (
		now string
		err error
	)
	err = Poll(ctx, func() error {
		if now, err = rs.Primary(ctx); err != nil {
			return err
		}
		if now == old {
			return fmt.Errorf("still %s", old)
		}
		c := redis.NewClient(&redis.Options{Addr: now, MaxRetries: -1})
		defer c.Close()
		return infoHas(ctx, c, "role:master")
	})
	if err != nil {
		return "", fmt.Errorf("failover from %s: %w", old, err)
	}
	return now, nil
}

// FreezeReplica stops the process of the current replica (SIGSTOP), so
// that it acknowledges nothing while the primary still counts it as
// connected; the returned func resumes it (also done in t.Cleanup).
func (rs *RedisSentinel) FreezeReplica(t testing.TB) (resume func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	primary, err := rs.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range rs.addrs {
		if a == primary {
			continue
		}
		p := rs.servers[i]
		if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("testenv: freeze replica %s: %v", a, err)
		}
		var once sync.Once
		resume := func() { once.Do(func() { _ = p.cmd.Process.Signal(syscall.SIGCONT) }) }
		t.Cleanup(resume)
		return resume
	}
	t.Fatal("testenv: no replica to freeze")
	return nil
}

func infoHas(ctx context.Context, c *redis.Client, want string) error {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, want) {
		return fmt.Errorf("INFO replication lacks %s", want)
	}
	return nil
}

func (rs *RedisSentinel) stop(t testing.TB) {
	t.Helper()
	// Sentinels first, so that they do not fail over while the servers stop.
	for _, p := range rs.sentinels {
		p.stop(t)
	}
	for _, p := range rs.servers {
		p.stop(t)
	}
}

// privateLoopback is a random address of 127.0.0.0/8 other than 127.0.0.1
// (Linux answers on all of it).
func privateLoopback() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("127.%d.%d.%d", 1+b[0]%250, 1+b[1]%250, 1+b[2]%250)
}
