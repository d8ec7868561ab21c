// Package login serves the « mire de connexion »: it shows the form for a
// pending sign-in, checks the password against the directory, opens the
// SSO session and hands the sign-in back to the provider, which sends the
// browser to the site with a code.
//
// GET  /login?authRequestID=…  form, or silent sign-in with a live session
// POST /login?authRequestID=…  check the password, then 303 to the callback
//
// The POST (submit.go) is throttled (idp/throttle) and audited
// (idp/audit). Unknown identifier, wrong password, a lock in the
// directory and a throttled identifier all answer with the one generic
// message; a held-back identifier adds how long to wait, the same
// for known and unknown identifiers, and the « Mot de passe perdu » link
// stays on the page. Only a password the directory proved right can bring
// a specific message: expired, or to be changed after an administrator's
// reset (both lead to « Mot de passe perdu »), or — after a grace login,
// the person being signed in — a page saying how many such sign-ins are
// left, with « Continuer » to the site.
//
// It never mints tokens and never knows Redis key names.
package login
