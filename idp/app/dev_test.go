package app_test

import (
	"context"
	"fmt"
	"github.com/region-nouvelle-aquitaine/idp/idp/dev"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// What `make run` does, followed by a newcomer's first click-through:
// the demo site, the login screen, a demo account, the claims.
func TestDevModeClickThrough(t *testing.T) {
	addr := fmt.Sprintf("localhost:%d", testenv.FreePort(t, "127.0.0.1"))
	ctx, stop := context.WithCancel(context.Background())
	var out testenv.Buffer
	a, err := dev.Build(ctx, &out, addr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx); a.Close() }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false, fmt.Sprintf("dev mode did not listen (%v); output:\n%s", err, out.String())
		}
		c.Close()
		return true, ""
	})
	banner := out.String()
	for _, want := range []string{"DEV MODE", "http://" + addr + "/demo/", "jdupont", "Correct-Horse-42"} {
		if !strings.Contains(banner, want) {
			t.Errorf("start-up banner lacks %q:\n%s", want, banner)
		}
	}

	b := testenv.Browser(t)
	if err := chromedp.Do(timeout(t, b), chromedp.Navigate("http://"+addr+"/demo/"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, b, "h1"); h1 != "Site de démonstration" {
		t.Fatalf("/demo/ shows %q, want the demo site", h1)
	}
	if _, err := chromedp.RunResponse(timeout(t, b), chromedp.Click(chromedp.Search(`//a[contains(., "Se connecter")]`))); err != nil {
		t.Fatal(err)
	}
	if h1 := text(t, b, "h1"); h1 != "Connexion" {
		t.Fatalf("the demo site's link leads to %q", h1)
	}
	signIn(t, b, "jdupont", "Correct-Horse-42")
	if loc := location(t, b); loc != "http://"+addr+"/demo/" {
		t.Fatalf("after sign-in the browser is at %s", loc)
	}
	if page := text(t, b, "main"); !strings.Contains(page, "jeanne.dupont@example.org") || !strings.Contains(page, "4f1c2d7e-6a0b-4d3e-9a51-3c2f8e7b1a01") {
		t.Fatalf("the demo site does not show the claims:\n%s", page)
	}
}
