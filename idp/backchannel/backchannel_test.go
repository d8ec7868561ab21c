package backchannel

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

type fakeSigner struct{}

func (fakeSigner) LogoutToken(_ context.Context, clientID, sub, sid, jti string, _ time.Duration) (string, error) {
	return strings.Join([]string{clientID, sub, sid, jti}, "|"), nil
}

// site records the logout tokens it accepted; answer decides each status.
type site struct {
	mu       sync.Mutex
	tokens   []string
	attempts int
	answer   func(attempt int) int
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	status := s.answer(s.attempts)
	if status == http.StatusOK {
		s.tokens = append(s.tokens, r.PostFormValue("logout_token"))
	}
	if status == http.StatusFound {
		http.Redirect(w, r, "/elsewhere", status)
		return
	}
	w.WriteHeader(status)
}

func (s *site) state() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.tokens...), s.attempts
}

func TestDelivery(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		answer       func(int) int
		giveUp       time.Duration
		wantTokens   int
		wantAttempts int    // at least, once settled
		wantMax      int    // at most
		wantLast     string // the outcome counted last; every one before it is "retried"
	}{
		{"delivered at once", func(int) int { return 200 }, time.Minute, 1, 1, 1, "delivered"},
		{"down, then back", func(n int) int { return map[bool]int{true: 503, false: 200}[n < 3] }, time.Minute, 1, 3, 3, "delivered"},
		{"refused: not retried", func(int) int { return 400 }, time.Minute, 0, 1, 1, "refused"},
		{"redirect: not followed, retried", func(n int) int { return map[bool]int{true: 302, false: 200}[n < 2] }, time.Minute, 1, 2, 2, "delivered"},
		// Given up after 2 s of retries every 40-80 ms: long enough for a
		// second attempt however late a loaded machine makes the first.
		{"down for good: given up", func(int) int { return 503 }, 2 * time.Second, 0, 2, 2000/40 + 1, "given_up"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, rdb := testenv.Miniredis(t)
			s := &site{answer: tt.answer}
			srv := httptest.NewServer(s)
			t.Cleanup(srv.Close)
			counted := &outcomes{}
			n, err := New(Config{
				Client: rdb, Signer: fakeSigner{},
				URIs:       map[string]string{"rp": srv.URL + "/bc"},
				FirstRetry: 40 * time.Millisecond, MaxRetry: 80 * time.Millisecond, GiveUpAfter: tt.giveUp,
				Poll: 10 * time.Millisecond, Metrics: counted,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = n.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			// "other" has no back-channel URI: not told.
			if err := n.Enqueue(context.Background(), Ended{Subject: "jdupont", SessionRef: "ref1", Clients: []string{"rp", "other"}}); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				left, err := rdb.ZCard(context.Background(), n.key).Result()
				return err == nil && left == 0, "deliveries left in Redis"
			})
			tokens, attempts := s.state()
			if len(tokens) != tt.wantTokens || attempts < tt.wantAttempts || attempts > tt.wantMax {
				t.Errorf("tokens %q after %d attempts, want %d token(s) after %d..%d", tokens, attempts, tt.wantTokens, tt.wantAttempts, tt.wantMax)
			}
			if got := counted.list(); len(got) != attempts || got[len(got)-1] != tt.wantLast ||
				slices.ContainsFunc(got[:len(got)-1], func(o string) bool { return o != "retried" }) {
				t.Errorf("outcomes counted %q for %d attempts, want retried ones then %q", got, attempts, tt.wantLast)
			}
			for _, tok := range tokens {
				p := strings.Split(tok, "|")
				if len(p) != 4 || p[0] != "rp" || p[1] != "jdupont" || p[2] != "ref1" || p[3] == "" {
					t.Errorf("token for %q", tok)
				}
			}
		})
	}
}

// outcomes records what Metrics is told.
type outcomes struct {
	mu  sync.Mutex
	got []string
}

func (o *outcomes) BackchannelAttempt(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, outcome)
}

func (o *outcomes) list() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.got)
}

func TestPause(t *testing.T) {
	n, err := New(Config{Client: nil, Signer: fakeSigner{}})
	if err == nil || n != nil {
		t.Fatal("a notifier without Redis")
	}
	_, rdb := testenv.Miniredis(t)
	n, err = New(Config{Client: rdb, Signer: fakeSigner{}, FirstRetry: time.Second, MaxRetry: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempts, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		if got := n.pause(attempts); got != want {
			t.Errorf("pause(%d) = %s, want %s", attempts, got, want)
		}
	}
}

// SessionsEnding queues a token per site of each session but the one kept,
// and none for a site without a back-channel URI.
func TestSessionsEnding(t *testing.T) {
	t.Parallel()
	_, rdb := testenv.Miniredis(t)
	ctx := context.Background()
	st := store.New(store.Options{Client: rdb})
	now := time.Now()
	var refs []string
	for _, clients := range [][]string{{"rp", "other"}, {"rp"}, {"rp2"}} {
		s := &store.Session{ID: store.NewID(), Subject: "jdupont", Clients: clients, CreatedAt: now, LastSeen: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.SaveSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		refs = append(refs, s.Ref)
	}
	n, err := New(Config{Client: rdb, Signer: fakeSigner{}, URIs: map[string]string{"rp": "https://rp.example/bc", "rp2": "https://rp2.example/bc"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SessionsEnding(ctx, st, "jdupont", refs[1]); err != nil {
		t.Fatal(err)
	}
	members, err := rdb.ZRange(ctx, n.key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, m := range members {
		var d delivery
		if err := json.Unmarshal([]byte(m), &d); err != nil {
			t.Fatal(err)
		}
		if d.Subject != "jdupont" || d.ID == "" {
			t.Errorf("delivery %+v", d)
		}
		got[d.ClientID+" "+d.SID] = true
	}
	want := map[string]bool{"rp " + refs[0]: true, "rp2 " + refs[2]: true}
	if !maps.Equal(got, want) {
		t.Errorf("queued %v, want %v", got, want)
	}
}
