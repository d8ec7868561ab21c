package testenv

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestBrowserTrustsCA: with TrustCA, Chromium accepts the test CA's
// certificate as a real one (no error, a secure page) and applies the
// rules of https cookies: Secure and __Host- cookies are kept, and a
// __Host- cookie with a path is refused, as in any browser. Without the
// option the same certificate is refused.
func TestBrowserTrustsCA(t *testing.T) {
	t.Parallel()
	ca := LoopbackCA(t)
	if LoopbackCA(t) != ca {
		t.Error("LoopbackCA made a second CA in the same process")
	}
	for _, name := range []string{"127.0.0.1", "127.0.0.2", "::1", "localhost"} {
		if _, err := ca.Leaf.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}); err != nil {
			t.Errorf("leaf for %s: %v", name, err)
		}
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []*http.Cookie{
			{Name: "__Host-kept", Value: "1", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode},
			{Name: "__Secure-kept", Value: "1", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode},
			{Name: "__Host-pathed", Value: "1", Path: "/sous-dossier", Secure: true, HttpOnly: true},
		} {
			http.SetCookie(w, c)
		}
		var names []string
		for _, c := range r.Cookies() {
			names = append(names, c.Name)
		}
		slices.Sort(names)
		fmt.Fprintf(w, "<!doctype html><title>t</title><p id=c>%s</p><p id=s></p><script>document.getElementById('s').textContent = String(window.isSecureContext)</script>",
			strings.Join(names, " "))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.Listener.Close()
	srv.Listener = l
	srv.TLS = ca.ServerTLS()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u := srv.URL + "/"

	resp, err := ca.Client().Get(u)
	if err != nil {
		t.Fatalf("Go client with the CA: %v", err)
	}
	resp.Body.Close()
	if _, err := (&http.Client{Transport: &http.Transport{}}).Get(u); err == nil {
		t.Error("a Go client without the CA accepted the certificate")
	}

	ctx := Browser(t, TrustCA(ca))
	cookies := WatchCookies(t, ctx)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	first, err := chromedp.RunResponse(ctx, chromedp.Navigate(u))
	if err != nil {
		t.Fatalf("Chromium with TrustCA: %v", err)
	}
	if first.SecurityState != "secure" {
		t.Errorf("security state %q, want secure", first.SecurityState)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
		t.Fatal(err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Text("#c")); err != nil || got != "__Host-kept __Secure-kept" {
		t.Errorf("cookies sent back = %q (%v), want the __Host- and __Secure- ones", got, err)
	}
	if got, err := chromedp.Run(ctx, chromedp.Text("#s")); err != nil || got != "true" {
		t.Errorf("isSecureContext = %q (%v)", got, err)
	}
	stored, err := Cookies(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range stored {
		if !c.Secure || !c.HTTPOnly || c.Path != "/" {
			t.Errorf("stored cookie %+v", c)
		}
	}
	// Every response (pages and favicon) tried the pathed cookie.
	refused := cookies.Refused()
	if len(refused) < 2 {
		t.Errorf("refused cookies %q, want __Host-pathed at each response", refused)
	}
	for _, r := range refused {
		if !strings.HasPrefix(r, "__Host-pathed=") || !strings.HasSuffix(r, "(InvalidPrefix)") {
			t.Errorf("refused %q, want only __Host-pathed for its prefix", r)
		}
	}

	plain := Browser(t)
	plain, cancel = context.WithTimeout(plain, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(plain, chromedp.Navigate(u)); err == nil || !strings.Contains(err.Error(), "CERT") {
		t.Errorf("Chromium without TrustCA: %v, want a certificate error", err)
	}
}
