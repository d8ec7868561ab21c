package app

import (
	"cmp"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/region-nouvelle-aquitaine/idp/idp/binding"
	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// Lifetimes the privacy and cookie pages state that are not configured:
// the device cookie's and an upstream round trip's (idp/login).
const (
	deviceCookieLifetime = 365 * 24 * time.Hour
	upstreamFlowLifetime = 10 * time.Minute
)

// newSite is what every page shows around its content, from the branding
// and legal sections, and the assets its pages link to.
func newSite(cfg *config.Config) (views.Site, *views.Assets, error) {
	b := cfg.Branding
	assets, err := views.NewAssets(views.AssetsConfig{
		PrimaryColor: b.PrimaryColor, FocusColor: b.FocusColor, Logo: b.Logo, LogoType: b.LogoType,
	})
	if err != nil {
		return views.Site{}, nil, err
	}
	links := make([]views.Link, 0, len(b.FooterLinks))
	for _, l := range b.FooterLinks {
		links = append(links, views.Link{Label: l.Label, URL: l.URL})
	}
	site := views.Site{
		SupportURL:       siteSupportURL(cfg),
		AccessibilityURL: cmp.Or(cfg.AccessibilityURL, server.AccessibilityPath),
		LegalNoticeURL:   cmp.Or(cfg.Legal.LegalNoticeURL, server.LegalNoticePath),
		PrivacyURL:       cmp.Or(cfg.Legal.PrivacyURL, server.PrivacyPath),
		CookiesURL:       cmp.Or(cfg.Legal.CookiesURL, server.CookiesPath),
		BrandName:        b.Name,
		ServiceName:      b.ServiceName,
		HomeURL:          "/",
		FooterLinks:      links,
		Assets:           assets.URLs(),
	}
	return site, assets, nil
}

// legalPages serves the built-in legal pages; one the configuration
// places elsewhere answers with a redirect there, so that an old link
// still leads to the one true page.
func legalPages(cfg *config.Config, pages *web.Pages) map[string]http.Handler {
	secure := strings.HasPrefix(cfg.Issuer, "https://")
	host := func(name string) string {
		if secure {
			return "__Host-" + name
		}
		return name
	}
	provider := cfg.Mode != config.ModeResetOnly
	facts := views.LegalFacts{
		Publisher: cfg.Legal.Publisher, PublicationHead: cfg.Legal.PublicationHead, Host: cfg.Legal.Host,
		DPOEmail: cfg.Legal.DPOEmail, DPOAddress: cfg.Legal.DPOAddress, AuditRetention: cfg.Legal.AuditLogRetention,
		SessionIdle: cfg.Session.IdleTimeout, SessionLifetime: cfg.Session.Lifetime, SignIn: cfg.OIDC.AuthRequestLifetime,
		ResetFlow: reset.DefaultLimits.FlowLifetime, ResetCode: reset.DefaultLimits.CodeLifetime,
		Device: deviceCookieLifetime, Upstream: upstreamFlowLifetime,
		ProviderMode: provider,
		Cookies: views.CookieNames{
			CSRF: host("idp_csrf"), Reset: host("idp_reset"), ResetLink: host("idp_reset_link"),
		},
	}
	if provider {
		facts.Cookies.Session = cfg.Session.CookieName
		facts.Cookies.Browser = binding.Cookie{Secure: secure}.Name()
		facts.Cookies.Device = host("idp_device")
		if len(cfg.Upstreams) > 0 {
			facts.Cookies.Upstream = host("idp_upstream")
		}
	}
	p := views.LegalPage{Site: pages.Site, Facts: facts}
	return map[string]http.Handler{
		server.LegalNoticePath: legalHandler(pages, cfg.Legal.LegalNoticeURL, views.LegalNotice(p)),
		server.PrivacyPath:     legalHandler(pages, cfg.Legal.PrivacyURL, views.Privacy(p)),
		server.CookiesPath:     legalHandler(pages, cfg.Legal.CookiesURL, views.Cookies(p)),
		server.AccessibilityPath: legalHandler(pages, cfg.AccessibilityURL,
			views.Accessibility(views.AccessibilityPage{Site: pages.Site})),
	}
}

func legalHandler(pages *web.Pages, elsewhere string, c templ.Component) http.Handler {
	return pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		if elsewhere != "" {
			http.Redirect(w, r, elsewhere, http.StatusFound)
			return nil
		}
		return web.Render(w, r, http.StatusOK, c)
	})
}
