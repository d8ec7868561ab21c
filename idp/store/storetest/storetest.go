// Package storetest is the conformance suite of package store: every backend
// that a *store.Store can run on (real Redis, miniredis, later Sentinel or
// Cluster) must pass Run. Expiry is driven by a fake clock, never by sleeping.
package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/store"
	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// NewStore returns a store over a backend the test owns; now must become its
// Options.Now. Each call must give an independent key space (fresh server,
// database or Prefix), since the suite audits every key it finds.
type NewStore func(t *testing.T, now func() time.Time) *store.Store

// Run runs the whole suite; subtests run in parallel.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"IDs", testIDs},
		{"Ping", testPing},
		{"AuthRequest", testAuthRequest},
		{"AuthRequestCarriesRider", testAuthRequestRider},
		{"AuthRequestExpiry", testAuthRequestExpiry},
		{"UpdateAuthRequest", testUpdateAuthRequest},
		{"UpdateAuthRequestConcurrent", testUpdateAuthRequestConcurrent},
		{"Codes", testCodes},
		{"CodeConcurrentConsume", testCodeConcurrentConsume},
		{"GrantRevoke", testGrantRevoke},
		{"ConsumeCodeFor", testConsumeCodeFor},
		{"CompleteWithCode", testCompleteWithCode},
		{"AuthRequestAdmitted", testAuthRequestAdmitted},
		{"AccessTokenWithGrant", testAccessTokenWithGrant},
		{"ResetFlow", testResetFlow},
		{"Rate", testRate},
		{"RateConcurrent", testRateConcurrent},
		{"RateArguments", testRateArguments},
		{"Strike", testStrike},
		{"StrikeSeveral", testStrikeSeveral},
		{"StrikeConcurrent", testStrikeConcurrent},
		{"StrikeArguments", testStrikeArguments},
		{"AccessToken", testAccessToken},
		{"AccessTokenOfFamily", testAccessTokenOfFamily},
		{"RefreshCreate", testRefreshCreate},
		{"RefreshMalformed", testRefreshMalformed},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshReuse", testRefreshReuse},
		{"RefreshConcurrentRotation", testRefreshConcurrentRotation},
		{"RefreshFamilyExpiry", testRefreshFamilyExpiry},
		{"MoveSessionFamilies", testMoveSessionFamilies},
		{"Session", testSession},
		{"KeepRetired", testKeepRetired},
		{"UpdateSessionConcurrent", testUpdateSessionConcurrent},
		{"SubjectIndex", testSubjectIndex},
		{"RevokeSubject", testRevokeSubject},
		{"RevokeSubjectKeepsOneSession", testRevokeSubjectKeeping},
		{"RevokeSubjectNotBefore", testRevokeSubjectNotBefore},
		{"SigningKey", testSigningKey},
		{"SigningKeyRace", testSigningKeyRace},
		{"KeysHaveTTL", testKeysHaveTTL},
		{"NoSecretsInRedis", testNoSecretsInRedis},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := testenv.NewClock(start)
			tc.fn(t, &env{s: newStore(t, c.Now), clock: c, ctx: t.Context()})
		})
	}
}

// start is far from the wall clock on purpose: nothing may depend on Redis's own time.
var start = time.Date(2031, time.March, 4, 5, 6, 7, 0, time.UTC)

type env struct {
	s     *store.Store
	clock *testenv.Clock
	ctx   context.Context
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Fatalf("%s: error = %v, want %v", what, got, want)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// parallel runs fn(i) for i in [0,n) at once, started together, and returns the errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	gate := make(chan struct{})
	for i := range n {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-gate
			errs[i] = fn(i)
		})
	}
	ready.Wait()
	close(gate)
	done.Wait()
	return errs
}

func testPing(t *testing.T, e *env) {
	noErr(t, "Ping", e.s.Ping(e.ctx))
}
