package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// serveOn starts an HTTP server on a given loopback address.
func serveOn(t *testing.T, host string, h http.Handler) string {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestBrowser(t *testing.T) {
	t.Parallel()
	// Two hosts: a cookie set by 127.0.0.1 must not reach 127.0.0.2.
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "site", Value: r.Host, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		cookies := "none"
		if c, err := r.Cookie("site"); err == nil {
			cookies = c.Value
		}
		fmt.Fprintf(w, "<!doctype html><title>t</title><h1>Bonjour %s</h1><p id=c>%s</p>", r.Host, cookies)
	})
	first := serveOn(t, "127.0.0.1", handler)
	second := serveOn(t, "127.0.0.2", handler)

	ctx := Browser(t)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, u := range []string{first, first, second} {
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Fatalf("navigate %s: %v", u, err)
		}
	}
	h1, err := chromedp.Run(ctx, chromedp.Text("h1"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "Bonjour " + second[len("http://"):]; h1 != want {
		t.Errorf("h1 = %q, want %q", h1, want)
	}
	if c, err := chromedp.Run(ctx, chromedp.Text("#c")); err != nil || c != "none" {
		t.Errorf("cookie on 127.0.0.2 = %q (%v), want none", c, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(first)); err != nil {
		t.Fatal(err)
	}
	if c, err := chromedp.Run(ctx, chromedp.Text("#c")); err != nil || c != first[len("http://"):] {
		t.Errorf("cookie on 127.0.0.1 = %q (%v), want its own", c, err)
	}
}
