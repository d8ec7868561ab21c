package views

import (
	"testing"
	"time"
)

func TestWaitText(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0:                                     "1\u00a0seconde",
		time.Millisecond:                      "1\u00a0seconde",
		time.Second:                           "1\u00a0seconde",
		1500 * time.Millisecond:               "2\u00a0secondes",
		16 * time.Second:                      "16\u00a0secondes",
		59*time.Second + 500*time.Millisecond: "1\u00a0minute",
		time.Minute:                           "1\u00a0minute",
		90 * time.Second:                      "2\u00a0minutes",
		15 * time.Minute:                      "15\u00a0minutes",
		14*time.Minute + 59*time.Second:       "15\u00a0minutes",
	} {
		if got := waitText(d); got != want {
			t.Errorf("waitText(%s) = %q, want %q", d, got, want)
		}
	}
}
