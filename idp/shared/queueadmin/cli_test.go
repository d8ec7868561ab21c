package queueadmin

import (
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestSplitArgs: flags before, between or after the positional arguments,
// and an id that starts with a dash is an argument, not an unknown flag.
func TestSplitArgs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args, flags, pos string
	}{
		{"--config f.yaml ID", "--config f.yaml", "ID"},
		{"ID --config f.yaml", "--config f.yaml", "ID"},
		{"--config f.yaml -Au2wj-oI_YXalwhF1lKdg", "--config f.yaml", "-Au2wj-oI_YXalwhF1lKdg"},
		{"-Au2wj-oI_YXalwhF1lKdg --config=f.yaml --dry-run", "--config=f.yaml --dry-run", "-Au2wj-oI_YXalwhF1lKdg"},
		{"--operator -bob --config f.yaml ID", "--operator -bob --config f.yaml", "ID"},
		{"--config f.yaml -- --operator", "--config f.yaml", "--operator"},
		{"-h", "-h", ""},
		{"- ID", "", "- ID"},
	} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		fs.String("config", "", "")
		fs.String("operator", "", "")
		fs.Bool("dry-run", false, "")
		flags, pos := splitArgs(fs, strings.Fields(tc.args))
		if !slices.Equal(flags, strings.Fields(tc.flags)) || !slices.Equal(pos, strings.Fields(tc.pos)) {
			t.Errorf("%q: flags %q, positional %q; want %q and %q", tc.args, flags, pos, tc.flags, tc.pos)
		}
	}
}
