package backchannel

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestDeliveryCAFile: a relying party served with a certificate of an
// internal CA gets its logout token when that CA is given in CAFile, and
// never without it (logged, retried, then given up), whatever the system
// trusts; the sender's other hardening holds with CAFile.
func TestDeliveryCAFile(t *testing.T) {
	t.Parallel()
	ca := testenv.LoopbackCA(t)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "rp-ca.pem")
	if err := os.WriteFile(caFile, ca.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		caFile       string
		answer       func(int) int
		wantTokens   int
		wantAttempts int    // reaching the site's handler
		wantLog      string // in the log once settled
	}{
		{"CA in ca_file: delivered", caFile, func(int) int { return 200 }, 1, 1, "backchannel: logout token delivered"},
		{"CA in ca_file, redirect: not followed, retried", caFile, func(n int) int { return map[bool]int{true: 302, false: 200}[n < 2] }, 1, 2, "backchannel: logout token delivered"},
		// The handshake fails: the site never sees a request.
		{"no ca_file: not delivered, given up", "", func(int) int { return 200 }, 0, 0, "x509: certificate signed by unknown authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, rdb := testenv.Miniredis(t)
			s := &site{answer: tt.answer}
			srv := httptest.NewUnstartedServer(s)
			srv.TLS = ca.ServerTLS()
			srv.StartTLS()
			t.Cleanup(srv.Close)
			logs := &testenv.Buffer{}
			n, err := New(Config{
				Client: rdb, Signer: fakeSigner{},
				URIs:       map[string]string{"rp": srv.URL + "/bc"},
				FirstRetry: 40 * time.Millisecond, MaxRetry: 80 * time.Millisecond, GiveUpAfter: time.Second,
				Poll: 10 * time.Millisecond, CAFile: tt.caFile,
				Log: slog.New(slog.NewTextHandler(logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			if n.http.Timeout != 5*time.Second || n.http.CheckRedirect == nil {
				t.Errorf("client: timeout %s, redirect check %v: the hardening is lost", n.http.Timeout, n.http.CheckRedirect != nil)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { _ = n.Run(ctx); close(done) }()
			t.Cleanup(func() { cancel(); <-done })
			if err := n.Enqueue(context.Background(), Ended{Subject: "jdupont", SessionRef: "ref1", Clients: []string{"rp"}}); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				left, err := rdb.ZCard(context.Background(), n.key).Result()
				return err == nil && left == 0, "deliveries left in Redis"
			})
			tokens, attempts := s.state()
			if len(tokens) != tt.wantTokens || attempts != tt.wantAttempts {
				t.Errorf("%d token(s) after %d attempt(s) at the site, want %d after %d", len(tokens), attempts, tt.wantTokens, tt.wantAttempts)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs lack %q:\n%s", tt.wantLog, logs)
			}
			if tt.wantTokens == 0 && !strings.Contains(logs.String(), "backchannel: logout token not delivered, given up") {
				t.Errorf("the undelivered token was not given up with its log line:\n%s", logs)
			}
		})
	}
}

// TestCAFileRefused: a CA file that cannot be used stops New, so the
// process does not start with a sender that would fail every delivery.
func TestCAFileRefused(t *testing.T) {
	t.Parallel()
	_, rdb := testenv.Miniredis(t)
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "missing.pem"), "no such file"},
		{"not PEM", junk, "holds no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n, err := New(Config{Client: rdb, Signer: fakeSigner{}, CAFile: tt.file})
			if err == nil || n != nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "backchannel: CA file") {
				t.Errorf("New = %v, %v; want an error containing %q", n, err, tt.want)
			}
		})
	}
}
