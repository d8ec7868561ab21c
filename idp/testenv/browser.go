package testenv

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// disabledFeatures keeps chromedp's defaults and turns off what would make
// http://127.0.0.x behave unlike a plain site: automatic HTTPS upgrades and
// Local/Private Network Access checks (loopback to loopback is allowed today,
// but the rules keep moving). Each 127.0.0.x host stays its own site for
// cookies and SameSite, so one test can run a provider on 127.0.0.1 and a
// relying party on 127.0.0.2.
var disabledFeatures = []string{
	"Translate", "BlinkGenPropertyTrees", // chromedp defaults
	"HttpsUpgrades", "HttpsFirstBalancedModeAutoEnable",
	"LocalNetworkAccessChecks", "PrivateNetworkAccessSendPreflights",
	"PrivateNetworkAccessRespectPreflightResults",
	"MediaRouter", "OptimizationHints", "AutofillServerCommunication",
}

// BrowserOption changes how Browser starts Chromium.
type BrowserOption func(*[]chromedp.ExecAllocatorOption)

// TrustCA makes Chromium accept the certificate of ca's leaf as valid: the
// page is a secure context and keeps Secure and __Host- cookies, as a
// browser that trusts a real CA would. Chromium takes no CA file on Linux
// without an NSS database; --ignore-certificate-errors-spki-list instead
// accepts exactly the listed public keys (it needs --user-data-dir, which
// the allocator's fresh profile passes), and nothing else.
func TrustCA(ca *CA) BrowserOption {
	return func(opts *[]chromedp.ExecAllocatorOption) {
		*opts = append(*opts, chromedp.Flag("ignore-certificate-errors-spki-list", ca.SPKI()))
	}
}

// Browser starts headless Chromium with a fresh profile (its own cookie jar)
// and returns its context, already started, so that callers may derive
// per-step timeouts from it. The browser is closed in t.Cleanup.
func Browser(t testing.TB, options ...BrowserOption) context.Context {
	t.Helper()
	bin := Require(t, "chromium", "chromium")
	// Chromium leaves its singleton socket (and, with disable-dev-shm-usage,
	// its shared memory files) in TMPDIR when it is stopped; give it a short
	// private one (unix socket paths are limited to 108 bytes, which
	// t.TempDir of a long subtest name can exceed) and remove it afterwards.
	tmp, err := os.MkdirTemp("", "chromium")
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.Env("TMPDIR="+tmp),
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in containers
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		// Environment proxies must not see loopback test traffic.
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-features", strings.Join(disabledFeatures, ",")),
	)
	for _, o := range options {
		o(&opts)
	}
	// No UserDataDir option: the allocator makes a fresh temporary profile
	// per browser and removes it once the process has exited (including
	// leftover helper processes), which t.TempDir could not guarantee.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser process to exit
		_ = os.RemoveAll(tmp)
	})
	// The first Do starts the browser; it must not carry a timeout, or the
	// browser would die with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("testenv: start chromium: %v", err)
	}
	return ctx
}
