package oidc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/connector"
)

// claimSet is a userinfo answer as the upstream named its claims.
type claimSet map[string]any

func (c claimSet) GetSubject() string {
	s, _ := c["sub"].(string)
	return s
}

// maxUserinfo bounds a userinfo answer.
const maxUserinfo = 1 << 20

// userinfo reads the userinfo endpoint with the access token; its sub
// must be the ID token's.
func (c *Connector) userinfo(ctx context.Context, p rp.RelyingParty, accessToken, subject string) (claimSet, error) {
	id := c.ID()
	if p.UserinfoEndpoint() == "" {
		return nil, fmt.Errorf("%w: upstream %s publishes no userinfo endpoint", connector.ErrUnavailable, id)
	}
	if c.cfg.Upstream.SignedUserinfo {
		info, err := c.signedUserinfo(ctx, p, accessToken)
		if err != nil {
			return nil, err
		}
		if info.GetSubject() != subject {
			return nil, fmt.Errorf("%w: upstream %s: %w", connector.ErrInvalid, id, rp.ErrUserInfoSubNotMatching)
		}
		return info, nil
	}
	info, err := rp.Userinfo[claimSet](ctx, accessToken, zoidc.BearerToken, subject, p)
	switch {
	case errors.Is(err, rp.ErrUserInfoSubNotMatching):
		return nil, fmt.Errorf("%w: upstream %s: %w", connector.ErrInvalid, id, err)
	case err != nil:
		return nil, fmt.Errorf("%w: upstream %s: userinfo: %w", connector.ErrUnavailable, id, err)
	}
	return info, nil
}

// signedUserinfo reads a userinfo answer that is a signed JWT
// (application/jwt, as ProConnect sends): signed with one of the
// upstream's published keys, issued by it, for this client.
func (c *Connector) signedUserinfo(ctx context.Context, p rp.RelyingParty, accessToken string) (claimSet, error) {
	id := c.ID()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserinfoEndpoint(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo: %w", connector.ErrUnavailable, id, err)
	}
	req.Header.Set("Authorization", zoidc.PrefixBearer+accessToken)
	req.Header.Set("Accept", "application/jwt")
	resp, err := p.HttpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo: %w", connector.ErrUnavailable, id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserinfo+1))
	if err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo: %w", connector.ErrUnavailable, id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: upstream %s: userinfo answered HTTP %d", connector.ErrUnavailable, id, resp.StatusCode)
	}
	if len(body) > maxUserinfo {
		return nil, fmt.Errorf("%w: upstream %s: userinfo answer too large", connector.ErrInvalid, id)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/jwt" {
		// A plain JSON answer would be unsigned: not what was configured.
		return nil, fmt.Errorf("%w: upstream %s: userinfo is %q, not a signed JWT", connector.ErrInvalid, id, clip(mt))
	}
	raw := strings.TrimSpace(string(body))

	var tc zoidc.TokenClaims
	payload, err := zoidc.ParseToken(raw, &tc)
	if err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo JWT: %w", connector.ErrInvalid, id, err)
	}
	v := p.IDTokenVerifier()
	// The algorithms allowed are the ID token's (from discovery, or
	// RS256/ES256/PS256): never "none".
	if err := zoidc.CheckSignature(ctx, raw, payload, &tc, v.SupportedSignAlgs, v.KeySet); err != nil {
		if isNetwork(err) {
			return nil, fmt.Errorf("%w: upstream %s: userinfo keys: %w", connector.ErrUnavailable, id, err)
		}
		return nil, fmt.Errorf("%w: upstream %s: userinfo JWT: %w", connector.ErrInvalid, id, err)
	}
	if err := zoidc.CheckIssuerWithISSVerifier(&tc, p.Issuer(), nil); err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo JWT: %w", connector.ErrInvalid, id, err)
	}
	if err := zoidc.CheckAudience(&tc, p.OAuthConfig().ClientID); err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo JWT: %w", connector.ErrInvalid, id, err)
	}
	if exp := tc.GetExpiration(); !exp.IsZero() && !c.now().Before(exp) {
		return nil, fmt.Errorf("%w: upstream %s: userinfo JWT: %w", connector.ErrInvalid, id, zoidc.ErrExpired)
	}
	info := claimSet{}
	if _, err := zoidc.ParseToken(raw, &info); err != nil {
		return nil, fmt.Errorf("%w: upstream %s: userinfo JWT: %w", connector.ErrInvalid, id, err)
	}
	return info, nil
}
