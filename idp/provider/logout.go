package provider

import (
	"context"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/crypto"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// ClaimSID names the sign-in session in ID tokens and logout tokens: the
// session's store.Session.Ref, never its cookie value.
const ClaimSID = "sid"

// LogoutTokenType is the typ header of a logout token, which keeps it from
// being taken for an ID token.
const LogoutTokenType = "logout+jwt"

// BackchannelLogoutEvent is the one member of a logout token's events.
const BackchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken signs a Back-Channel Logout token for clientID, with the
// provider's current signing key: it names the session sid and the person
// sub, carries no nonce, and expires after life. jti names the delivery:
// every attempt at it carries the same one.
func (p *Provider) LogoutToken(ctx context.Context, clientID, sub, sid, jti string, life time.Duration) (string, error) {
	key, err := p.storage.SigningKey(ctx)
	if err != nil {
		return "", fmt.Errorf("logout token: %w", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{
		Algorithm: key.SignatureAlgorithm(),
		Key:       &jose.JSONWebKey{Key: key.Key(), KeyID: key.ID()},
	}, (&jose.SignerOptions{}).WithType(LogoutTokenType))
	if err != nil {
		return "", fmt.Errorf("logout token signer: %w", err)
	}
	now := p.storage.now()
	claims := &oidc.LogoutTokenClaims{
		Issuer:     p.issuer,
		Subject:    sub,
		Audience:   oidc.Audience{clientID},
		IssuedAt:   oidc.FromTime(now),
		Expiration: oidc.FromTime(now.Add(life)),
		JWTID:      jti,
		Events:     map[string]any{BackchannelLogoutEvent: struct{}{}},
		SessionID:  sid,
	}
	tok, err := crypto.Sign(claims, signer)
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return tok, nil
}
