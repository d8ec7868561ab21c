package ldapauth

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/region-nouvelle-aquitaine/idp/idp/testenv"
)

// BenchmarkVerifyTiming measures, against the real slapd and interleaved,
// a wrong password for a real entry (slapd records the failure on it) and
// any password for an identifier nobody has, and reports both medians and
// their difference in µs. It is a benchmark, not a test: on shared cores
// a bound on tenths of a millisecond would be flaky. The padding logic
// itself is tested deterministically (TestPadder).
//
//	go test -run '^$' -bench VerifyTiming -benchtime 400x ./idp/ldapauth
func BenchmarkVerifyTiming(b *testing.B) {
	s := testenv.StartSlapd(b, testenv.SlapdOptions{MaxFailure: 1_000_000})
	d, _ := newDirectory(b, s, nil)
	ctx := context.Background()
	known, err := d.Find(ctx, "jdupont")
	if err != nil || !known.Found() {
		b.Fatalf("Find: %v", err)
	}
	unknown, _ := d.Find(ctx, "nobody.here")
	timed := func(c Candidate) time.Duration {
		start := time.Now()
		if _, err := d.Verify(ctx, c, "Wrong-Password-1"); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for range 20 { // warm up: connections, and the padding's history
		timed(known)
		timed(unknown)
	}
	var k, u []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			k, u = append(k, timed(known)), append(u, timed(unknown))
		} else {
			u, k = append(u, timed(unknown)), append(k, timed(known))
		}
	}
	b.StopTimer()
	median := func(v []time.Duration) float64 {
		slices.Sort(v)
		return float64(v[len(v)/2].Microseconds())
	}
	mk, mu := median(k), median(u)
	b.ReportMetric(mk, "µs-known-wrong")
	b.ReportMetric(mu, "µs-unknown")
	b.ReportMetric(mu-mk, "µs-diff")
}

// TestPadder: a bind for nobody is stretched to a recorded slow-path
// duration drawn at random, never shortened, never past maxPad, and not at
// all before anything was recorded; the ring keeps the latest durations.
func TestPadder(t *testing.T) {
	t.Parallel()
	var slept []time.Duration
	p := newPadder()
	p.sleep = func(_ context.Context, d time.Duration) { slept = append(slept, d) }
	idx := 0
	p.pick = func(n int) int { return idx % n }
	ms := time.Millisecond

	p.pad(context.Background(), ms)
	if len(slept) != 0 {
		t.Fatalf("padded with no history: %v", slept)
	}
	p.record(3 * ms)
	p.record(5 * ms)
	tests := []struct {
		pick    int
		elapsed time.Duration
		want    time.Duration
	}{
		{0, ms, 2 * ms},      // 3 ms drawn
		{1, ms, 4 * ms},      // 5 ms drawn
		{1, 6 * ms, 0},       // already slower than the draw
		{0, 3 * ms, 0},       // exactly as long
		{1, 4900000, 100000}, // 0.1 ms short
	}
	for _, tt := range tests {
		idx = tt.pick
		if got := p.wait(tt.elapsed); got != tt.want {
			t.Errorf("draw %d, elapsed %s: wait %s, want %s", tt.pick, tt.elapsed, got, tt.want)
		}
	}
	p.record(10 * time.Second)
	idx = 2
	if got := p.wait(0); got != maxPad {
		t.Errorf("a very slow moment: wait %s, want the cap %s", got, maxPad)
	}
	for i := range 64 {
		p.record(time.Duration(i+100) * ms)
	}
	for i := range 64 {
		idx = i
		if got := p.wait(0); got < 100*ms {
			t.Fatalf("slot %d: %s survived 64 newer records", i, got)
		}
	}
	idx = 0
	p.pad(context.Background(), 99*ms)
	if len(slept) != 1 || slept[0] <= 0 {
		t.Errorf("pad slept %v, want one positive wait", slept)
	}
}
