package testenv

import (
	"slices"
	"sync"
)

// Recorder keeps, safe for concurrent use, what a fake was handed, for a
// test to read back: the mails a fake outbox queued, the people a fake
// throttle forgot.
type Recorder[T any] struct {
	mu  sync.Mutex
	got []T
}

// Add records v.
func (r *Recorder[T]) Add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, v)
}

// All is a copy of everything recorded, oldest first.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}
