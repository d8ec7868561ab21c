package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// RedisLogger adapts go-redis's logger (redis.SetLogger) to log: its lines,
// about dropped connections and failed dials, go out as WARN records of
// the same stream instead of plain text on stderr.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	if ctx == nil {
		ctx = context.Background()
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if !strings.HasPrefix(msg, "redis: ") {
		msg = "redis: " + msg
	}
	l.Log.WarnContext(ctx, msg)
}
