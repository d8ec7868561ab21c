package job

import (
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is one settled job, as published on Queue.EventsStream: the web
// tier reads it to end the person's sessions and send the notification,
// even when the browser was closed. It holds no secret: not the password,
// not the login, not the mail.
type Event struct {
	StreamID string // the stream entry id
	JobID    string
	Subject  string
	State    State // Done, Rejected, Failed or Partial
	Reason   Reason
	Attempts int
	At       time.Time // when it settled (the queue's clock)
	// Targets are the outcomes per target, in the worker's order (the
	// stream field "targets", JSON); nil when none was recorded.
	Targets []TargetOutcome
}

// ParseEvent reads an entry of the events stream.
func ParseEvent(m redis.XMessage) (Event, error) {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	at, err1 := strconv.ParseInt(str("at"), 10, 64)
	attempts, err2 := strconv.Atoi(str("attempts"))
	e := Event{
		StreamID: m.ID, JobID: str("job"), Subject: str("sub"),
		State: State(str("state")), Reason: Reason(str("reason")),
		Attempts: attempts, At: time.UnixMilli(at),
	}
	targets, err3 := decodeTargets(str("targets"))
	e.Targets = targets
	if err1 != nil || err2 != nil || err3 != nil || e.JobID == "" || !e.State.Settled() {
		return e, fmt.Errorf("%w: event %s malformed", ErrInvalid, m.ID)
	}
	return e, nil
}
