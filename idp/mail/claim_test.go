package mail

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestTwoSenders: two Senders draining one outbox deliver every mail
// exactly once.
func TestTwoSenders(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
		cfg := testConfig(c, sink, clk)
		o := newOutbox(t, cfg)
		const n = 30
		for i := range n {
			enqueue(t, o, plainMessage(fmt.Sprintf("person%02d@example.org", i)))
		}
		a, b := cfg, cfg
		a.Consumer, b.Consumer = "sender-a", "sender-b"
		runSender(t, a)
		runSender(t, b)
		sink.WaitForMessages(t, n, 20*time.Second)
		time.Sleep(5 * cfg.MaxRetryDelay)
		count := map[string]int{}
		for _, m := range sink.Messages() {
			count[m.To[0]]++
		}
		for i := range n {
			if rcpt := fmt.Sprintf("person%02d@example.org", i); count[rcpt] != 1 {
				t.Errorf("%s got %d mails, want 1", rcpt, count[rcpt])
			}
		}
		if len(count) != n || sink.Transactions() != n {
			t.Errorf("%d recipients, %d transactions, want %d", len(count), sink.Transactions(), n)
		}
	})
}

// TestCrashedSender: a Sender that claimed an entry and died leaves it
// pending; another one claims it once it is idle long enough, and sends it
// unless the marker says it was sent already, or waits while the dead
// Sender's lease lasts.
func TestCrashedSender(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		marker   string        // the marker the crashed Sender left; "" none
		markerTL time.Duration // its TTL
		wantSent int
	}{
		{"crashed before sending", "", 0, 1},
		{"crashed after the relay accepted, before the acknowledgement", markerSent, time.Hour, 0},
		{"crashed while its lease runs", leasePfx + "crashed:x", 500 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			eachBackendExpiring(t, func(t *testing.T, c redis.UniversalClient, expire func(time.Duration)) {
				ctx := context.Background()
				sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
				cfg := testConfig(c, sink, clk)
				enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
				// The crashed Sender: it read the entry and never acknowledged it.
				if err := c.XGroupCreateMkStream(ctx, outboxKey("test:"), group, "0").Err(); err != nil {
					t.Fatal(err)
				}
				read, err := c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "crashed", Streams: []string{outboxKey("test:"), ">"}, Count: 1}).Result()
				if err != nil || len(read[0].Messages) != 1 {
					t.Fatalf("crashed sender read %v, %v", read, err)
				}
				id := read[0].Messages[0].ID
				if tt.marker != "" {
					if err := c.Set(ctx, markerKey("test:", id), tt.marker, tt.markerTL).Err(); err != nil {
						t.Fatal(err)
					}
				}
				start := time.Now()
				runSender(t, cfg) // consumer "sender-a"
				if tt.marker != "" && tt.marker != markerSent {
					time.Sleep(tt.markerTL)
					expire(tt.markerTL)
				}
				waitFor(t, 10*time.Second, "the entry to be settled", func() bool { return len(pending(t, c, "test:")) == 0 })
				if tt.wantSent > 0 {
					sink.WaitForMessages(t, tt.wantSent, 5*time.Second)
				}
				time.Sleep(5 * cfg.MaxRetryDelay)
				if n := sink.Transactions(); n != tt.wantSent {
					t.Errorf("%d SMTP transactions, want %d", n, tt.wantSent)
				}
				if tt.markerTL > 0 && tt.marker != markerSent && time.Since(start) < tt.markerTL {
					t.Errorf("sent after %s, while the crashed Sender's lease (%s) still ran", time.Since(start), tt.markerTL)
				}
				if streamLen(t, c, outboxKey("test:")) != 0 {
					t.Error("the entry is still in the outbox")
				}
			})
		})
	}
}

// TestRunStops: Run returns soon after its context is done, even while it
// waits for new mail.
func TestRunStops(t *testing.T) {
	t.Parallel()
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		cfg := testConfig(c, testenv.StartSMTP(t), testenv.NewClock(clockStart))
		cfg.Block = 300 * time.Millisecond
		s, err := NewSender(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- s.Run(ctx) }()
		time.Sleep(100 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Run did not return within 2s of its context being done")
		}
	})
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	s := &Sender{cfg: Config{RetryDelay: 30 * time.Second, MaxRetryDelay: 5 * time.Minute}}
	tests := []struct {
		deliveries int64
		want       time.Duration
	}{
		{0, 30 * time.Second},
		{1, 30 * time.Second},
		{2, time.Minute},
		{3, 2 * time.Minute},
		{4, 4 * time.Minute},
		{5, 5 * time.Minute},
		{1000, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := s.backoff(tt.deliveries); got != tt.want {
			t.Errorf("backoff(%d) = %s, want %s", tt.deliveries, got, tt.want)
		}
	}
}
