package testenv

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// CookieWatch records the Set-Cookie lines that Chromium refused to store
// in one tab: a cookie the server meant to set but the browser dropped
// (a __Host- cookie with a path, a Secure cookie over http, …), which a
// page alone cannot tell.
type CookieWatch struct {
	mu      sync.Mutex
	refused []string
}

// WatchCookies starts recording for the tab of ctx (a started Browser
// context) until the test ends.
func WatchCookies(t testing.TB, ctx context.Context) *CookieWatch {
	t.Helper()
	w := &CookieWatch{}
	_, err := chromedp.Run(ctx, func(_ context.Context, target *chromedp.Target) (chromedp.Void, error) {
		wctx, cancel := context.WithCancel(ctx)
		// Events subscribes now, so nothing after WatchCookies returns is missed.
		events := cdp.Events(wctx, target, network.ResponseReceivedExtraInfo)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev, err := range events {
				if err != nil {
					return
				}
				for _, b := range ev.BlockedCookies {
					reasons := make([]string, len(b.BlockedReasons))
					for i, r := range b.BlockedReasons {
						reasons[i] = string(r)
					}
					w.mu.Lock()
					w.refused = append(w.refused, fmt.Sprintf("%s (%s)", b.CookieLine, strings.Join(reasons, ", ")))
					w.mu.Unlock()
				}
			}
		}()
		t.Cleanup(func() { cancel(); <-done })
		return chromedp.Void{}, nil
	})
	if err != nil {
		t.Fatalf("testenv: watch cookies: %v", err)
	}
	return w
}

// Refused lists the refused Set-Cookie lines so far, each with Chromium's
// reasons.
func (w *CookieWatch) Refused() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.refused...)
}

// Cookies returns the cookies Chromium would send to each of urls.
func Cookies(ctx context.Context, urls ...string) ([]*network.Cookie, error) {
	return chromedp.Run(ctx, func(ctx context.Context, target *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, target, network.GetCookies, network.GetCookiesParams{URLs: urls})
		return res.Cookies, err
	})
}
