package mail

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestKeyRotation: a mail queued under the key a rotation replaced is sent
// while that key is kept among the previous ones; once it is dropped the
// mail goes to the dead letters with an error in the log, and the sender
// goes on with the next mail.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := [32]byte{0x01}, [32]byte{0x02}
	eachBackend(t, func(t *testing.T, c redis.UniversalClient) {
		t.Run("previous key kept", func(t *testing.T) {
			sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
			cfg := testConfig(c, sink, clk)
			cfg.Prefix, cfg.Key = "kept:", oldKey
			enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
			cfg.Key, cfg.PreviousKeys = newKey, [][32]byte{oldKey}
			enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
			runSender(t, cfg)
			sink.WaitForMessages(t, 2, 10*time.Second)
			if d := deadLetters(t, c, "kept:"); len(d) != 0 {
				t.Errorf("dead letters: %v", d)
			}
		})
		t.Run("previous key dropped", func(t *testing.T) {
			sink, clk := testenv.StartSMTP(t), testenv.NewClock(clockStart)
			cfg := testConfig(c, sink, clk)
			cfg.Prefix, cfg.Key = "dropped:", oldKey
			enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
			cfg.Key = newKey
			enqueue(t, newOutbox(t, cfg), plainMessage(jeanne))
			logs := runSender(t, cfg)
			sink.WaitForMessages(t, 1, 10*time.Second)
			waitFor(t, 10*time.Second, "a dead letter", func() bool { return len(deadLetters(t, c, "dropped:")) == 1 })
			if r, _ := deadLetters(t, c, "dropped:")[0].Values["reason"].(string); !strings.Contains(r, "cannot be decrypted") {
				t.Errorf("reason = %q", r)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("giving up was not logged as an error:\n%s", logs)
			}
		})
	})
}
