// Package login serves the « mire de connexion »: it shows the form for a
// pending sign-in, checks the password against the directory, opens the
// SSO session and hands the sign-in back to the provider, which sends the
// browser to the site with a code.
//
// GET  /login?authRequestID=…  form, or silent sign-in with a live session
// POST /login?authRequestID=…  check the password, then 303 to the callback
//
// It never mints tokens and never knows Redis key names.
package login
