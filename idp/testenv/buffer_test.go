package testenv

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

func TestBuffer(t *testing.T) {
	t.Run("concurrent writes and reads", func(t *testing.T) {
		var b Buffer
		log := slog.New(slog.NewTextHandler(&b, nil))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				for j := range 50 {
					log.Info("line", "writer", i, "n", j)
					_ = b.String()
				}
			})
		}
		wg.Wait()
		if n := strings.Count(b.String(), "\n"); n != 8*50 {
			t.Errorf("%d lines, want %d", n, 8*50)
		}
	})

	// A child's output is kept up to the limit; later writes are dropped
	// but still reported as written, so that the child is not disturbed.
	t.Run("limit", func(t *testing.T) {
		b := Buffer{limit: 10}
		for i := range 5 {
			if n, err := fmt.Fprintf(&b, "line %d\n", i); n != 7 || err != nil {
				t.Fatalf("write %d: %d, %v", i, n, err)
			}
		}
		if got := b.String(); got != "line 0\nline 1\n" {
			t.Errorf("kept %q", got)
		}
	})
}
