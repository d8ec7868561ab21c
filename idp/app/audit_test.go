package app_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

var hexHash = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestAuditEvents: one record per sign-in event, with the client
// address, the site and the subject when known; an identifier with line
// breaks forges no record and is never logged in clear (it may be a
// password typed in the wrong field), nor is any password.
func TestAuditEvents(t *testing.T) {
	s := startStackWith(t, stackOptions{Config: withThrottle})
	st := s.Sites[0]
	user := testenv.Users()[0]
	b := newBrowserless(t, s)
	loginURL, _ := b.authorize(st, nil)

	forged := "jdupont\n{\"audit\":\"signin.success\",\"sub\":\"admin\"}\r\naudit=signin.success"
	readAll(t, b.login(loginURL, forged, "Typed-As-Identifier-1"))
	readAll(t, b.login(loginURL, user.Password, "oops")) // the password in the identifier field
	resp := b.login(loginURL, user.UID, user.Password)
	resp.Body.Close()

	recs := auditRecords(t, s) // fails on any line that is not one JSON record
	if len(recs) != 3 {
		t.Fatalf("%d audit records, want 3: %v", len(recs), recs)
	}
	sub := s.Slapd.EntryUUID(t, user.UID)
	want := []struct{ audit, reason, sub string }{
		{"signin.failure", "invalid_credentials", ""},
		{"signin.failure", "invalid_credentials", ""},
		{"signin.success", "", sub},
	}
	for i, w := range want {
		r := recs[i]
		if r["audit"] != w.audit || (w.reason != "" && r["reason"] != w.reason) || (w.sub != "" && r["sub"] != w.sub) {
			t.Errorf("record %d = %v, want %+v", i, r, w)
		}
		if r["ip"] != "127.0.0.1" || r["client_id"] != st.ClientID || r["request_id"] == nil {
			t.Errorf("record %d lacks ip, client_id or request_id: %v", i, r)
		}
		if id, _ := r["identifier"].(string); !hexHash.MatchString(id) {
			t.Errorf("record %d identifier %q, want a 128-bit hex hash", i, id)
		}
	}
	if recs[1]["identifier"] == recs[2]["identifier"] {
		t.Error("different identifiers share a hash")
	}
	logs := s.Logs.String()
	for _, secret := range []string{user.Password, "Typed-As-Identifier-1", "oops", `\"sub\":\"admin\"`, "audit=signin.success"} {
		if strings.Contains(logs, secret) {
			t.Errorf("%q appears in the logs", secret)
		}
	}
}
