package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/web"
)

// chunked hides the length of a body, as a chunked upload would.
type chunked struct{ io.Reader }

func TestLimitBodies(t *testing.T) {
	t.Parallel()
	const max = 1024
	tests := []struct {
		name       string
		method     string
		path       string
		body       io.Reader
		length     int64 // -1: unknown (chunked)
		wantStatus int
		wantPage   string // an excerpt of the French page, or the JSON error
		reached    bool   // the handler ran and read the whole body
	}{
		{"no body", http.MethodGet, "/login", nil, 0, http.StatusOK, "", true},
		{"small form", http.MethodPost, "/login", strings.NewReader("login=a&password=b"), 18, http.StatusOK, "", true},
		{"exactly the limit", http.MethodPost, "/login", strings.NewReader(strings.Repeat("a", max)), max, http.StatusOK, "", true},
		{"declared too large", http.MethodPost, "/login", strings.NewReader(strings.Repeat("a", max+1)), max + 1, http.StatusRequestEntityTooLarge, "Demande trop volumineuse", false},
		{"chunked too large", http.MethodPost, "/login", chunked{strings.NewReader(strings.Repeat("a", 10*max))}, -1, http.StatusRequestEntityTooLarge, "Demande trop volumineuse", false},
		{"chunked small", http.MethodPost, "/login", chunked{strings.NewReader("x=1")}, -1, http.StatusOK, "", true},
		{"token endpoint", http.MethodPost, "/oauth/token", strings.NewReader(strings.Repeat("a", max+1)), max + 1, http.StatusRequestEntityTooLarge, "invalid_request", false},
		{"token endpoint chunked", http.MethodPost, "/oauth/token", chunked{strings.NewReader(strings.Repeat("a", 2*max))}, -1, http.StatusRequestEntityTooLarge, "invalid_request", false},
		{"introspection", http.MethodPost, "/oauth/introspect", strings.NewReader(strings.Repeat("a", max+1)), max + 1, http.StatusRequestEntityTooLarge, "invalid_request", false},
	}
	pages := &web.Pages{Log: slog.New(slog.DiscardHandler)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got string
			reached := false
			h := limitBodies(max, pages, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				reached = true
				b, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("handler read: %v", err)
				}
				got = string(b)
			}))
			req := httptest.NewRequest(tt.method, tt.path, tt.body)
			req.ContentLength = tt.length
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if reached != tt.reached {
				t.Fatalf("handler reached = %v, want %v", reached, tt.reached)
			}
			if tt.reached && tt.body != nil && len(got) == 0 {
				t.Error("the handler got an empty body")
			}
			body := rec.Body.String()
			if !strings.Contains(body, tt.wantPage) {
				t.Errorf("body lacks %q:\n%s", tt.wantPage, body)
			}
			if tt.wantStatus != http.StatusRequestEntityTooLarge {
				return
			}
			if res.Header.Get("Connection") != "close" {
				t.Error("413 without Connection: close: the unread body would poison the connection")
			}
			if strings.HasPrefix(tt.path, "/oauth/") {
				var e map[string]string
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["error"] != "invalid_request" || res.Header.Get("Content-Type") != "application/json" {
					t.Errorf("API 413 = %q (%v), Content-Type %q", body, err, res.Header.Get("Content-Type"))
				}
			} else if !strings.Contains(body, `lang="fr"`) {
				t.Error("page 413 is not the French page")
			}
		})
	}
}
