package config

import (
	"net/url"
	"strings"
)

// urlKind selects the rules of webURL beyond the common ones.
type urlKind int

const (
	issuerURL         urlKind = iota // no query, no trailing slash
	baseURL                          // no query
	redirectURL                      // query allowed
	publicRedirectURL                // query allowed; http loopback allowed without the flag
)

// webURL checks an absolute https URL; http is accepted only on a loopback
// host and only when httpLoopback is true. It returns the parsed URL, or nil
// after reporting a problem.
func (v *validator) webURL(path, raw string, httpLoopback bool, kind urlKind) *url.URL {
	example := "https://rp.example.org/callback"
	if kind == issuerURL || kind == baseURL {
		example = "https://connexion.example.org"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		v.report(path, "%q is not an absolute URL such as %q", raw, example)
		return nil
	}
	if u.User != nil {
		v.report(path, "%q must not contain a user name or password", raw)
		return nil
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		v.report(path, "%q must not contain a fragment (the part after #)", raw)
		return nil
	}
	if (kind == issuerURL || kind == baseURL) && (u.RawQuery != "" || u.ForceQuery) {
		v.report(path, "%q must not contain a query (the part after ?)", raw)
		return nil
	}
	if kind == issuerURL && strings.HasSuffix(raw, "/") {
		// Endpoints are the issuer followed by a path; a trailing slash would
		// double it, and relying parties compare the issuer byte for byte.
		v.report(path, "%q must not end with a slash; write %q", raw, strings.TrimRight(raw, "/"))
		return nil
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return u
	case "http":
		if httpLoopback && IsLoopback(u.Hostname()) {
			return u
		}
		if kind == publicRedirectURL {
			v.report(path, "%q must use https (http is only allowed for loopback hosts: 127.0.0.1, ::1 or localhost)", raw)
		} else {
			v.report(path, "%q must use https (http is only allowed for loopback hosts with insecure_loopback: true)", raw)
		}
		return nil
	}
	v.report(path, "%q must use https", raw)
	return nil
}

// hostOf is the host of a URL that ldapURL accepted.
func hostOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Hostname()
}

// ldapURL checks a directory URL and reports whether it is ldaps.
func (v *validator) ldapURL(path, raw string) (ldaps, ok bool) {
	u, err := url.Parse(raw)
	if err != nil {
		v.report(path, "%q is not a URL such as \"ldaps://ldap.example.org:636\"", raw)
		return false, false
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "ldap" && scheme != "ldaps":
		v.report(path, "%q must start with ldap:// or ldaps://", raw)
	case u.Hostname() == "":
		v.report(path, "%q has no host name", raw)
	case u.Port() != "" && !validPort(u.Port(), false):
		v.report(path, "%q has an invalid port", raw)
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.report(path, "%q must be only scheme, host and port (set base_dn and user_filter separately)", raw)
	default:
		return scheme == "ldaps", true
	}
	return false, false
}
