package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/stream"
)

// zoneOf loads an IANA zone for the test's own computation (not
// quote.LoadZone).
func zoneOf(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// localDate is the test's own trading day: ts's calendar date in loc, as
// midnight UTC (the form of Bar.Day and Cassandra's date).
func localDate(ts time.Time, loc *time.Location) time.Time {
	y, m, d := ts.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ownBars aggregates one symbol's bars (one per minute, ascending) into the
// bars of interval 1h or 1d in loc, as the test computes them: a 1d window
// starts at local midnight of the date in loc, a 1h window at the local
// whole hour.
func ownBars(sym string, qs []quote.Quote, interval string, loc *time.Location) []Bar {
	var out []Bar
	var pv float64
	for _, q := range qs {
		l := q.TS.In(loc)
		start := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
		if interval == Interval1h {
			start = time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), 0, 0, 0, loc)
		}
		if n := len(out); n == 0 || !out[n-1].TS.Equal(start.UTC()) {
			out = append(out, Bar{Symbol: sym, Interval: interval, Day: localDate(q.TS, loc), TS: start.UTC(),
				Open: q.Open, High: q.High, Low: q.Low})
			pv = 0
		}
		b := &out[len(out)-1]
		b.High, b.Low, b.Close = math.Max(b.High, q.High), math.Min(b.Low, q.Low), q.Close
		b.Volume += q.Volume
		b.Count++
		pv += q.Close * float64(q.Volume)
		b.VWAP = pv / float64(b.Volume)
	}
	return out
}

// sameBars compares bars field by field, VWAP to 1e-12 relative.
func sameBars(got, want []Bar) bool {
	return slices.EqualFunc(got, want, func(a, b Bar) bool {
		vw := a.VWAP
		a.VWAP = b.VWAP
		return a == b && math.Abs(vw-b.VWAP) <= 1e-12*math.Abs(b.VWAP)
	})
}

// zonedCharts are a Jakarta stock's and BTC-USD's 1-minute Yahoo charts,
// derived at run time from the recorded AAPL chart (its prices and volumes)
// with the meta Yahoo serves for them, over two trading days each.
func zonedCharts(t *testing.T) []struct {
	sym, zone string
	ts        []time.Time
	qs        []quote.Quote
} {
	wib := zoneOf(t, "Asia/Jakarta")
	out := []struct {
		sym, zone string
		ts        []time.Time
		qs        []quote.Quote
	}{
		{sym: "BBCA.JK", zone: "Asia/Jakarta", ts: []time.Time{
			time.Date(2024, 3, 4, 9, 0, 0, 0, wib), // 02:00 UTC, 21:00 EST of 2024-03-03
			time.Date(2024, 3, 4, 9, 1, 0, 0, wib),
			time.Date(2024, 3, 4, 9, 59, 0, 0, wib),
			time.Date(2024, 3, 4, 10, 0, 0, 0, wib),
			time.Date(2024, 3, 4, 15, 49, 0, 0, wib),
			time.Date(2024, 3, 5, 9, 0, 0, 0, wib),
			time.Date(2024, 3, 5, 11, 30, 0, 0, wib),
		}},
		{sym: "BTC-USD", zone: "UTC", ts: []time.Time{
			time.Date(2024, 3, 3, 23, 30, 0, 0, time.UTC), // Sunday
			time.Date(2024, 3, 3, 23, 59, 0, 0, time.UTC),
			time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC),
			time.Date(2024, 3, 4, 0, 30, 0, 0, time.UTC), // 19:30 EST of 2024-03-03
			time.Date(2024, 3, 4, 4, 59, 0, 0, time.UTC),
			time.Date(2024, 3, 4, 5, 0, 0, 0, time.UTC),
			time.Date(2024, 3, 4, 23, 59, 0, 0, time.UTC),
		}},
	}
	for i, c := range out {
		meta := testenv.YahooChart{Symbol: c.sym, ExchangeTimezoneName: c.zone, Timezone: "WIB", GMTOffset: 7 * 3600,
			InstrumentType: "EQUITY", Granularity: "1m"}
		if c.zone == "UTC" {
			meta.Timezone, meta.GMTOffset, meta.InstrumentType = "UTC", 0, "CRYPTOCURRENCY"
		}
		for _, ts := range c.ts {
			meta.Timestamps = append(meta.Timestamps, ts.Unix())
		}
		ch, err := quote.ParseYahooChart(testenv.DerivedYahooChart(t, meta), c.sym)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch.Quotes) != len(c.ts) || ch.TZ != c.zone {
			t.Fatalf("%s: %d quotes, zone %q", c.sym, len(ch.Quotes), ch.TZ)
		}
		out[i].qs = ch.Quotes
	}
	return out
}

// The pure functions reckon days and windows in each quote's zone: a
// Jakarta chart's and BTC-USD's bars, and 1h windows at :30 UTC in
// Asia/Kolkata (UTC+05:30), against the test's own aggregation.
func TestComputeBarsInExchangeZones(t *testing.T) {
	for _, c := range zonedCharts(t) {
		loc := zoneOf(t, c.zone)
		for _, iv := range []string{Interval1h, Interval1d} {
			if got, want := ComputeBars(c.qs, iv), ownBars(c.sym, c.qs, iv, loc); !sameBars(got, want) {
				t.Errorf("%s %s:\n got %+v\nwant %+v", c.sym, iv, got, want)
			}
		}
	}
	ist := zoneOf(t, "Asia/Kolkata")
	var qs []quote.Quote
	for i, hm := range [][2]int{{9, 15}, {9, 59}, {10, 0}, {10, 29}, {15, 29}} {
		ts := time.Date(2024, 3, 4, hm[0], hm[1], 0, 0, ist)
		qs = append(qs, quote.Quote{Symbol: "RELIANCE.NS", TS: ts.UTC(), Open: 10, High: 11 + float64(i), Low: 9, Close: 10.5,
			Volume: int64(100 * (i + 1)), Source: "yahoo", TZ: "Asia/Kolkata"})
	}
	for _, iv := range []string{Interval1h, Interval1d} {
		if got, want := ComputeBars(qs, iv), ownBars("RELIANCE.NS", qs, iv, ist); !sameBars(got, want) {
			t.Errorf("Kolkata %s:\n got %+v\nwant %+v", iv, got, want)
		}
	}
	if got := ComputeBars(qs, Interval1h); len(got) != 3 || got[0].TS.Minute() != 30 {
		t.Errorf("Kolkata 1h bars %+v; want 3 starting at :30 UTC", got)
	}
}

// A Jakarta stock's 09:00 WIB bar and BTC-USD's 00:30 UTC bar, fetched from
// Yahoo charts naming their zones and carried through the Kafka message
// codec, are stored on their own trading days on the real Cassandra (not on
// the US/Eastern date before), with 1h and 1d bars aligned in their zones;
// the symbol's zone is recorded (Zone), and a rebuild gives the same bars.
// A US symbol in the same batch keeps its US/Eastern day.
func TestIntegration_ExchangeZoneDays(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	charts := zonedCharts(t)
	var batch []quote.Quote
	for _, c := range charts {
		for _, q := range c.qs {
			b, err := stream.Encode(q)
			if err != nil {
				t.Fatal(err)
			}
			got, err := stream.Decode([]byte(q.Symbol), b)
			if err != nil || got.TZ != c.zone {
				t.Fatalf("%s through Kafka's codec: %+v, %v", c.sym, got, err)
			}
			batch = append(batch, got)
		}
	}
	// 20:30 EST of 2024-03-04 is 01:30 UTC of 03-05: a US quote stays on 03-04.
	us := q("SPY", time.Date(2024, 3, 5, 1, 30, 0, 0, time.UTC), 500, 501, 499, 500.5, 1000)
	batch = append(batch, us)
	w := s.NewWriter()
	// The later day first, then the rest: the 1d bars are rewritten.
	if err := w.Write(ctx, 1, batch[len(batch)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(ctx, 1, batch[:len(batch)/2]); err != nil {
		t.Fatal(err)
	}

	stored := func(sym string, d time.Time) []time.Time {
		t.Helper()
		it := s.query(ctx, true, `SELECT ts FROM @quotes WHERE symbol = ? AND day = ?`, sym, d).Iter()
		var out []time.Time
		var ts time.Time
		for it.Scan(&ts) {
			out = append(out, ts.UTC())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got := stored("SPY", day(2024, 3, 4)); len(got) != 1 || !got[0].Equal(us.TS) {
		t.Errorf("SPY 20:30 EST: stored on 2024-03-04 %v; want it there", got)
	}
	// The two bars the issue names, on their own days.
	for _, c := range []struct {
		sym    string
		ts     time.Time
		own    time.Time
		before time.Time // the US/Eastern date
	}{
		{"BBCA.JK", time.Date(2024, 3, 4, 2, 0, 0, 0, time.UTC), day(2024, 3, 4), day(2024, 3, 3)},
		{"BTC-USD", time.Date(2024, 3, 4, 0, 30, 0, 0, time.UTC), day(2024, 3, 4), day(2024, 3, 3)},
	} {
		if !slices.ContainsFunc(stored(c.sym, c.own), c.ts.Equal) {
			t.Errorf("%s bar %v not stored on %v", c.sym, c.ts, c.own.Format(time.DateOnly))
		}
		if slices.ContainsFunc(stored(c.sym, c.before), c.ts.Equal) {
			t.Errorf("%s bar %v stored on the US/Eastern date %v", c.sym, c.ts, c.before.Format(time.DateOnly))
		}
	}

	for _, c := range charts {
		loc := zoneOf(t, c.zone)
		// Every row on the test's own day, and the day index as the test
		// computes it.
		byDay := map[time.Time][]time.Time{}
		var days []time.Time
		for _, ts := range c.ts {
			d := localDate(ts, loc)
			if _, ok := byDay[d]; !ok {
				days = append(days, d)
			}
			byDay[d] = append(byDay[d], ts.UTC())
		}
		for d, want := range byDay {
			if got := stored(c.sym, d); !slices.EqualFunc(got, want, time.Time.Equal) {
				t.Errorf("%s rows of %s: %v; want %v", c.sym, d.Format(time.DateOnly), got, want)
			}
		}
		if got, err := s.Days(ctx, c.sym, c.ts[0], c.ts[len(c.ts)-1]); err != nil || !slices.EqualFunc(got, days, time.Time.Equal) {
			t.Errorf("%s Days = %v, %v; want %v", c.sym, got, err, days)
		}
		if got, err := s.Zone(ctx, c.sym); err != nil || got.String() != c.zone {
			t.Errorf("%s Zone = %v, %v; want %s", c.sym, got, err, c.zone)
		}
		from, to := c.ts[0].Add(-24*time.Hour), c.ts[len(c.ts)-1].Add(24*time.Hour)
		checkBars := func(when string) {
			t.Helper()
			for _, iv := range []string{Interval1h, Interval1d} {
				got, err := s.Bars(ctx, c.sym, iv, from, to, 0)
				if want := ownBars(c.sym, c.qs, iv, loc); err != nil || !sameBars(got, want) {
					t.Errorf("%s %s bars %s:\n got %+v, %v\nwant %+v", c.sym, iv, when, got, err, want)
				}
			}
			rows, err := s.Rows(ctx, c.sym, c.ts[0], c.ts[len(c.ts)-1].Add(time.Minute), 0)
			if err != nil || len(rows) != len(c.ts) {
				t.Errorf("%s Rows over its range: %d rows, %v; want %d", c.sym, len(rows), err, len(c.ts))
			}
			for i, r := range rows { // read back with their zone: each on its own day
				if r.TZ != c.zone || !r.Day().Equal(localDate(c.ts[i], loc)) || r.Quote != c.qs[i] {
					t.Errorf("%s row %d read back %+v; want %+v", c.sym, i, r.Quote, c.qs[i])
				}
			}
		}
		checkBars("as written")
		// A rebuild (store.UpdateAnalytics, `stocksys rebuild bars`) reckons
		// in the stored zone too: noon local of each day.
		if err := s.query(ctx, true, `DELETE FROM @bars WHERE symbol = ? AND interval = ? AND day IN ?`, c.sym, Interval1d, days).Exec(); err != nil {
			t.Fatal(err)
		}
		var at []time.Time
		for _, d := range days {
			at = append(at, time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, loc))
		}
		if err := s.UpdateAnalytics(ctx, c.sym, at); err != nil {
			t.Fatal(err)
		}
		checkBars("after a rebuild")
		l, err := s.Latest(ctx, c.sym)
		if last := c.qs[len(c.qs)-1]; err != nil || len(l) != 1 || !l[0].TS.Equal(last.TS) || l[0].Price != last.Close {
			t.Errorf("%s latest %+v, %v; want the last bar %v", c.sym, l, err, last.TS)
		}
	}
	if got, err := s.Zone(ctx, "SPY"); err != nil || got != quote.Eastern {
		t.Errorf("SPY Zone = %v, %v; want US/Eastern", got, err)
	}
	if rows, err := s.Rows(ctx, "SPY", us.TS, us.TS.Add(time.Minute), 0); err != nil || len(rows) != 1 || rows[0].Quote != us {
		t.Errorf("SPY rows %+v, %v; want %+v (TZ empty)", rows, err, us)
	}
	if got, err := s.Zone(ctx, "NONE"); err != nil || got != quote.Eastern {
		t.Errorf("Zone of a symbol never stored = %v, %v; want US/Eastern", got, err)
	}
}

// A keyspace from before the zone column: Open adds quote_days.tz, its
// symbols read as US/Eastern (a null tz), and the next new day of a zoned
// symbol records its zone.
func TestIntegration_ZoneColumnAddedToOldKeyspace(t *testing.T) {
	ks, sess := testenv.CassandraKeyspace(t)
	if err := sess.Query(`CREATE TABLE quote_days (symbol text, day date, PRIMARY KEY ((symbol), day)) WITH CLUSTERING ORDER BY (day ASC)`).Exec(); err != nil {
		t.Fatal(err)
	}
	if err := sess.Query(`INSERT INTO quote_days (symbol, day) VALUES (?, ?)`, "SPY", day(2013, 10, 7)).Exec(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Hosts, cfg.Keyspace, cfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	ctx := testCtx(t)
	// `stocksys query` opens read-only: no schema change, no tz column.
	ro := cfg
	ro.ReadOnly = true
	r, err := Open(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Zone(ctx, "SPY"); err != nil || got != quote.Eastern {
		t.Errorf("SPY of the old keyspace, read-only: Zone %v, %v; want US/Eastern", got, err)
	}
	r.Close()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, err := s.Zone(ctx, "SPY"); err != nil || got != quote.Eastern {
		t.Errorf("SPY of the old keyspace: Zone %v, %v; want US/Eastern", got, err)
	}
	wib := zoneOf(t, "Asia/Jakarta")
	jk := q("BBCA.JK", time.Date(2024, 3, 4, 9, 0, 0, 0, wib).UTC(), 10, 11, 9, 10, 5)
	jk.TZ = "Asia/Jakarta"
	if err := s.WriteQuotes(ctx, 1, []quote.Quote{jk}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Zone(ctx, "BBCA.JK"); err != nil || got.String() != "Asia/Jakarta" {
		t.Errorf("BBCA.JK Zone %v, %v; want Asia/Jakarta", got, err)
	}
	if days, err := s.Days(ctx, "BBCA.JK", jk.TS, jk.TS); err != nil || len(days) != 1 || !days[0].Equal(day(2024, 3, 4)) {
		t.Errorf("BBCA.JK days %v, %v; want 2024-03-04", days, err)
	}
}

// The incremental Writer in exchange zones, fed random permutations,
// duplicates, replays from older offsets and task moves (deliveries), leaves
// what the offline functions compute from the distinct rows, each quote's
// day and windows in its zone: Jakarta ticks from 09:30 WIB, BTC-USD ticks
// from 23:30 UTC on (24/7, each run crossing UTC midnight into the next
// day), and Kolkata minute bars (UTC+05:30: 1h windows at :30 UTC). Every
// stored row is on the day the test computes with time.LoadLocation.
func TestIntegration_WriterMatchesOfflineInZones(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	s.cfg.MoveAlertPct = 3
	s.now = func() time.Time { return time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC) }
	for seed := range uint64(6) {
		r := rand.New(rand.NewPCG(seed, 18))
		zone := []string{"Asia/Jakarta", "UTC", "Asia/Kolkata"}[seed%3]
		loc := zoneOf(t, zone)
		sym := fmt.Sprintf("Z%d", seed)
		// genTicks and genBars start each day at d + 09:30.
		var days []time.Time
		for _, d := range []int{7, 8, 10} {
			start := time.Date(2013, 10, d, 0, 0, 0, 0, loc)
			if zone == "UTC" {
				start = start.Add(14 * time.Hour) // 23:30 UTC: the run crosses midnight
			}
			days = append(days, start)
		}
		var src []quote.Quote
		if zone == "Asia/Kolkata" {
			src = genBars(r, sym, days)
		} else {
			src = genTicks(r, sym, days)
		}
		for i := range src {
			src[i].TS, src[i].TZ = src[i].TS.UTC(), zone // as a source gives them: UTC, naming the zone
		}
		batches, moves := deliveries(r, src)
		w := s.NewWriter()
		for i, b := range batches {
			if moves[i] {
				w = s.NewWriter()
			}
			if len(b) == 0 {
				continue
			}
			if err := w.Write(ctx, 1, b); err != nil {
				t.Fatalf("seed %d batch %d: %v", seed, i, err)
			}
		}
		wantBars, wantAlerts, wantLatest := offline(src, s.cfg.MoveAlertPct, s.cfg.SMAWindows, s.cfg.EMAWindows)
		from, to := src[0].TS.Add(-48*time.Hour), src[len(src)-1].TS.Add(48*time.Hour)
		for _, iv := range Intervals {
			got, err := s.Bars(ctx, sym, iv, from, to, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, wantBars[iv]) {
				t.Errorf("seed %d (%s) %s: %d bars stored, want %d", seed, zone, iv, len(got), len(wantBars[iv]))
			}
			for _, b := range got { // the test's own day and 1d alignment
				if !b.Day.Equal(localDate(b.TS, loc)) || (iv == Interval1d && !b.TS.Equal(time.Date(b.Day.Year(), b.Day.Month(), b.Day.Day(), 0, 0, 0, 0, loc))) {
					t.Errorf("seed %d (%s) %s bar %v on %v", seed, zone, iv, b.TS, b.Day)
				}
			}
		}
		if zone == "UTC" {
			if n := len(wantBars[Interval1d]); n < 4 {
				t.Errorf("seed %d: %d UTC days; want the runs to cross midnight (4 or more)", seed, n)
			}
		}
		all, err := s.Alerts(ctx, from, to, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []Alert
		for _, a := range all {
			if a.Symbol == sym {
				got = append(got, a)
			}
		}
		if len(wantAlerts) == 0 {
			t.Errorf("seed %d: the data raise no alert; the test checks nothing there", seed)
		}
		if !reflect.DeepEqual(got, wantAlerts) {
			t.Errorf("seed %d (%s) alerts: %d, want %d", seed, zone, len(got), len(wantAlerts))
		}
		l, err := s.Latest(ctx, sym)
		if err != nil || len(l) != 1 {
			t.Fatalf("seed %d: Latest = %v, %v", seed, l, err)
		}
		l[0].Updated = time.Time{}
		if !reflect.DeepEqual(l[0], wantLatest) {
			t.Errorf("seed %d (%s) latest:\n got %s\nwant %s", seed, zone, fmtLatest(l[0]), fmtLatest(wantLatest))
		}
	}
}

// A daily series in a zone east of UTC+09:30 (Pacific/Auckland: 09:30
// there is the previous evening in New York): each daily bar on its own
// date, and the moving averages over those days' closes, as the offline
// functions compute them, through random deliveries and task moves.
func TestIntegration_DailySeriesInZone(t *testing.T) {
	s, ctx := openTest(t), testCtx(t)
	s.cfg.MoveAlertPct = 3
	s.cfg.SMAWindows, s.cfg.EMAWindows = []int{3, 10}, []int{2, 5}
	s.now = func() time.Time { return time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC) }
	nz := zoneOf(t, "Pacific/Auckland")
	r := rand.New(rand.NewPCG(7, 18))
	src := genDaily(r, "FPH.NZ", 40)
	var dates []time.Time
	for i := range src {
		d := src[i].Day() // genDaily's dates (US/Eastern, TZ not set yet)
		dates = append(dates, d)
		src[i].TS = time.Date(d.Year(), d.Month(), d.Day(), 9, 30, 0, 0, nz).UTC()
		src[i].TZ = "Pacific/Auckland"
	}
	batches, moves := deliveries(r, src)
	w := s.NewWriter()
	for i, b := range batches {
		if moves[i] {
			w = s.NewWriter()
		}
		if len(b) == 0 {
			continue
		}
		if err := w.Write(ctx, 1, b); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	wantBars, _, wantLatest := offline(src, s.cfg.MoveAlertPct, s.cfg.SMAWindows, s.cfg.EMAWindows)
	from, to := src[0].TS.Add(-48*time.Hour), src[len(src)-1].TS.Add(48*time.Hour)
	got, err := s.Bars(ctx, "FPH.NZ", Interval1d, from, to, 0)
	if err != nil || !reflect.DeepEqual(got, wantBars[Interval1d]) || len(got) != len(dates) {
		t.Fatalf("1d bars: %d, %v; want %d equal to the offline ones", len(got), err, len(dates))
	}
	for i, b := range got {
		if !b.Day.Equal(dates[i]) || !b.TS.Equal(time.Date(dates[i].Year(), dates[i].Month(), dates[i].Day(), 0, 0, 0, 0, nz)) {
			t.Errorf("1d bar %d: day %v ts %v; want %v at Auckland midnight", i, b.Day, b.TS, dates[i].Format(time.DateOnly))
		}
	}
	l, err := s.Latest(ctx, "FPH.NZ")
	if err != nil || len(l) != 1 {
		t.Fatalf("Latest = %v, %v", l, err)
	}
	l[0].Updated = time.Time{}
	// The test's own SMA 3 over the last three dates' closes.
	n := len(src)
	if sma := (src[n-1].Close + src[n-2].Close + src[n-3].Close) / 3; math.Abs(l[0].SMA[3]-sma) > 1e-9*sma {
		t.Errorf("SMA 3 = %v; want %v (the last three Auckland days' closes)", l[0].SMA[3], sma)
	}
	if !reflect.DeepEqual(l[0], wantLatest) {
		t.Errorf("latest:\n got %s\nwant %s", fmtLatest(l[0]), fmtLatest(wantLatest))
	}
}
