// Package version says which build is running, for `idp version` and
// `ldapsync version`: the module version and the commit Go recorded.
package version

import (
	"fmt"
	"runtime/debug"
)

// String is "<module version> (commit <revision>[, modified])", with
// "(devel)" and "unknown" when the binary was built without them.
func String() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel) (commit unknown)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	rev, modified := "unknown", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified {
		return fmt.Sprintf("%s (commit %s, modified)", v, rev)
	}
	return fmt.Sprintf("%s (commit %s)", v, rev)
}
