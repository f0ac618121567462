package quote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// mustZone loads an IANA zone for a test's own computation (not LoadZone).
func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// dateIn is the test's own trading day: ts's calendar date in loc, as
// midnight UTC.
func dateIn(ts time.Time, loc *time.Location) time.Time {
	l := ts.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, time.UTC)
}

// jakartaChart and btcChart are charts derived from the recorded AAPL chart
// (its prices and volumes), with the meta of a Jakarta stock and of BTC-USD.
func jakartaChart(t *testing.T) ([]byte, []time.Time) {
	wib := mustZone(t, "Asia/Jakarta")
	ts := []time.Time{
		time.Date(2024, 3, 4, 9, 0, 0, 0, wib), // 02:00 UTC; 21:00 EST of 2024-03-03
		time.Date(2024, 3, 4, 9, 1, 0, 0, wib),
		time.Date(2024, 3, 4, 15, 49, 0, 0, wib),
		time.Date(2024, 3, 5, 9, 0, 0, 0, wib),
	}
	return testenv.DerivedYahooChart(t, testenv.YahooChart{Symbol: "BBCA.JK", ExchangeTimezoneName: "Asia/Jakarta",
		Timezone: "WIB", GMTOffset: 7 * 3600, InstrumentType: "EQUITY", Granularity: "1m", Timestamps: unix(ts)}), ts
}

func btcChart(t *testing.T) ([]byte, []time.Time) {
	ts := []time.Time{
		time.Date(2024, 3, 3, 23, 59, 0, 0, time.UTC), // Sunday
		time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 3, 4, 0, 30, 0, 0, time.UTC), // 19:30 EST of 2024-03-03
		time.Date(2024, 3, 9, 0, 30, 0, 0, time.UTC), // Saturday
	}
	return testenv.DerivedYahooChart(t, testenv.YahooChart{Symbol: "BTC-USD", ExchangeTimezoneName: "UTC",
		Timezone: "UTC", GMTOffset: 0, InstrumentType: "CRYPTOCURRENCY", Granularity: "1m", Timestamps: unix(ts)}), ts
}

func unix(ts []time.Time) []int64 {
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.Unix()
	}
	return out
}

// A Yahoo chart in a non-New-York zone and a 24/7 one land on their own
// trading days: each quote names the chart's zone, and its Day is its date
// there (the test's own computation), not the US/Eastern date.
func TestYahooChartTradingDays(t *testing.T) {
	ny := mustZone(t, "America/New_York")
	for _, c := range []struct {
		symbol, zone string
		chart        func(*testing.T) ([]byte, []time.Time)
		allDay       bool
	}{
		{"BBCA.JK", "Asia/Jakarta", jakartaChart, false},
		{"BTC-USD", "UTC", btcChart, true},
	} {
		body, ts := c.chart(t)
		ch, err := ParseYahooChart(body, c.symbol)
		if err != nil {
			t.Fatal(err)
		}
		if ch.TZ != c.zone || ch.Location.String() != c.zone || ch.AllDay != c.allDay || ch.Interval != time.Minute {
			t.Errorf("%s: TZ %q location %v AllDay %v interval %v; want %s, %v, 1m", c.symbol, ch.TZ, ch.Location, ch.AllDay, ch.Interval, c.zone, c.allDay)
		}
		if len(ch.Quotes) != len(ts) {
			t.Fatalf("%s: %d quotes, want %d", c.symbol, len(ch.Quotes), len(ts))
		}
		loc := mustZone(t, c.zone)
		shifted := 0
		for i, q := range ch.Quotes {
			want := dateIn(ts[i], loc)
			if !q.TS.Equal(ts[i]) || q.TZ != c.zone || !q.Day().Equal(want) {
				t.Errorf("%s bar %d: ts %v tz %q day %v; want %v, %q, day %v", c.symbol, i, q.TS, q.TZ, q.Day(), ts[i], c.zone, want)
			}
			if !dateIn(ts[i], ny).Equal(want) {
				shifted++
			}
			if err := Validate(q, ts[i].Add(time.Hour)); err != nil {
				t.Errorf("%s bar %d: %v", c.symbol, i, err)
			}
		}
		if shifted == 0 {
			t.Errorf("%s: no bar whose New York date differs: the test shows nothing", c.symbol)
		}
	}
	// The first Jakarta bar, 09:00 WIB of 2024-03-04, is on 2024-03-04 (in
	// New York it is still 2024-03-03); BTC-USD's 00:30 UTC bar of 2024-03-04
	// is on 2024-03-04.
	body, _ := jakartaChart(t)
	ch, _ := ParseYahooChart(body, "BBCA.JK")
	if got := ch.Quotes[0].Day(); !got.Equal(time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("09:00 WIB bar on %v", got)
	}
	body, _ = btcChart(t)
	ch, _ = ParseYahooChart(body, "BTC-USD")
	if got := ch.Quotes[2].Day(); !got.Equal(time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("00:30 UTC bar on %v", got)
	}
}

// The zone of a quote: the source's (Yahoo's meta) wins over the spec's
// tz=, which applies to quotes naming none; no tz and no zone of the
// source: DefaultZone (TZ empty, US/Eastern days).
func TestSpecZoneReachesQuotes(t *testing.T) {
	btc, _ := btcChart(t)
	noZone := []byte(strings.Replace(string(btc), `"exchangeTimezoneName":"UTC"`, `"exchangeTimezoneName":""`, 1))
	for _, c := range []struct {
		name, spec string
		body       []byte
		want       string
	}{
		{"source names its zone", "yahoo", btc, "UTC"},
		{"source wins over tz", "yahoo?tz=Asia/Jakarta", btc, "UTC"},
		{"tz when the source names none", "yahoo?tz=Asia/Jakarta", noZone, "Asia/Jakarta"},
		{"default", "yahoo", noZone, ""},
	} {
		s := newServer(t, resp{200, nil, c.body})
		src, err := New(c.spec, testOptions(s, newFakeClock(time.Date(2024, 3, 10, 0, 0, 0, 0, time.UTC)), &countingLimiter{}))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		qs, err := src.Fetch(context.Background(), "BTC-USD", time.Date(2024, 3, 8, 0, 0, 0, 0, time.UTC))
		if err != nil || len(qs) != 1 {
			t.Fatalf("%s: %d quotes, %v", c.name, len(qs), err)
		}
		if qs[0].TZ != c.want {
			t.Errorf("%s: TZ %q, want %q", c.name, qs[0].TZ, c.want)
		}
		loc := mustZone(t, map[string]string{"": "America/New_York"}[c.want]+c.want)
		if !qs[0].Day().Equal(dateIn(qs[0].TS, loc)) {
			t.Errorf("%s: day %v, want the date in %v", c.name, qs[0].Day(), loc)
		}
	}
	// A replay with tz= reads the file's wall times in that zone and names
	// it on every quote; Unwrap finds the replay. The real Alpha Vantage
	// file (end labels; its first row 2020-11-23 04:01:00) read as a London
	// file: the label evidence is about US sessions, so label= is needed.
	path := testenv.SharedData(t, "alphavantage-msft-1min")
	src, err := New("replay:"+path+"?speed=max&tz=Europe/London", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := Unwrap(src).(*Replay); !ok {
		t.Fatalf("Unwrap(%T) is not the replay", src)
	}
	if _, _, err := Unwrap(src).(*Replay).Check("MSFT"); !errors.Is(err, ErrAmbiguousLabels) || !strings.Contains(err.Error(), "Europe/London") {
		t.Errorf("Check of a London file without label=: %v; want ErrAmbiguousLabels naming the zone", err)
	}
	src, err = New("replay:"+path+"?speed=max&tz=Europe/London&label=end", Options{})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := src.Fetch(context.Background(), "MSFT", time.Time{})
	if err != nil || len(qs) == 0 {
		t.Fatalf("replay: %d quotes, %v", len(qs), err)
	}
	london := mustZone(t, "Europe/London")
	if want := time.Date(2020, 11, 23, 4, 0, 0, 0, london); !qs[0].TS.Equal(want) {
		t.Errorf("first bar at %v; want %v (04:01 London, end-labelled)", qs[0].TS, want.UTC())
	}
	for _, q := range qs {
		if q.TZ != "Europe/London" || !q.Day().Equal(dateIn(q.TS, london)) {
			t.Fatalf("replay quote %+v: day %v", q, q.Day())
		}
	}
}

// An intraday CSV of a Jakarta stock, start-labelled, replayed with
// tz=Asia/Jakarta and label=start: each bar at its own wall time in
// Jakarta, on its Jakarta date; a time with an offset is refused naming
// the zone.
func TestReplayIntradayCSVInZone(t *testing.T) {
	path := t.TempDir() + "/bbca_1min.csv"
	csv := "Datetime,Open,High,Low,Close,Volume\n2024-03-04 09:00,9000,9025,8975,9000,1200\n2024-03-04 09:01,9000,9050,9000,9025,800\n" +
		"2024-03-04 09:02:00 +0700,9025,9025,9000,9000,100\n2024-03-05 09:00,9050,9075,9025,9050,900\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	var rejected []error
	src, err := New("replay:"+path+"?speed=max&label=start&tz=Asia/Jakarta", Options{Rejected: func(_ string, _ RejectReason, err error) { rejected = append(rejected, err) }})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := src.Fetch(context.Background(), "BBCA.JK", time.Time{})
	if err != nil || len(qs) != 3 {
		t.Fatalf("%d quotes, %v; want 3", len(qs), err)
	}
	wib := mustZone(t, "Asia/Jakarta")
	for i, want := range []time.Time{time.Date(2024, 3, 4, 9, 0, 0, 0, wib), time.Date(2024, 3, 4, 9, 1, 0, 0, wib), time.Date(2024, 3, 5, 9, 0, 0, 0, wib)} {
		if q := qs[i]; !q.TS.Equal(want) || q.TZ != "Asia/Jakarta" || !q.Day().Equal(dateIn(want, wib)) {
			t.Errorf("bar %d: ts %v tz %q day %v; want %v (WIB) on %v", i, q.TS, q.TZ, q.Day(), want.UTC(), dateIn(want, wib).Format(time.DateOnly))
		}
	}
	if len(rejected) != 1 || !strings.Contains(rejected[0].Error(), "Asia/Jakarta without one") {
		t.Errorf("rejected %v; want the row with an offset, naming the zone", rejected)
	}
}

func TestParseSpecZoneAndHours(t *testing.T) {
	for _, c := range []struct {
		spec  string
		tz    string
		hours Hours
		str   string
	}{
		{"yahoo?tz=Asia/Jakarta", "Asia/Jakarta", Hours{}, "yahoo?tz=Asia/Jakarta"},
		{"yahoo?tz=UTC&hours=24x7", "UTC", Hours{AllDay: true}, "yahoo?tz=UTC&hours=24x7"},
		{"alphavantage?hours=09:00-15:50&tz=Asia/Jakarta", "Asia/Jakarta", Hours{Open: 540, Close: 950}, "alphavantage?tz=Asia/Jakarta&hours=09:00-15:50"},
		{"replay:/d?speed=2&tz=Asia/Jakarta", "Asia/Jakarta", Hours{}, "replay:/d?speed=2&tz=Asia/Jakarta"},
		{"synthetic?seed=3&tz=UTC&hours=24x7", "UTC", Hours{AllDay: true}, "synthetic?seed=3&rate=1&tz=UTC&hours=24x7"},
		{"yahoo", "", Hours{}, "yahoo"},
	} {
		s, err := ParseSpec(c.spec)
		if err != nil || s.TZ != c.tz || s.Hours != c.hours || s.String() != c.str {
			t.Errorf("ParseSpec(%q) = %+v (%q), %v; want tz %q hours %+v (%q)", c.spec, s, s.String(), err, c.tz, c.hours, c.str)
			continue
		}
		if again, err := ParseSpec(s.String()); err != nil || again != s {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", s.String(), again, err, s)
		}
	}
	for _, c := range []struct{ spec, says string }{
		{"yahoo?tz=Asia/Jakartaa", `tz "Asia/Jakartaa": not an IANA time zone name`},
		{"yahoo?tz=Local", `tz "Local"`},
		{"yahoo?tz=", `tz "": not an IANA time zone name`},
		{"replay:/d?tz=EST5EDT+1", `tz "EST5EDT 1"`},
		{"yahoo?hours=24x5", `hours "24x5": want 24x7 or HH:MM-HH:MM`},
		{"yahoo?hours=16:00-09:30", `hours "16:00-09:30"`},
		{"yahoo?hours=9:30-16:00", `hours "9:30-16:00"`},
	} {
		_, err := ParseSpec(c.spec)
		if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("ParseSpec(%q) = %v; want ErrBadSpec saying %q", c.spec, err, c.says)
		}
	}
	// As `symbols add --option tz=...` gives it.
	if s, err := ParseSpecOptions("yahoo", map[string]string{"tz": "Asia/Jakarta", "hours": "09:00-16:00"}); err != nil ||
		s.TZ != "Asia/Jakarta" || s.Hours != (Hours{Open: 540, Close: 960}) {
		t.Errorf("ParseSpecOptions: %+v, %v", s, err)
	}
	if _, err := ParseSpecOptions("yahoo", map[string]string{"tz": "Mars/Olympus"}); !errors.Is(err, ErrBadSpec) ||
		!strings.Contains(err.Error(), `tz "Mars/Olympus"`) {
		t.Errorf("ParseSpecOptions with tz=Mars/Olympus: %v", err)
	}
}

func TestLoadZoneAndValidate(t *testing.T) {
	for _, name := range []string{"", DefaultZone} {
		if loc, err := LoadZone(name); err != nil || loc != Eastern {
			t.Errorf("LoadZone(%q) = %v, %v; want Eastern", name, loc, err)
		}
	}
	a, err1 := LoadZone("Asia/Jakarta")
	b, err2 := LoadZone("Asia/Jakarta")
	if err1 != nil || err2 != nil || a != b || a.String() != "Asia/Jakarta" {
		t.Errorf("LoadZone(Asia/Jakarta) = %v %v, %v %v; want one cached location", a, b, err1, err2)
	}
	if _, err := LoadZone("Nowhere/Land"); !errors.Is(err, ErrBadZone) || !strings.Contains(err.Error(), `"Nowhere/Land"`) {
		t.Errorf("LoadZone(Nowhere/Land) = %v", err)
	}
	q := Quote{Symbol: "BTC-USD", TS: time.Date(2024, 3, 4, 0, 30, 0, 0, time.UTC), Open: 1, High: 1, Low: 1, Close: 1, TZ: "Nowhere/Land"}
	if ReasonOf(Validate(q, q.TS)) != ReasonBadZone {
		t.Errorf("Validate with TZ %q: %v; want %s", q.TZ, Validate(q, q.TS), ReasonBadZone)
	}
	q.TZ = "UTC"
	if err := Validate(q, q.TS); err != nil || !q.Day().Equal(time.Date(2024, 3, 4, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("Validate %v, day %v", err, q.Day())
	}
	q.TZ = ""
	if !q.Day().Equal(time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("a quote without a zone: day %v; want the US/Eastern date 2024-03-03", q.Day())
	}
}

// Market hours follow the symbol's zone, and a 24/7 instrument is never
// closed, at night or at weekends.
func TestTradingAtZonesAndAllDay(t *testing.T) {
	wib := mustZone(t, "Asia/Jakarta")
	at := func(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
		return time.Date(y, m, d, h, min, 0, 0, loc)
	}
	for _, c := range []struct {
		spec string
		opts map[string]string
		at   time.Time
		want bool
	}{
		// BTC-USD, hours=24x7: Saturday night, Sunday, Monday 03:00 UTC.
		{"yahoo", map[string]string{"tz": "UTC", "hours": "24x7"}, at(time.UTC, 2026, 12, 5, 23, 0), true},
		{"yahoo", map[string]string{"tz": "UTC", "hours": "24x7"}, at(time.UTC, 2026, 12, 6, 12, 0), true},
		{"yahoo?hours=24x7", nil, at(time.UTC, 2026, 12, 7, 3, 0), true},
		// A Jakarta session 09:00-15:50 WIB, Monday to Friday.
		{"yahoo", map[string]string{"tz": "Asia/Jakarta", "hours": "09:00-15:50"}, at(wib, 2026, 12, 7, 9, 0), true},
		{"yahoo", map[string]string{"tz": "Asia/Jakarta", "hours": "09:00-15:50"}, at(wib, 2026, 12, 7, 8, 59), false},
		{"yahoo", map[string]string{"tz": "Asia/Jakarta", "hours": "09:00-15:50"}, at(wib, 2026, 12, 7, 15, 50), false},
		{"yahoo", map[string]string{"tz": "Asia/Jakarta", "hours": "09:00-15:50"}, at(wib, 2026, 12, 6, 10, 0), false}, // Sunday
		// tz alone: the default session 09:30-16:00, in that zone.
		{"yahoo?tz=Asia/Jakarta", nil, at(wib, 2026, 12, 7, 9, 30), true},
		{"yahoo?tz=Asia/Jakarta", nil, at(wib, 2026, 12, 7, 16, 0), false},
		// Unchanged for US symbols: 09:30 New York is 21:30 WIB.
		{"yahoo", nil, at(Eastern, 2026, 12, 7, 9, 30), true},
		{"yahoo", nil, at(Eastern, 2026, 12, 5, 12, 0), false},
		// Sources without trading hours.
		{"replay:/d", map[string]string{"tz": "Asia/Jakarta"}, at(wib, 2026, 12, 6, 3, 0), true},
		{"yahoo", map[string]string{"tz": "Mars/Olympus"}, at(Eastern, 2026, 12, 5, 12, 0), true}, // unparsable: always
	} {
		if got := TradingNowOptions(c.spec, c.opts, c.at); got != c.want {
			t.Errorf("TradingNowOptions(%q, %v, %v) = %v, want %v", c.spec, c.opts, c.at, got, c.want)
		}
	}
}

// A daily CSV replayed with tz= puts each bar on its own date in that zone,
// also east of UTC+09:30 (09:30 US/Eastern is the next morning in
// Auckland); without tz its bars are at 09:30 US/Eastern as before.
func TestReplayDailyBarsInZone(t *testing.T) {
	path := t.TempDir() + "/fph_daily.csv"
	csv := "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-15,30.1,30.5,29.9,30.2,30.2,1000\n2024-07-15,31.1,31.5,30.9,31.2,31.2,2000\n"
	if err := os.WriteFile(path, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	dates := []time.Time{time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC), time.Date(2024, 7, 15, 0, 0, 0, 0, time.UTC)}
	for _, c := range []struct{ tz, zone string }{{"Pacific/Auckland", "Pacific/Auckland"}, {"", "America/New_York"}} {
		spec := "replay:" + path + "?speed=max"
		if c.tz != "" {
			spec += "&tz=" + c.tz
		}
		src, err := New(spec, Options{})
		if err != nil {
			t.Fatal(err)
		}
		qs, err := src.Fetch(context.Background(), "FPH.NZ", time.Time{})
		if err != nil || len(qs) != 2 {
			t.Fatalf("%s: %+v, %v", spec, qs, err)
		}
		loc := mustZone(t, c.zone)
		for i, q := range qs {
			d := dates[i]
			want := time.Date(d.Year(), d.Month(), d.Day(), 9, 30, 0, 0, loc)
			if !q.TS.Equal(want) || q.TZ != c.tz || !q.Day().Equal(d) || !dateIn(q.TS, loc).Equal(d) {
				t.Errorf("%s bar %d: ts %v tz %q day %v; want %v (09:30 %s), day %v", spec, i, q.TS, q.TZ, q.Day(), want, c.zone, d.Format(time.DateOnly))
			}
		}
	}
}

// A Lean daily zip replayed with tz=Australia/Sydney: each row a daily bar
// at 09:30 Sydney time of its date (09:30 US/Eastern is already the next
// morning there), on that date.
func TestReplayLeanDailyInZone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "equity", "usa", "daily", "spy.zip")
	writeZip(t, path, "spy.csv", "20131007 00:00,1676800,1683900,1670000,1673900,93425300\r\n20131104 00:00,1762300,1765800,1757200,1765800,70451400\r\n")
	src, err := New("replay:"+path+"?speed=max&tz=Australia/Sydney", Options{})
	if err != nil {
		t.Fatal(err)
	}
	qs, err := src.Fetch(context.Background(), "SPY", time.Time{})
	if err != nil || len(qs) != 2 {
		t.Fatalf("%+v, %v", qs, err)
	}
	syd := mustZone(t, "Australia/Sydney")
	for i, d := range []time.Time{time.Date(2013, 10, 7, 0, 0, 0, 0, time.UTC), time.Date(2013, 11, 4, 0, 0, 0, 0, time.UTC)} {
		want := time.Date(d.Year(), d.Month(), d.Day(), 9, 30, 0, 0, syd)
		if q := qs[i]; !q.TS.Equal(want) || q.TZ != "Australia/Sydney" || !q.Day().Equal(d) {
			t.Errorf("bar %d: ts %v tz %q day %v; want %v on %v", i, q.TS, q.TZ, q.Day(), want.UTC(), d.Format(time.DateOnly))
		}
	}
}
