// Package testenv starts the real external parts a test needs — slapd with the
// ppolicy overlay, redis-server, an SMTP sink and headless Chromium — on free
// loopback ports in the test's temporary directory, and stops them in
// t.Cleanup.
//
// Binaries come from Debian packages (slapd, redis-server, chromium). When one
// is missing the test is skipped with the package to install, except when the
// environment variable CI is "true": then it fails, so that CI cannot go green
// by skipping.
//
// Everything here runs processes that belong to the test (started in the
// foreground under exec.Cmd); no system service is used or needed.
package testenv
