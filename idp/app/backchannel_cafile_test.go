package app_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// TestBackchannelCAFile: over https the sites' certificates come from the
// test CA, which the system does not trust. A provider without
// backchannel_logout.ca_file cannot deliver the logout token (logged,
// retried, the site stays signed in); the same token reaches the site once
// a provider whose ca_file holds the CA takes over the queue.
func TestBackchannelCAFile(t *testing.T) {
	s := startStackWith(t, stackOptions{HTTPS: true})
	if s.cfg.Backchannel.CAFile == "" {
		t.Fatal("the https stack gives the provider no backchannel_logout.ca_file")
	}
	// A replica without ca_file delivers; the first one's sender stops
	// (its pages, which the browser uses, still answer).
	s.app.Close()
	s.systemRootsOnly = true
	without := *s.cfg
	without.Backchannel.CAFile = ""
	replica := s.build(t, &without)

	ctx := s.browser(t)
	rp := s.Sites[0]
	u := testenv.Users()[0]
	visit(t, ctx, rp)
	signIn(t, ctx, u.UID, u.Password)
	if !siteSignedIn(t, ctx, rp) {
		t.Fatal("the site does not show the person signed in")
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Navigate(s.Issuer+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(timeout(t, ctx), chromedp.Click(button("Se déconnecter"))); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		for _, line := range strings.Split(s.Logs.String(), "\n") {
			if strings.Contains(line, "backchannel: logout token not delivered, will retry") &&
				strings.Contains(line, "certificate signed by unknown authority") {
				return true, ""
			}
		}
		return false, "no attempt refused for the site's unknown authority"
	})
	if !siteSignedIn(t, ctx, rp) {
		t.Fatal("the site was signed out by a provider that does not trust its CA")
	}

	replica.Close()
	s.systemRootsOnly = false
	s.build(t, s.cfg)
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		return !siteSignedIn(t, ctx, rp), "the site still shows the person signed in with ca_file given"
	})
}
