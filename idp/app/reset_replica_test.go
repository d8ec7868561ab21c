package app_test

import (
	"strings"
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestResetWhileTheReplicaLags: the new password is queued on the Redis
// primary, but its replica acknowledges nothing in time. The change is
// there and a worker applies it, so the person follows it on the waiting
// screen to its outcome: never the « service indisponible » page for a
// change that goes through, nor, on trying again, « Une autre
// modification est en cours » without ever being told how it ended.
func TestResetWhileTheReplicaLags(t *testing.T) {
	var rs *testenv.RedisSentinel
	s := startStackWith(t, stackOptions{Redis: func(t testing.TB) config.Redis {
		rs = testenv.StartRedisSentinel(t)
		return config.Redis{Addrs: rs.Sentinels, MasterName: rs.MasterName}
	}})
	u := testenv.Users()[0]
	r := verifiedReset(t, s, u.Mail)
	resume := rs.FreezeReplica(t)
	const fresh = "Une phrase qui attend sa réplique"
	path, body := r.setPassword(fresh, fresh)
	resume()
	if path != "/mot-de-passe-perdu/termine" || !strings.Contains(body, "Votre mot de passe a été modifié") {
		t.Errorf("with the replica behind: at %s: %s", path, pageTitle(body))
		// What trying again shows.
		path, body = r.setPassword(fresh, fresh)
		t.Errorf("trying again: at %s: %s", path, pageTitle(body))
	}
	if !binds(t, s, u.UID, fresh) {
		t.Error("the new password does not open the account")
	}
}

// pageTitle is a page's h1, to say which page it is.
func pageTitle(body string) string {
	_, after, _ := strings.Cut(body, "<h1")
	_, after, _ = strings.Cut(after, ">")
	h, _, _ := strings.Cut(after, "</h1>")
	return h
}
