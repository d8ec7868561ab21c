// Package reset serves « Mot de passe perdu », the whole journey of the
// Région's user guide: profile, address, code (or mailed link), new
// password, waiting while the directory is written, success or failure.
//
//	GET  /mot-de-passe-perdu            the profile choice (keeps the pending sign-in)
//	POST /mot-de-passe-perdu            usager: a new flow (Strict cookie); others: their provider
//	GET  /mot-de-passe-perdu/adresse    the address form
//	POST /mot-de-passe-perdu/adresse    throttled; always the same answer; lookup and mail off the request
//	GET  /mot-de-passe-perdu/code       the code form
//	POST /mot-de-passe-perdu/code       5 tries a code; 10 failures in 24 h suspend an account 1 h
//	POST /mot-de-passe-perdu/renvoyer   a new code to the address the flow knows
//	GET  /mot-de-passe-perdu/lien?t=…   moves the token from the URL to a cookie
//	GET  /mot-de-passe-perdu/lien       « Continuer » (GET and HEAD never use the link up)
//	POST /mot-de-passe-perdu/lien       uses the link, in any browser
//	GET  /mot-de-passe-perdu/nouveau    the new password; only for a verified flow
//	POST /mot-de-passe-perdu/nouveau    checked against every policy, then queued for ldapsync
//	GET  /mot-de-passe-perdu/attente    waits for the directory (attente/etat polls it)
//	GET  /mot-de-passe-perdu/termine    success; « Continuer » goes to return_to (returnto.go) or the login screen
//	GET  /mot-de-passe-perdu/echec      the change was refused or could not be written
//
// Whether an address belongs to an account never shows: the same page,
// status and cookies come back, and the directory lookup and the mail
// happen after the response, in the background. Codes and link tokens are
// stored only as HMACs keyed outside Redis. Every limit counts over a
// sliding window (idp/store Allow), so no burst passes at a boundary; a
// wrong code is counted before it is compared (idp/store Strike), so no
// burst of parallel codes passes the suspension either.
package reset
