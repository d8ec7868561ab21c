// Package email holds every mail a person receives, as templ components for
// the HTML part and Go functions for the plain-text part, with the props
// structs they take. All French wording of the mails lives here. Like
// package views, it imports only templ and the standard library: the caller
// builds the props (code, link from the configured public URL, validity),
// this package renders them, and idp/mail delivers the result.
//
// Mail HTML cannot load the site's style sheet: styles are inline
// attributes, the markup is plain (paragraphs, one link), and the content
// is wrapped in an element carrying lang="fr" as well as <html lang="fr">,
// since webmails drop the <html> element.
//
// The plain-text part is built by Go code rather than a template: the
// compiler checks every field it uses, nothing is parsed at run time (no
// package-level template, no init), and there is no HTML escaping to undo,
// which rendering a templ component as text would need. Both parts say the
// same sentences; a test holds them to it.
//
// The *_templ.go files are generated from views/ (make generate, or go
// generate in views/), so the file names inside them start with "email/".
package email
