package app

import (
	"cmp"
	"net/http"
	"strings"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
	"github.com/region-nouvelle-aquitaine/idp/idp/server"
	"github.com/region-nouvelle-aquitaine/idp/idp/web"
	"github.com/region-nouvelle-aquitaine/idp/views"
)

// ownSupportURL is the address of this provider's support page.
func ownSupportURL(cfg *config.Config) string {
	return strings.TrimSuffix(cfg.PublicURL, "/") + config.SupportPath
}

// mailPrivacyURL is the « Données personnelles » page a mail points to:
// legal.privacy_url, else this provider's own under the public URL (its
// path included, as for every link of a mail).
func mailPrivacyURL(cfg *config.Config) string {
	return cmp.Or(cfg.Legal.PrivacyURL, strings.TrimSuffix(cfg.PublicURL, "/")+server.PrivacyPath)
}

// siteSupportURL is the footer's « J'ai besoin de support »: support_url,
// whose default (config.Load) is this provider's page.
func siteSupportURL(cfg *config.Config) string {
	return cmp.Or(cfg.SupportURL, ownSupportURL(cfg))
}

// supportPage serves config.SupportPath: the configured contact details,
// and a link to support_url when that is another site.
func supportPage(cfg *config.Config, pages *web.Pages) http.Handler {
	p := views.SupportPage{
		Site: pages.Site,
		Contact: views.SupportContact{
			Email: cfg.Support.Email, Phone: cfg.Support.Phone, Hours: cfg.Support.Hours,
			FormURL: cfg.Support.URL, Address: cfg.Support.Address,
		},
	}
	if u := siteSupportURL(cfg); u != ownSupportURL(cfg) {
		p.ElsewhereURL = u
	}
	return pages.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return web.Render(w, r, http.StatusOK, views.Support(p))
	})
}
