// Package importrules holds only a test: the import rules that keep the
// tiers apart, checked with `go list` on the whole module. It lives on its
// own so that the check builds nothing but the module's package graph and
// runs in seconds, whichever packages the rules are about.
package importrules
