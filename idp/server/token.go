package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// pkceAsInvalidGrant makes the token endpoint answer invalid_grant, as
// RFC 7636 §4.6 and OIDC-03 ask, where the library says invalid_request
// for a code_verifier that is missing or unexpected (a PKCE downgrade):
// both mean that the presented grant does not verify.
func pkceAsInvalidGrant(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &bufferedWriter{header: http.Header{}}
		next.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		if rec.status == http.StatusBadRequest {
			var e map[string]any
			if json.Unmarshal(body, &e) == nil && e["error"] == "invalid_request" {
				switch e["error_description"] {
				case "code_verifier required", "code_verifier unexpectedly provided":
					e["error"] = "invalid_grant"
					if b, err := json.Marshal(e); err == nil {
						body = b
						rec.header.Set("Content-Length", strconv.Itoa(len(body)))
					}
				}
			}
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// bufferedWriter holds a small response (token responses are) until the
// handler is done.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
