package provider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// The storage refuses an oversized authorization request by itself, even
// if a route reached the library without the HTTP guard.
func TestCreateAuthRequestBoundsWhatItStores(t *testing.T) {
	rdb := testenv.StartRedis(t).Client(t)
	st := store.New(store.Options{Client: rdb})
	p, err := New(Config{
		Issuer: "http://127.0.0.1:1", LoginPath: "/login",
		Clients:   []Client{{ID: "rp", RedirectURIs: []string{"http://127.0.0.1:2/cb"}, SecretSHA256: make([]byte, 32)}},
		Lifetimes: Lifetimes{AuthRequest: 15 * time.Minute},
	}, st)
	if err != nil {
		t.Fatal(err)
	}
	ok := func() *oidc.AuthRequest {
		return &oidc.AuthRequest{
			ClientID: "rp", RedirectURI: "http://127.0.0.1:2/cb", ResponseType: oidc.ResponseTypeCode,
			Scopes: oidc.SpaceDelimitedArray{oidc.ScopeOpenID}, State: "s", Nonce: "n",
		}
	}
	ctx := binding.NewContext(context.Background(), "a-browser")
	if _, err := p.storage.CreateAuthRequest(ctx, ok(), ""); err != nil {
		t.Fatalf("a normal request: %v", err)
	}
	if _, err := p.storage.CreateAuthRequest(context.Background(), ok(), ""); err == nil {
		t.Error("a request bound to no browser was stored")
	}
	for name, edit := range map[string]func(*oidc.AuthRequest){
		"state":      func(r *oidc.AuthRequest) { r.State = strings.Repeat("s", MaxStateBytes+1) },
		"nonce":      func(r *oidc.AuthRequest) { r.Nonce = strings.Repeat("n", 513) },
		"login_hint": func(r *oidc.AuthRequest) { r.LoginHint = strings.Repeat("h", 257) },
		"code_challenge": func(r *oidc.AuthRequest) {
			r.CodeChallenge, r.CodeChallengeMethod = strings.Repeat("c", 129), oidc.CodeChallengeMethodS256
		},
		"scope":  func(r *oidc.AuthRequest) { r.Scopes = append(r.Scopes, strings.Repeat("x", 300)) },
		"prompt": func(r *oidc.AuthRequest) { r.Prompt = oidc.SpaceDelimitedArray{strings.Repeat("p", 65)} },
	} {
		before, _ := rdb.DBSize(ctx).Result()
		req := ok()
		edit(req)
		_, err := p.storage.CreateAuthRequest(ctx, req, "")
		var e *oidc.Error
		if !errors.As(err, &e) || e.ErrorType != oidc.InvalidRequest {
			t.Errorf("%s too long: %v, want invalid_request", name, err)
		}
		if after, _ := rdb.DBSize(ctx).Result(); after != before {
			t.Errorf("%s too long: %d keys stored", name, after-before)
		}
	}
}
