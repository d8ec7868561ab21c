package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/login"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestNewPasswordOutlivesDeviceCookies: a new password revokes the
// person's device cookies (whoever signed in with the old password keeps
// no budget of their own). The record of that revocation must last as
// long as a device cookie does: once it is gone, the cookies issued before
// it would count again, for sign-in attempts and for « Mot de passe
// perdu » mails and codes alike.
func TestNewPasswordOutlivesDeviceCookies(t *testing.T) {
	s := startStack(t)
	u := testenv.Users()[0]
	r := verifiedReset(t, s, u.Mail)
	const fresh = "Une phrase de passe toute neuve"
	if path, _ := r.setPassword(fresh, fresh); path != "/mot-de-passe-perdu/termine" {
		t.Fatalf("new password: at %s", path)
	}
	ctx := timeout(t, context.Background())
	rc := s.redisClient(t)
	var keys []string
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		var err error
		keys, err = rc.Keys(ctx, s.cfg.Redis.KeyPrefix+"nbf:*").Result()
		return err == nil && len(keys) == 1, "no revocation record"
	})
	ttl, err := rc.PTTL(ctx, keys[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl < login.DeviceLifetime-time.Minute { // less the time the test took
		t.Errorf("the revocation is kept %v, want at least a device cookie's %v", ttl, login.DeviceLifetime)
	}
}
