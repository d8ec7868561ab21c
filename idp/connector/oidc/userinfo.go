package oidc

import (
	"context"
	"encoding/json"
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
	var info claimSet
	var err error
	if c.cfg.Upstream.SignedUserinfo {
		info, err = c.signedUserinfo(ctx, p, accessToken)
	} else {
		info, err = c.plainUserinfo(ctx, p, accessToken)
	}
	if err != nil {
		return nil, err
	}
	if info.GetSubject() != subject {
		return nil, fmt.Errorf("%w: upstream %s: userinfo is about another person (sub)", connector.ErrInvalid, id)
	}
	return info, nil
}

// fetchUserinfo is the userinfo answer's body and media type. Not the
// library's rp.Userinfo: its errors carry the body, the person's claims.
func (c *Connector) fetchUserinfo(ctx context.Context, p rp.RelyingParty, accessToken, accept string) ([]byte, string, error) {
	id := c.ID()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.UserinfoEndpoint(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("%w: upstream %s: userinfo request: %w", connector.ErrUnavailable, id, err)
	}
	req.Header.Set("Authorization", zoidc.PrefixBearer+accessToken)
	req.Header.Set("Accept", accept)
	resp, err := p.HttpClient().Do(req)
	if err != nil {
		return nil, "", fmt.Errorf("%w: upstream %s: userinfo: %w", connector.ErrUnavailable, id, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxUserinfo+1))
	if err != nil {
		return nil, "", fmt.Errorf("%w: upstream %s: userinfo: reading the answer: %w", connector.ErrUnavailable, id, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%w: upstream %s: userinfo answered HTTP %d", connector.ErrUnavailable, id, resp.StatusCode)
	}
	if len(body) > maxUserinfo {
		return nil, "", fmt.Errorf("%w: upstream %s: userinfo answer too large", connector.ErrInvalid, id)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return body, mt, nil
}

// plainUserinfo reads a userinfo answer that is a JSON object.
func (c *Connector) plainUserinfo(ctx context.Context, p rp.RelyingParty, accessToken string) (claimSet, error) {
	body, mt, err := c.fetchUserinfo(ctx, p, accessToken, "application/json")
	if err != nil {
		return nil, err
	}
	info := claimSet{}
	if err := json.Unmarshal(body, &info); err != nil {
		hint := ""
		if mt == "application/jwt" {
			hint = " (signed: set signed_userinfo)"
		}
		return nil, fmt.Errorf("%w: upstream %s: userinfo is %q, not a JSON object%s", connector.ErrInvalid, c.ID(), clip(mt), hint)
	}
	return info, nil
}

// signedUserinfo reads a userinfo answer that is a signed JWT
// (application/jwt, as ProConnect sends): signed with one of the
// upstream's published keys, issued by it, for this client.
func (c *Connector) signedUserinfo(ctx context.Context, p rp.RelyingParty, accessToken string) (claimSet, error) {
	id := c.ID()
	body, mt, err := c.fetchUserinfo(ctx, p, accessToken, "application/jwt")
	if err != nil {
		return nil, err
	}
	if mt != "application/jwt" {
		// A plain JSON answer would be unsigned: not what was configured.
		return nil, fmt.Errorf("%w: upstream %s: userinfo is %q, not a signed JWT", connector.ErrInvalid, id, clip(mt))
	}
	raw := strings.TrimSpace(string(body))
	invalid := func(err error) error {
		return fmt.Errorf("%w: upstream %s: userinfo JWT: %s", connector.ErrInvalid, id, checkText(err))
	}

	var tc zoidc.TokenClaims
	payload, err := zoidc.ParseToken(raw, &tc)
	if err != nil {
		return nil, invalid(err)
	}
	v := p.IDTokenVerifier()
	// The algorithms allowed are the ID token's (from discovery, or
	// RS256/ES256/PS256): never "none".
	if err := zoidc.CheckSignature(ctx, raw, payload, &tc, v.SupportedSignAlgs, v.KeySet); err != nil {
		if ne := networkError(err); ne != nil {
			return nil, fmt.Errorf("%w: upstream %s: userinfo keys: %w", connector.ErrUnavailable, id, ne)
		}
		return nil, invalid(err)
	}
	if err := zoidc.CheckIssuerWithISSVerifier(&tc, p.Issuer(), nil); err != nil {
		return nil, invalid(err)
	}
	if err := zoidc.CheckAudience(&tc, p.OAuthConfig().ClientID); err != nil {
		return nil, invalid(err)
	}
	if exp := tc.GetExpiration(); !exp.IsZero() && !c.now().Before(exp) {
		return nil, invalid(zoidc.ErrExpired)
	}
	info := claimSet{}
	if _, err := zoidc.ParseToken(raw, &info); err != nil {
		return nil, invalid(err)
	}
	return info, nil
}
