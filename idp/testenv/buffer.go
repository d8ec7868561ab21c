package testenv

import (
	"bytes"
	"sync"
)

// Buffer is a bytes.Buffer that a logger, a server or a child process may
// write to from its own goroutines while the test reads it. It is an
// io.Writer, so it can back an slog handler. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// limit, when positive, drops writes once more than limit bytes are
	// held: a chatty child's output stays bounded, its start is what matters.
	limit int
}

// Write appends p; it never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.buf.Len() > b.limit {
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
