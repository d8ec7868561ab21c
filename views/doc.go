// Package views holds every page a person sees, as templ components, with
// the props structs they take. All French wording lives here. It imports
// only templ and the standard library: handlers build the props, views
// render them.
package views

//go:generate go tool templ generate -include-version=false
