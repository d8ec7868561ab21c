package oidc

import (
	"context"
	"errors"
	"net"
	"net/url"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
)

// The caller logs the connector's errors: the library's own texts are
// never passed on, as some carry the nonce (CheckNonce), a token or an
// answer's body (its HTTP helper). Ours are fixed.

// tokenChecks are the library's verification failures, in our words.
var tokenChecks = []struct {
	err  error
	text string
}{
	{zoidc.ErrNonceInvalid, "the nonce does not match this browser's"},
	{zoidc.ErrIssuerInvalid, "the issuer does not match (iss)"},
	{zoidc.ErrAudience, "not for this client (audience)"},
	{zoidc.ErrAzpMissing, "several audiences and no authorized party (azp)"},
	{zoidc.ErrAzpInvalid, "authorized party (azp) is another client"},
	{zoidc.ErrSubjectMissing, "no subject"},
	{zoidc.ErrSignatureUnsupportedAlg, "signature algorithm not allowed"},
	{zoidc.ErrSignatureMissing, "no signature"},
	{zoidc.ErrSignatureMultiple, "several signatures"},
	{zoidc.ErrSignatureInvalidPayload, "the signature is not over this payload"},
	// Also the upstream's keys answering badly: the library does not
	// tell the two apart but for network errors, sorted out before.
	{zoidc.ErrSignatureInvalid, "the signature does not verify, or the upstream's keys could not be read"},
	{zoidc.ErrExpired, "expired"},
	{zoidc.ErrIatMissing, "no issued-at time (iat)"},
	{zoidc.ErrIatInFuture, "issued in the future (iat)"},
	{zoidc.ErrIatToOld, "issued too long ago (iat)"},
	{zoidc.ErrAcrInvalid, "the level (acr) is none of those asked for"},
	{zoidc.ErrAuthTimeNotPresent, "no authentication time (auth_time)"},
	{zoidc.ErrAuthTimeToOld, "authentication too old (auth_time)"},
	{zoidc.ErrAtHash, "at_hash does not match the access token"},
	{zoidc.ErrParse, "malformed token"},
	{rp.ErrMissingIDToken, "no ID token in the token response"},
}

// checkText is err, a failed verification, in our words.
func checkText(err error) string {
	for _, c := range tokenChecks {
		if errors.Is(err, c.err) {
			return c.text
		}
	}
	return "does not verify"
}

// networkError is the network failure in err, nil if none: only it is
// passed on, not the library's text around it.
func networkError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		// Its URL is an endpoint the upstream published; the requests
		// made here carry nothing in their query.
		return ue
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ne
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return nil
}

// discoveryError words a failed discovery other than a network failure.
// The library's text holds the answer's body: the status goes with it,
// the URL tells where to look.
func discoveryError(err error) string {
	switch {
	case errors.Is(err, zoidc.ErrIssuerInvalid):
		return "the discovery document names another issuer"
	case errors.Is(err, httphelper.ErrResponseBodyTooLarge):
		return "the discovery document is too large"
	}
	return "no discovery document (an answer other than HTTP 200, or not JSON)"
}
