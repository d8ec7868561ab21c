package reset

import (
	"bytes"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
)

// TestCodeUnderPreviousKey: a code mailed before a cookie key rotation is
// accepted while the replaced key is kept, and not once it is dropped.
func TestCodeUnderPreviousKey(t *testing.T) {
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	f := &store.ResetFlow{ID: "flow"}
	f.CodeHash = macWith(oldKey, "code:"+f.ID, "T3A8XQ")
	for _, tc := range []struct {
		name     string
		previous [][]byte
		code     string
		want     bool
	}{
		{"previous key kept", [][]byte{oldKey}, "T3A8XQ", true},
		{"previous key kept, wrong code", [][]byte{oldKey}, "T3A8XR", false},
		{"previous key dropped", nil, "T3A8XQ", false},
	} {
		h := &Handler{cfg: Config{Key: newKey, PreviousKeys: tc.previous}}
		if got := h.codeMatches(f, tc.code); got != tc.want {
			t.Errorf("%s: codeMatches = %v, want %v", tc.name, got, tc.want)
		}
	}
	h := &Handler{cfg: Config{Key: newKey, PreviousKeys: [][]byte{oldKey}}}
	if f.CodeHash = h.mac("code:"+f.ID, "T3A8XQ"); f.CodeHash != macWith(newKey, "code:flow", "T3A8XQ") {
		t.Error("a new code is not keyed with the current key")
	}
}
