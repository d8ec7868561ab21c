package version

import (
	"runtime"
	"runtime/debug"
)

// Build is what the binary knows of its own build, for the build-info metric.
type Build struct {
	Version   string // module version, "(devel)" for a local build
	Commit    string // VCS revision, "unknown" when not recorded
	GoVersion string
}

// Info returns the binary's Build.
func Info() Build {
	b := Build{Version: "(devel)", Commit: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if bi.Main.Version != "" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			b.Commit = s.Value
		}
	}
	return b
}
