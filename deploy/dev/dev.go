// Package dev ships the embedded default of `make run`: the demo
// directory. It is used only when dev mode is asked for explicitly.
package dev

import _ "embed"

// Directory is the demo directory (YAML).
//
//go:embed directory.yaml
var Directory []byte
