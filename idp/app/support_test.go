package app

import (
	"testing"

	"github.com/region-nouvelle-aquitaine/idp/idp/config"
)

// TestMailPrivacyURL: a mail's « Données personnelles » link keeps the
// public URL's path, and is the configured page when there is one.
func TestMailPrivacyURL(t *testing.T) {
	for _, c := range []struct {
		publicURL, configured, want string
	}{
		{"https://connexion.example.fr", "", "https://connexion.example.fr/donnees-personnelles"},
		{"https://www.example.fr/connexion/", "", "https://www.example.fr/connexion/donnees-personnelles"},
		{"https://connexion.example.fr", "https://www.example.fr/rgpd", "https://www.example.fr/rgpd"},
	} {
		cfg := &config.Config{PublicURL: c.publicURL, Legal: config.Legal{PrivacyURL: c.configured}}
		if got := mailPrivacyURL(cfg); got != c.want {
			t.Errorf("public URL %q, privacy_url %q: %q, want %q", c.publicURL, c.configured, got, c.want)
		}
	}
}
