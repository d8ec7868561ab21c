package views

import "embed"

// Static holds the stylesheet and other files served under /static/.
// Keeping CSS out of the pages lets the CSP forbid inline styles.
//
//go:embed static
var Static embed.FS
