package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gocql/gocql"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
)

// twoDays is two trading days of SPY and one of AAPL: 60 minutes each, with
// closes that never move more than 20%.
func twoDays() []quote.Quote {
	var qs []quote.Quote
	for _, d := range []time.Time{et(2020, 11, 25, 9, 30), et(2020, 11, 27, 9, 30)} {
		for i := range 60 {
			c := 300 + float64(i%7) - float64(i%3)*0.25
			bid := c - 0.01
			x := q("SPY", d.Add(time.Duration(i)*time.Minute), c-0.5, c+1, c-1, c, int64(100*(i%5)))
			if i%2 == 0 {
				x.Bid = &bid
			}
			qs = append(qs, x)
		}
	}
	for i := range 60 {
		c := 120 + float64(i%4)
		qs = append(qs, q("AAPL", et(2020, 11, 27, 9, 30).Add(time.Duration(i)*time.Minute), c, c+1, c-1, c, 50))
	}
	return qs
}

// Quotes written shuffled, duplicated and replayed in overlapping batches
// leave exactly one row each, with the source's values; the derived tables
// equal the pure functions on the source.
func TestIntegration_WriteQuotesIdempotent(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	src := twoDays()
	mixed := shuffledDup(src)
	r := rand.New(rand.NewPCG(3, 4))
	// Four overlapping chunks, then a full replay by a newer epoch.
	for i := 0; i < len(mixed); i += 70 {
		end := min(i+100, len(mixed))
		if err := s.WriteQuotes(ctx, 7, mixed[i:end]); err != nil {
			t.Fatalf("WriteQuotes chunk %d: %v", i, err)
		}
	}
	r.Shuffle(len(src), func(i, j int) { mixed[i], mixed[j] = mixed[j], mixed[i] })
	if err := s.WriteQuotes(ctx, 8, mixed); err != nil {
		t.Fatalf("replay: %v", err)
	}

	for _, sym := range []string{"SPY", "AAPL"} {
		want := normalize(filterSym(src, sym))
		rows, err := s.Rows(ctx, sym, et(2020, 11, 1, 0, 0), et(2020, 12, 1, 0, 0), 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != len(want) {
			t.Fatalf("%s: %d rows; want %d", sym, len(rows), len(want))
		}
		for i, row := range rows {
			if !reflect.DeepEqual(row.Quote, want[i]) || row.Flagged || row.Epoch != 8 {
				t.Fatalf("%s row %d = %+v (flagged %v, epoch %d); want %+v, unflagged, epoch 8", sym, i, row.Quote, row.Flagged, row.Epoch, want[i])
			}
		}
		for _, iv := range Intervals {
			got, err := s.Bars(ctx, sym, iv, et(2020, 11, 1, 0, 0), et(2020, 12, 1, 0, 0), 0)
			if err != nil {
				t.Fatal(err)
			}
			if wantBars := ComputeBars(want, iv); !reflect.DeepEqual(got, wantBars) {
				t.Fatalf("%s %s bars:\n got %+v\nwant %+v", sym, iv, got, wantBars)
			}
		}
	}

	// SPY's latest day is 11-27; its previous close is 11-25's last close.
	spy := normalize(filterSym(src, "SPY"))
	prev := spy[59].Close
	want := ComputeLatest(spy[60:], &prev, s.cfg.SMAWindows, s.cfg.EMAWindows)
	got, err := s.Latest(ctx, "SPY")
	if err != nil || len(got) != 1 {
		t.Fatalf("Latest = %v, %v", got, err)
	}
	got[0].Updated = time.Time{}
	if !reflect.DeepEqual(got[0], want) || len(want.SMA) != 2 || len(want.EMA) != 2 {
		t.Fatalf("latest:\n got %s\nwant %s", fmtLatest(got[0]), fmtLatest(want))
	}
	all, err := s.Latest(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("Latest() = %d rows, %v; want 2", len(all), err)
	}
	if alerts, err := s.Alerts(ctx, et(2020, 11, 25, 0, 0), et(2020, 11, 28, 0, 0), 0); err != nil || len(alerts) != 0 {
		t.Fatalf("Alerts = %v, %v; want none", alerts, err)
	}
	// Limits cut across days.
	if qs, err := s.Quotes(ctx, "SPY", et(2020, 11, 25, 10, 0), et(2020, 11, 27, 9, 35), 40); err != nil || len(qs) != 35 ||
		!qs[0].TS.Equal(et(2020, 11, 25, 10, 0)) || !qs[29].TS.Equal(et(2020, 11, 25, 10, 29)) ||
		!qs[34].TS.Equal(et(2020, 11, 27, 9, 34)) {
		t.Fatalf("Quotes with range = %d, %v", len(qs), err)
	}
	if qs, err := s.Quotes(ctx, "SPY", et(2020, 11, 25, 10, 0), et(2020, 11, 28, 0, 0), 40); err != nil || len(qs) != 40 ||
		!qs[39].TS.Equal(et(2020, 11, 27, 9, 39)) {
		t.Fatalf("Quotes with limit = %d, %v", len(qs), err)
	}
}

func filterSym(qs []quote.Quote, sym string) []quote.Quote {
	var out []quote.Quote
	for _, x := range qs {
		if x.Symbol == sym {
			out = append(out, x)
		}
	}
	return out
}

// Exact stored bars for the hand-made half day (values as in TestComputeBars).
func TestIntegration_BarsExact(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	qs := halfDay()
	// Last minute first, then the rest: the 1d bar is rewritten as minutes arrive.
	if err := s.WriteQuotes(ctx, 1, qs[4:]); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteQuotes(ctx, 1, qs[:4]); err != nil {
		t.Fatal(err)
	}
	from, to := et(2020, 11, 27, 0, 0), et(2020, 11, 28, 0, 0)
	d := day(2020, 11, 27)
	tests := []struct {
		iv   string
		want Bar
		n    int
	}{
		{Interval5m, Bar{"SPY", "5m", d, utc(2020, 11, 27, 14, 30), 100, 102, 98, 99, 4000, 101.25, 3}, 3},
		{Interval1h, Bar{"SPY", "1h", d, utc(2020, 11, 27, 14, 0), 100, 102, 98, 99.25, 6000, 603500.0 / 6000, 4}, 2},
		{Interval1d, Bar{"SPY", "1d", d, utc(2020, 11, 27, 5, 0), 100, 105.5, 98, 105.25, 6500, 656125.0 / 6500, 5}, 1},
	}
	for _, tt := range tests {
		got, err := s.Bars(ctx, "SPY", tt.iv, from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tt.n || got[0] != tt.want {
			t.Errorf("%s: %d bars, first %+v; want %d, first %+v", tt.iv, len(got), got[0], tt.n, tt.want)
		}
	}
	// UpdateAnalytics rebuilds every bar of the day from the stored quotes.
	if err := s.query(ctx, true, `TRUNCATE @bars`).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateAnalytics(ctx, "SPY", []time.Time{et(2020, 11, 27, 23, 0)}); err != nil {
		t.Fatal(err)
	}
	for _, iv := range Intervals {
		got, err := s.Bars(ctx, "SPY", iv, from, to, 0)
		if want := ComputeBars(qs, iv); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s after rebuild:\n got %+v, %v\nwant %+v", iv, got, err, want)
		}
	}
	if _, err := s.Bars(ctx, "SPY", "15m", from, to, 0); !errors.Is(err, ErrInvalidInterval) {
		t.Errorf("Bars(15m) error = %v; want ErrInvalidInterval", err)
	}
}

// Latest with hand-computed SMA/EMA and day change.
func TestIntegration_LatestExact(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	s.cfg.SMAWindows, s.cfg.EMAWindows = []int{2, 3, 10}, []int{3}
	fixed := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	s.now = func() time.Time { return fixed }
	base := et(2020, 3, 9, 9, 30)
	var qs []quote.Quote
	for i, c := range []float64{10, 11, 12, 13, 14} {
		qs = append(qs, q("SPY", base.Add(time.Duration(i)*time.Minute), c, c, c, c, 100))
	}
	// The previous trading day (Friday 03-06, EST) closes at 12.
	qs = append(qs, q("SPY", et(2020, 3, 6, 15, 59), 11, 12, 11, 12, 100))
	if err := s.WriteQuotes(ctx, 1, qs); err != nil {
		t.Fatal(err)
	}
	got, err := s.Latest(ctx, "SPY", "NONE")
	if err != nil || len(got) != 1 {
		t.Fatalf("Latest = %v, %v", got, err)
	}
	want := Latest{Symbol: "SPY", TS: base.Add(4 * time.Minute), Price: 14,
		PrevClose: fp(12), DayChange: fp(2), DayChangePct: fp(100.0 * 2 / 12),
		SMA: map[int]float64{2: 13.5, 3: 13}, EMA: map[int]float64{3: 13}, Updated: fixed}
	if !reflect.DeepEqual(got[0], want) {
		t.Fatalf("latest:\n got %s\nwant %s", fmtLatest(got[0]), fmtLatest(want))
	}
	// A late quote of an older day leaves latest alone.
	s.now = func() time.Time { return fixed.Add(time.Hour) }
	if err := s.WriteQuotes(ctx, 1, []quote.Quote{q("SPY", et(2020, 3, 5, 15, 59), 12, 12, 12, 12, 1)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Latest(ctx, "SPY"); len(got) != 1 || !got[0].Updated.Equal(fixed) {
		t.Fatalf("latest rewritten by an older day: %+v", got)
	}
}

// A move over 20% is stored flagged with an alert; a late quote in between
// moves the flag, and the alert with it.
func TestIntegration_FlaggedMove(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	base := et(2020, 11, 27, 9, 30)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	mk := func(i int, c float64) quote.Quote { return q("SPY", at(i), c, c, c, c, 10) }
	if err := s.WriteQuotes(ctx, 1, []quote.Quote{mk(0, 100), mk(1, 101), mk(3, 130)}); err != nil {
		t.Fatal(err)
	}
	checkFlags(t, s, map[int]bool{3: true}, base)
	alerts, err := s.Alerts(ctx, base, at(10), 0)
	wantAlert := Alert{Day: day(2020, 11, 27), TS: at(3), Symbol: "SPY", PrevClose: 101, Close: 130,
		MovePct: 100 * (130.0 - 101) / 101, Reason: "close moved +28.71% from 101 to 130 (threshold 20%)"}
	if err != nil || len(alerts) != 1 || alerts[0] != wantAlert {
		t.Fatalf("Alerts = %+v, %v; want [%+v]", alerts, err, wantAlert)
	}

	// Minute 2 arrives late at 125: it is the +23.76% move; 130 is +4% from it.
	if err := s.WriteQuotes(ctx, 1, []quote.Quote{mk(2, 125)}); err != nil {
		t.Fatal(err)
	}
	checkFlags(t, s, map[int]bool{2: true}, base)
	alerts, err = s.Alerts(ctx, base, at(10), 0)
	wantAlert = Alert{Day: day(2020, 11, 27), TS: at(2), Symbol: "SPY", PrevClose: 101, Close: 125,
		MovePct: 100 * (125.0 - 101) / 101, Reason: "close moved +23.76% from 101 to 125 (threshold 20%)"}
	if err != nil || len(alerts) != 1 || alerts[0] != wantAlert {
		t.Fatalf("Alerts after late quote = %+v, %v; want [%+v]", alerts, err, wantAlert)
	}

	// A backfilled previous day whose last close is 50: the first quote of
	// 11-27 (100) is now a +100% move.
	if err := s.WriteQuotes(ctx, 1, []quote.Quote{q("SPY", et(2020, 11, 25, 15, 59), 50, 50, 50, 50, 1)}); err != nil {
		t.Fatal(err)
	}
	checkFlags(t, s, map[int]bool{0: true, 2: true}, base)
	if got, _ := s.Latest(ctx, "SPY"); len(got) != 1 || got[0].PrevClose == nil || *got[0].PrevClose != 50 {
		t.Fatalf("latest after backfill: %+v", got)
	}
}

// A bar its source flagged implausible (quote.FlagBars) is stored with its
// flag, left out of the bars, and makes one alert against the last counted
// close; the return from it is no move. A rebuild from the stored rows
// (UpdateAnalytics) keeps exactly that.
func TestIntegration_ImplausibleBar(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	base := et(2020, 11, 27, 9, 30)
	at := func(i int) time.Time { return base.Add(time.Duration(i) * time.Minute) }
	var qs []quote.Quote
	for i, c := range []float64{100, 101, 130, 100, 102} {
		qs = append(qs, q("SPY", at(i), c, c, c, c, 10))
	}
	qs[2].Flag = quote.FlagImplausible
	if err := s.WriteQuotes(ctx, 1, qs); err != nil {
		t.Fatal(err)
	}
	wantAlert := Alert{Day: day(2020, 11, 27), TS: at(2), Symbol: "SPY", PrevClose: 101, Close: 130,
		MovePct: 100 * (130.0 - 101) / 101,
		Reason: "implausible bar (open 130 high 130 low 130 close 130) left out of the bars: " +
			"a price more than 20% from the median close of the 5 bars before it and of the 5 after it"}
	check := func(when string) {
		t.Helper()
		rows, err := s.Rows(ctx, "SPY", base, at(10), 0)
		if err != nil || len(rows) != 5 {
			t.Fatalf("%s: Rows = %d rows, %v; want 5", when, len(rows), err)
		}
		for i, r := range rows {
			if want := qs[i].Flag; r.Flag != want || r.Flagged {
				t.Errorf("%s: row %d flag %q flagged %v; want flag %q, not flagged", when, i, r.Flag, r.Flagged, want)
			}
		}
		bars, err := s.Bars(ctx, "SPY", Interval1m, base, at(10), 0)
		if err != nil {
			t.Fatal(err)
		}
		var closes []float64
		for _, b := range bars {
			closes = append(closes, b.Close)
		}
		if want := []float64{100, 101, 100, 102}; !reflect.DeepEqual(closes, want) {
			t.Errorf("%s: 1m closes %v; want %v (the implausible bar left out)", when, closes, want)
		}
		if b5, err := s.Bars(ctx, "SPY", Interval5m, base, at(10), 0); err != nil || len(b5) != 1 || b5[0].High != 102 || b5[0].Count != 4 {
			t.Errorf("%s: 5m bars %+v, %v; want one of 4 bars, high 102", when, b5, err)
		}
		alerts, err := s.Alerts(ctx, base, at(10), 0)
		if err != nil || len(alerts) != 1 || alerts[0] != wantAlert {
			t.Errorf("%s: Alerts = %+v, %v; want [%+v]", when, alerts, err, wantAlert)
		}
	}
	check("written")
	if err := s.UpdateAnalytics(ctx, "SPY", []time.Time{base}); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}

func checkFlags(t *testing.T, s *Store, want map[int]bool, base time.Time) {
	t.Helper()
	rows, err := s.Rows(testCtx(t), "SPY", base, base.Add(time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		i := int(r.TS.Sub(base) / time.Minute)
		if r.Flagged != want[i] {
			t.Errorf("minute %d (close %v) flagged = %v; want %v", i, r.Close, r.Flagged, want[i])
		}
	}
}

// The batches WriteQuotes sends draw no warning from the server, while a
// multi-partition batch over the 5 KiB threshold does (so the check can see
// warnings). Note that Cassandra exempts single-partition batches from the
// size thresholds (CASSANDRA-10876); see doc.go.
func TestIntegration_BatchUnderWarnThreshold(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	var qs []quote.Quote
	for i := range 390 {
		bid, ask := 99.0, 101.0
		x := q("SPY", et(2020, 11, 24, 9, 30).Add(time.Duration(i)*time.Minute), 100, 101, 99, 100, 1000)
		x.Bid, x.Ask, x.Source = &bid, &ask, "replay:lean"
		qs = append(qs, x)
	}
	batches := s.quoteBatches(ctx, 1, normalize(qs))
	if len(batches) != 26 { // 252+7 = 259 bytes a row, 15 rows a batch, 390 = 26*15
		t.Errorf("%d batches; want 26", len(batches))
	}
	// gocql returns no Iter for batches, so warnings are seen as the warning
	// flag on response frame headers, on a session of the test's own.
	var warned atomic.Int64
	c := testenv.CassandraCluster(t)
	c.FrameHeaderObserver = warnObserver{&warned}
	obs, err := c.CreateSession()
	if err != nil {
		t.Fatal(err)
	}
	defer obs.Close()
	exec := func(entries []gocql.BatchEntry) int64 {
		before := warned.Load()
		b := obs.NewBatch(gocql.UnloggedBatch).WithContext(ctx)
		b.Entries = entries
		if err := obs.ExecuteBatch(b); err != nil {
			t.Fatalf("batch of %d: %v", len(entries), err)
		}
		return warned.Load() - before
	}
	for i, b := range batches {
		if w := exec(b.Entries); w != 0 {
			t.Fatalf("batch %d (%d rows) drew %d warnings", i, len(b.Entries), w)
		}
	}
	// 30 rows of 30 symbols: 30 partitions, about 7 KiB.
	var multi []gocql.BatchEntry
	for i, e := range batches[0].Entries[:15] {
		e.Args = append([]any{fmt.Sprintf("S%02d", i)}, e.Args[1:]...)
		multi = append(multi, e)
	}
	for i, e := range batches[1].Entries[:15] {
		e.Args = append([]any{fmt.Sprintf("T%02d", i)}, e.Args[1:]...)
		multi = append(multi, e)
	}
	if w := exec(multi); w != 1 {
		t.Fatalf("multi-partition batch drew %d warnings; want 1", w)
	}
}

type warnObserver struct{ n *atomic.Int64 }

func (o warnObserver) ObserveFrameHeader(_ context.Context, h gocql.ObservedFrameHeader) {
	if h.Flags&0x08 != 0 { // the protocol's warning flag
		o.n.Add(1)
	}
}

func TestIntegration_CommitOffsetFencing(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	if _, _, found, err := s.LoadOffset(ctx, "quotes", 3); err != nil || found {
		t.Fatalf("LoadOffset before any commit: found %v, %v", found, err)
	}
	if err := s.CommitOffset(ctx, "quotes", 3, 100, 5, "node-a"); err != nil {
		t.Fatalf("epoch 5: %v", err)
	}
	err := s.CommitOffset(ctx, "quotes", 3, 200, 4, "node-b")
	if !errors.Is(err, ErrFenced) || !strings.Contains(err.Error(), `stored token 5, node "node-a"`) {
		t.Fatalf("epoch 4: %v; want ErrFenced naming epoch 5 and node-a", err)
	}
	if next, epoch, found, err := s.LoadOffset(ctx, "quotes", 3); err != nil || !found || next != 100 || epoch != 5 {
		t.Fatalf("after fenced commit: %d, %d, %v, %v; want 100, 5", next, epoch, found, err)
	}
	if err := s.CommitOffset(ctx, "quotes", 3, 150, 5, "node-a"); err != nil {
		t.Fatalf("epoch 5 again: %v", err)
	}
	if err := s.CommitOffset(ctx, "quotes", 3, 300, 6, "node-c"); err != nil {
		t.Fatalf("epoch 6: %v", err)
	}
	if next, epoch, found, err := s.LoadOffset(ctx, "quotes", 3); err != nil || !found || next != 300 || epoch != 6 {
		t.Fatalf("after epoch 6: %d, %d, %v, %v; want 300, 6", next, epoch, found, err)
	}
	if _, _, found, _ := s.LoadOffset(ctx, "quotes", 4); found {
		t.Fatal("partition 4 found")
	}

	ts := time.Date(2020, 11, 27, 14, 31, 0, 0, time.UTC)
	if err := s.CommitCheckpoint(ctx, "SPY", ts, 5, "node-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitCheckpoint(ctx, "SPY", ts.Add(time.Hour), 4, "node-b"); !errors.Is(err, ErrFenced) {
		t.Fatalf("checkpoint epoch 4: %v; want ErrFenced", err)
	}
	if got, epoch, found, err := s.LoadCheckpoint(ctx, "SPY"); err != nil || !found || !got.Equal(ts) || epoch != 5 {
		t.Fatalf("LoadCheckpoint = %v, %d, %v, %v; want %v, 5", got, epoch, found, err, ts)
	}
}

// Eight owners with epochs 1..8 race to create the same offset row: one row
// results, held by epoch 8; every other commit either succeeded before it or
// was fenced.
func TestIntegration_ConcurrentFirstCommit(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	const n = 8
	errs := make([]error, n+1)
	var wg sync.WaitGroup
	for e := 1; e <= n; e++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[e] = s.CommitOffset(ctx, "race", 0, int64(1000*e), int64(e), fmt.Sprintf("node-%d", e))
		}()
	}
	wg.Wait()
	for e := 1; e <= n; e++ {
		if errs[e] != nil && !errors.Is(errs[e], ErrFenced) {
			t.Errorf("epoch %d: %v", e, errs[e])
		}
	}
	if errs[n] != nil {
		t.Fatalf("highest epoch fenced: %v", errs[n])
	}
	next, epoch, found, err := s.LoadOffset(ctx, "race", 0)
	if err != nil || !found || next != 1000*n || epoch != n {
		t.Fatalf("LoadOffset = %d, %d, %v, %v; want %d, %d", next, epoch, found, err, 1000*n, n)
	}
	var count int64
	if err := s.query(ctx, true, `SELECT COUNT(*) FROM @ingest_offsets WHERE topic = 'race'`).Scan(&count); err != nil || count != 1 {
		t.Fatalf("rows = %d, %v; want 1", count, err)
	}
}

// Open on an existing schema is a no-op; Close is idempotent.
func TestIntegration_OpenTwice(t *testing.T) {
	s := openTest(t)
	cfg := s.Config()
	s2, err := Open(testCtx(t), cfg)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	s2.Close()
	s2.Close()
	if err := s.WriteQuotes(testCtx(t), 1, []quote.Quote{{Symbol: "", TS: time.Now()}}); !errors.Is(err, ErrInvalidQuote) {
		t.Fatalf("WriteQuotes(no symbol) = %v; want ErrInvalidQuote", err)
	}
}
