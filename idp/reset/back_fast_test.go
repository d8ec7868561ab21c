package reset_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestResetBack: every step leads back to the previous one, whose page
// still works and keeps what makes sense: the choice of profile, the
// typed address, a code already accepted.
func TestResetBack(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	v := j.verified()

	page := v.Get(lost + "/nouveau")
	if !strings.Contains(page.Body, `<p class="back"><a href="`+lost+`/code">Retour`) {
		t.Fatalf("no « Retour » to the code step:\n%s", page.Body)
	}
	code := v.Get(lost + "/code")
	if code.Status != http.StatusOK || !strings.Contains(code.Body, "Votre code de sécurité a déjà été validé.") ||
		!strings.Contains(code.Body, `href="`+lost+`/nouveau"`) || strings.Contains(code.Body, `id="code"`) {
		t.Fatalf("back on the code step once verified: %d\n%s", code.Status, code.Body)
	}
	if !strings.Contains(code.Body, `<p class="back"><a href="`+lost+`/adresse">Retour`) {
		t.Error("no « Retour » to the address step")
	}
	if a := j.post(v, lost+"/nouveau", lost+"/code", url.Values{"code": {"AAAAAA"}}); a.Location != lost+"/nouveau" {
		t.Errorf("a code sent again once verified: %d to %q", a.Status, a.Location)
	}
	address := v.Get(lost + "/adresse")
	if address.Status != http.StatusOK || !strings.Contains(address.Body, `value="`+demoMail+`"`) {
		t.Fatalf("back on the address step: %d, typed address not kept\n%s", address.Status, address.Body)
	}
	if !strings.Contains(address.Body, `<p class="back"><a href="`+lost+`">Retour`) {
		t.Error("no « Retour » to the profile step")
	}
	// The same address again: still verified, straight on.
	if a := j.post(v, lost+"/adresse", lost+"/adresse", url.Values{"email": {demoMail}}); a.Location != lost+"/nouveau" {
		t.Errorf("the same address once verified: %d to %q", a.Status, a.Location)
	}
	profile := v.Get(lost)
	if profile.Status != http.StatusOK || !strings.Contains(profile.Body, `value="usager" required checked`) {
		t.Errorf("back on the profile step: %d, the choice is not kept\n%s", profile.Status, profile.Body)
	}
	if len(j.mails.All()) != 1 {
		t.Errorf("going back sent %d mails", len(j.mails.All()))
	}
	// The profile step leads back to the login screen it came from, and
	// only to this site's own; without a sign-in there is none to go to.
	if strings.Contains(profile.Body, `<p class="back">`) {
		t.Errorf("« Retour » without a login screen to go back to:\n%s", profile.Body)
	}
	from := v.Get(lost + "?authRequestID=" + url.QueryEscape("ar-1&x=//evil.example"))
	if !strings.Contains(from.Body, `<p class="back"><a href="/login?authRequestID=ar-1%26x%3D%2F%2Fevil.example">Retour<span class="sr-only">`+" à l’étape précédente\u00a0: Connexion</span>") {
		t.Errorf("no « Retour » to the login screen:\n%s", from.Body)
	}
}

// TestResetAnotherAddressOnceVerified: going back to the address step
// after the code was accepted and typing another account's address
// verifies nothing for it: the new password waits for that address's
// code.
func TestResetAnotherAddressOnceVerified(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	v := j.verified()
	if a := j.post(v, lost+"/adresse", lost+"/adresse", url.Values{"email": {"elodie.lefevre@example.org"}}); a.Location != lost+"/code" {
		t.Fatalf("another address: %d to %q", a.Status, a.Location)
	}
	j.h.Wait()
	if a := v.Get(lost + "/nouveau"); a.Status != http.StatusSeeOther || a.Location != lost+"/code" {
		t.Fatalf("new password for another address without its code: %d to %q", a.Status, a.Location)
	}
	form := url.Values{"password": {"Une phrase de passe assez longue"}, "confirmation": {"Une phrase de passe assez longue"}}
	if a := j.post(v, lost+"/code", lost+"/nouveau", form); a.Location != lost+"/code" {
		t.Errorf("a new password posted for another address without its code: %d to %q", a.Status, a.Location)
	}
	if n := len(j.changes.submitted()); n != 0 {
		t.Fatalf("%d changes queued", n)
	}
	// That address's own code does verify it.
	code, _ := j.mails.last(t)
	if a := j.post(v, lost+"/code", lost+"/code", url.Values{"code": {code}}); a.Location != lost+"/nouveau" {
		t.Fatalf("the other address's code: %d to %q", a.Status, a.Location)
	}
}
