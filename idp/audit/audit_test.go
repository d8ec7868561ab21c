package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/audit"
)

// TestOneLinePerEvent: values with line breaks never make a second record,
// with either handler the configuration offers.
func TestOneLinePerEvent(t *testing.T) {
	t.Parallel()
	evil := "jdupont\naudit=signin.success sub=admin\r\n{\"audit\":\"signin.success\"}"
	ids := audit.NewIdentifiers([]byte("k"))
	for _, h := range []struct {
		name string
		new  func(*bytes.Buffer) slog.Handler
	}{
		{"json", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"text", func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) }},
	} {
		var buf bytes.Buffer
		log := slog.New(h.new(&buf))
		audit.Log(context.Background(), log, audit.Event{
			Name: audit.SignInFailure, ClientID: evil, Reason: evil, Subject: evil,
			IP: netip.MustParseAddr("192.0.2.1"), Identifier: ids.Hash(evil),
		})
		out := buf.String()
		if n := strings.Count(out, "\n"); n != 1 {
			t.Errorf("%s: %d lines:\n%s", h.name, n, out)
		}
		// The forged name stays inside quoted values; the real one is the attribute.
		if !strings.Contains(out, ` audit=signin.failure `) && !strings.Contains(out, `"audit":"signin.failure"`) {
			t.Errorf("%s: %s", h.name, out)
		}
	}
}

func TestFields(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	audit.Log(context.Background(), slog.New(slog.NewJSONHandler(&buf, nil)), audit.Event{
		Name: audit.SignInLockout, Subject: "uuid-1", ClientID: "portail", IP: netip.MustParseAddr("2001:db8::1"),
		Reason: "lock_started", RequestID: "R1",
	})
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"msg": "audit", "level": "WARN", "audit": "signin.lockout", "sub": "uuid-1",
		"client_id": "portail", "ip": "2001:db8::1", "reason": "lock_started", "request_id": "R1"}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	if _, ok := rec["identifier"]; ok {
		t.Error("empty identifier logged")
	}
}

func TestIdentifiers(t *testing.T) {
	t.Parallel()
	a, b := audit.NewIdentifiers([]byte("key-a")), audit.NewIdentifiers([]byte("key-b"))
	tests := []struct {
		x, y string
		same bool
	}{
		{"jdupont", "JDupont", true},
		{"jdupont", "  jdupont ", true},
		{"Jeanne  Dupont", "jeanne dupont", true},
		{"ｊｄｕｐｏｎｔ", "jdupont", true}, // full-width letters (NFKC)
		{"jdupont", "jdupond", false},
	}
	for _, tc := range tests {
		if got := a.Hash(tc.x) == a.Hash(tc.y); got != tc.same {
			t.Errorf("Hash(%q) == Hash(%q): %v, want %v", tc.x, tc.y, got, tc.same)
		}
	}
	h := a.Hash("Correct-Horse-42")
	if len(h) != 32 || strings.Contains(h, "orse") || h == b.Hash("Correct-Horse-42") {
		t.Errorf("hash %q: want 32 hex characters that depend on the key", h)
	}
}
