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
// not the login.
type Event struct {
	StreamID string // the stream entry id
	JobID    string
	Subject  string
	State    State // Done, Rejected or Failed
	Reason   Reason
	Attempts int
	At       time.Time // when it settled (the queue's clock)
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
	if err1 != nil || err2 != nil || e.JobID == "" || !e.State.Settled() {
		return e, fmt.Errorf("%w: event %s malformed", ErrInvalid, m.ID)
	}
	return e, nil
}
