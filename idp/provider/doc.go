// Package provider adapts zitadel/oidc's OpenID Provider to our Redis
// store: it implements op.Storage, holds the registered clients and the
// shared, rotating signing keys (keyring.go), and exposes the few calls
// the login UI needs to finish a pending sign-in.
//
// The flow: /authorize is validated by the library and lands in
// CreateAuthRequest, which stores the request and hands it to the holder
// of WithCreated: the server answers with its login screen rather than the
// library's redirect to the client's LoginURL (/login, which shows the
// same screen again after a wrong password). The login UI checks the
// password and calls Complete; the browser then follows CallbackURL, where
// the library mints a single-use code (SaveAuthCode). The relying party
// redeems it at the token endpoint, which APIHandler serves: an op.Server
// built on the library's LegacyServer whose CodeExchange checks the code
// against the authenticated client before spending it (RedeemCode), and
// whose RefreshToken, UserInfo and VerifyClient answer as the RFCs say
// where the library would not.
//
// It never sees a password and never talks to a directory: the person's
// claims arrive with Complete and travel in the token records.
package provider
