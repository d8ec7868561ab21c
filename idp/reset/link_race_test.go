package reset_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/reset"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// heldLinkStore holds the first SaveResetLink until released: the gap
// between a delivery's flow update and its link record, stretched.
type heldLinkStore struct {
	reset.Store
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (s *heldLinkStore) SaveResetLink(ctx context.Context, hash, flowID string, exp time.Time) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.entered)
		<-s.release
	}
	return s.Store.SaveResetLink(ctx, hash, flowID, exp)
}

// TestResetLinkOfAnEarlierAddress: an attacker asks a code for their own
// address and, while its delivery is in flight, types the victim's address
// in the same flow. Their own link, saved after the address changed, must
// not verify the flow that now stands for the victim's account, in the
// browser that holds the flow or in another one; nor may it take the flow
// away from the browser that holds it.
func TestResetLinkOfAnEarlierAddress(t *testing.T) {
	t.Parallel()
	const attacker = "elodie.lefevre@example.org"
	for _, tc := range []struct {
		name    string
		browser func(j *journey, holder *testenv.Visitor) *testenv.Visitor
	}{
		{"in the browser that holds the flow", func(_ *journey, holder *testenv.Visitor) *testenv.Visitor { return holder }},
		{"in another browser", func(j *journey, _ *testenv.Visitor) *testenv.Visitor { return j.visitor() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var held *heldLinkStore
			j := newJourneyWith(t, func(c *reset.Config) {
				held = &heldLinkStore{Store: c.Store, entered: make(chan struct{}), release: make(chan struct{})}
				c.Store = held
			})
			holder := j.started()
			j.post(holder, lost+"/adresse", lost+"/adresse", url.Values{"email": {attacker}})
			<-held.entered // the flow names the attacker's account and link; the link is not saved yet
			if a := j.post(holder, lost+"/adresse", lost+"/adresse", url.Values{"email": {demoMail}}); a.Location != lost+"/code" {
				t.Fatalf("the victim's address: %d to %q", a.Status, a.Location)
			}
			close(held.release)
			j.h.Wait()

			mailed := map[string][]string{} // code and link, by recipient
			for _, m := range j.mails.All() {
				mailed[m.To] = codeAndLink.FindStringSubmatch(m.Text)[1:]
			}
			if len(mailed[attacker]) == 0 || len(mailed[demoMail]) == 0 {
				t.Fatalf("mails: %v", mailed)
			}
			link := mailed[attacker][1]
			v := tc.browser(j, holder)
			v.Get(strings.TrimPrefix(link, "https://idp.example"))
			a := j.post(v, lost+"/lien", lost+"/lien", nil)
			if a.Status != http.StatusOK || !strings.Contains(a.Body, "Ce lien n’est plus valable") {
				t.Errorf("the earlier address's link: %d to %q, want the page saying it is no longer valid", a.Status, a.Location)
			}
			if a := v.Get(lost + "/nouveau"); a.Status == http.StatusOK {
				t.Errorf("the earlier address's link opened the new-password step of the victim's flow")
			}
			if got := j.changes.submitted(); len(got) != 0 {
				t.Errorf("changes queued: %+v", got)
			}
			// The flow stays where it was, waiting for the victim's code.
			if a := holder.Get(lost + "/code"); a.Status != http.StatusOK {
				t.Errorf("the holder's code step: %d to %q", a.Status, a.Location)
			}
			if a := j.post(holder, lost+"/code", lost+"/code", url.Values{"code": {mailed[demoMail][0]}}); a.Location != lost+"/nouveau" {
				t.Errorf("the victim's code: %d to %q", a.Status, a.Location)
			}
		})
	}
}
