package app_test

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/region-nouvelle-aquitaine/idp/idp/dev"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// A newcomer clicks « Je suis un agent du siège » in `make run` and signs
// in at the demo upstream with the login the banner printed.
func TestDevModeUpstream(t *testing.T) {
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
			return false, fmt.Sprintf("dev mode did not listen (%v)", err)
		}
		c.Close()
		return true, ""
	})
	m := regexp.MustCompile(`agent du siège » signs in at a demo upstream provider \((http://[^)]+)\):\n\s+(\S+)\s+(\S+)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("the banner does not give the demo upstream's login:\n%s", out.String())
	}
	upstream, username, password := m[1], m[2], m[3]

	b := testenv.Browser(t)
	if err := chromedp.Do(timeout(t, b), chromedp.Navigate("http://"+addr+"/demo/start"), chromedp.WaitVisible(chromedp.CSS("h1"))); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.RunResponse(timeout(t, b), chromedp.Click(link("Je suis un agent du siège"))); err != nil {
		t.Fatal(err)
	}
	if loc := location(t, b); !strings.HasPrefix(loc, upstream+"/") {
		t.Fatalf("the button leads to %s, want the demo upstream %s", loc, upstream)
	}
	_, err = chromedp.RunResponse(timeout(t, b),
		chromedp.SendKeys(chromedp.CSS("#username"), username),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Click(button("Login")),
	)
	if err != nil {
		t.Fatal(err)
	}
	if loc := location(t, b); loc != "http://"+addr+"/demo/" {
		t.Fatalf("after the upstream the browser is at %s", loc)
	}
	if page := text(t, b, "main"); !strings.Contains(page, dev.DemoUpstreamID+".") || !strings.Contains(page, "test-user@zitadel.ch") {
		t.Fatalf("the demo site does not show the federated claims:\n%s", page)
	}
}
