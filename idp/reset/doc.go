// Package reset serves « Mot de passe perdu », steps 1 to 4 of the
// Région's user guide, and stops where the new password will be typed.
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
//	GET  /mot-de-passe-perdu/nouveau    step 5 (next issue); only for a verified flow
//
// Whether an address belongs to an account never shows: the same page,
// status and cookies come back, and the directory lookup and the mail
// happen after the response, in the background. Codes and link tokens are
// stored only as HMACs keyed outside Redis. Every limit counts over a
// sliding window (idp/store Allow), so no burst passes at a boundary.
package reset
