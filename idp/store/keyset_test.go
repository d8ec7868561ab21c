package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// The key set is written with a compare-and-set on its version: of
// writers that read the same version, exactly one wins; the lease has one
// holder at a time and is given up by its holder only.
func TestSigningKeySet(t *testing.T) {
	// One key per command (the set, the lease): nothing Cluster- or
	// Sentinel-specific; the durable write has tests of its own.
	for _, b := range backends[:2] {
		t.Run(b.name, func(t *testing.T) {
			s := b.new(t)(t, time.Now)
			ctx := context.Background()
			got, err := s.LoadSigningKeySet(ctx)
			if err != nil || got.Version != 0 || got.Data != nil {
				t.Fatalf("empty set = %+v, %v", got, err)
			}
			if err := s.SaveSigningKeySet(ctx, 0, nil); err == nil {
				t.Fatal("an empty set was saved")
			}
			var wins int
			var mu sync.Mutex
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Go(func() {
					err := s.SaveSigningKeySet(ctx, 0, fmt.Appendf(nil, "set %d", i))
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil:
						wins++
					case !errors.Is(err, store.ErrConflict):
						t.Errorf("save: %v", err)
					}
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Fatalf("%d writers of version 1 won", wins)
			}
			got, err = s.LoadSigningKeySet(ctx)
			if err != nil || got.Version != 1 {
				t.Fatalf("set = %+v, %v", got, err)
			}
			if err := s.SaveSigningKeySet(ctx, 0, []byte("late")); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("save over a stale version = %v", err)
			}
			if err := s.SaveSigningKeySet(ctx, 1, []byte("second")); err != nil {
				t.Fatal(err)
			}
			if got, _ = s.LoadSigningKeySet(ctx); got.Version != 2 || string(got.Data) != "second" {
				t.Fatalf("set = %+v", got)
			}

			for _, step := range []struct {
				holder string
				want   bool
			}{{"a", true}, {"b", false}, {"a", true}} {
				if ok, err := s.KeyRotationLease(ctx, step.holder, time.Minute); err != nil || ok != step.want {
					t.Fatalf("lease for %s = %v, %v", step.holder, ok, err)
				}
			}
			if err := s.ReleaseKeyRotationLease(ctx, "b"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.KeyRotationLease(ctx, "b", time.Minute); ok {
				t.Fatal("a replica released a lease it did not hold")
			}
			if err := s.ReleaseKeyRotationLease(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := s.KeyRotationLease(ctx, "b", time.Minute); !ok {
				t.Fatal("the lease was not released")
			}

			if _, err := s.LegacySigningKey(ctx, "signing:RS256"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("legacy key absent = %v", err)
			}
			if _, err := s.SigningKey(ctx, "signing:RS256", func() ([]byte, error) { return []byte("old"), nil }); err != nil {
				t.Fatal(err)
			}
			if b, err := s.LegacySigningKey(ctx, "signing:RS256"); err != nil || string(b) != "old" {
				t.Fatalf("legacy key = %q, %v", b, err)
			}
		})
	}
}
