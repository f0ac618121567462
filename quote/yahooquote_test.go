package quote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// v7Result returns one result of a v7 quote response with the fields of
// the documented example (AAPL at 2020-11-06 16:00:02 EST), fields
// replaced or (for a value "") dropped by kv pairs.
func v7Result(kv ...string) string {
	fields := [][2]string{
		{"symbol", `"AAPL"`}, {"quoteType", `"EQUITY"`}, {"currency", `"USD"`}, {"exchange", `"NMS"`},
		{"exchangeTimezoneName", `"America/New_York"`}, {"exchangeTimezoneShortName", `"EST"`},
		{"gmtOffSetMilliseconds", `-18000000`}, {"marketState", `"REGULAR"`},
		{"regularMarketPrice", `118.69`}, {"regularMarketTime", `1604696402`}, {"regularMarketOpen", `118.32`},
		{"regularMarketDayHigh", `119.2`}, {"regularMarketDayLow", `116.13`}, {"regularMarketVolume", `114457922`},
		{"regularMarketPreviousClose", `118.03`}, {"bid", `118.6`}, {"ask", `118.7`}, {"bidSize", `9`}, {"askSize", `10`},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for j := range fields {
			if fields[j][0] == kv[i] {
				fields[j][1], found = kv[i+1], true
			}
		}
		if !found {
			fields = append(fields, [2]string{kv[i], kv[i+1]})
		}
	}
	var parts []string
	for _, f := range fields {
		if f[1] != "" {
			parts = append(parts, `"`+f[0]+`":`+f[1])
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// v7Body returns a v7 quote response of the results.
func v7Body(results ...string) []byte {
	return []byte(`{"quoteResponse":{"result":[` + strings.Join(results, ",") + `],"error":null}}`)
}

// aaplV7 is the quote the documented AAPL result is read as: a snapshot at
// regularMarketTime 1604696402 (2020-11-06 21:00:02 UTC, 16:00:02 EST) of
// the price 118.69, bid 118.6 and ask 118.7.
func aaplV7(source string) Quote {
	return Quote{Symbol: "AAPL", TS: time.Date(2020, 11, 6, 21, 0, 2, 0, time.UTC), Open: 118.69, High: 118.69,
		Low: 118.69, Close: 118.69, Volume: 0, Bid: fp(118.6), Ask: fp(118.7), Source: source, TZ: "America/New_York"}
}

// sameQuote compares quotes with their Bid and Ask by value.
func sameQuote(a, b Quote) bool {
	eq := func(x, y *float64) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	if !eq(a.Bid, b.Bid) || !eq(a.Ask, b.Ask) {
		return false
	}
	a.Bid, a.Ask, b.Bid, b.Ask = nil, nil, nil, nil
	return a == b
}

func TestParseYahooQuote(t *testing.T) {
	// MSFT: no bid (Yahoo writes 0), no ask, no day fields; a Jakarta
	// stock: its own zone.
	msft := v7Result("symbol", `"MSFT"`, "regularMarketPrice", `223.72`, "regularMarketTime", `1604696401`,
		"bid", `0`, "ask", "", "regularMarketOpen", "", "regularMarketDayHigh", "", "regularMarketDayLow", "",
		"regularMarketVolume", "")
	bbca := v7Result("symbol", `"BBCA.JK"`, "exchangeTimezoneName", `"Asia/Jakarta"`, "regularMarketPrice", `31500`,
		"regularMarketTime", `1604635200`, "bid", "", "ask", "")
	body := v7Body(v7Result(), msft, bbca)

	qs, err := ParseYahooQuote(body, "AAPL")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || !sameQuote(qs[0], aaplV7("yahoo-v7")) {
		t.Fatalf("AAPL: %+v\nwant %+v", qs, aaplV7("yahoo-v7"))
	}
	if d := qs[0].Day(); d != time.Date(2020, 11, 6, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("AAPL day %v", d)
	}

	qs, err = ParseYahooQuote(body, "MSFT")
	if err != nil {
		t.Fatal(err)
	}
	want := Quote{Symbol: "MSFT", TS: time.Date(2020, 11, 6, 21, 0, 1, 0, time.UTC), Open: 223.72, High: 223.72,
		Low: 223.72, Close: 223.72, Source: "yahoo-v7", TZ: "America/New_York"}
	if len(qs) != 1 || !sameQuote(qs[0], want) {
		t.Fatalf("MSFT: %+v\nwant %+v", qs, want)
	}

	// 1604635200 is 2020-11-06 04:00 UTC = 11:00 WIB (UTC+7), trading day
	// 2020-11-06 in Jakarta.
	qs, err = ParseYahooQuote(body, "BBCA.JK")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || qs[0].TZ != "Asia/Jakarta" || !qs[0].TS.Equal(time.Date(2020, 11, 6, 4, 0, 0, 0, time.UTC)) ||
		qs[0].Close != 31500 || qs[0].Day() != time.Date(2020, 11, 6, 0, 0, 0, 0, time.UTC) || qs[0].Bid != nil {
		t.Fatalf("BBCA.JK: %+v", qs)
	}

	// An unknown zone name is not taken (the spec's tz= or the default
	// applies), as for the chart.
	qs, err = ParseYahooQuote(v7Body(v7Result("exchangeTimezoneName", `"Mars/Olympus"`)), "AAPL")
	if err != nil || len(qs) != 1 || qs[0].TZ != "" {
		t.Fatalf("unknown zone: %+v, %v", qs, err)
	}
}

func TestParseYahooQuoteResults(t *testing.T) {
	rs, err := ParseYahooQuoteResults(v7Body(v7Result(), v7Result("symbol", `"MSFT"`, "bid", `0`, "regularMarketVolume", "")), "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 2 {
		t.Fatalf("%d results", len(rs))
	}
	a := rs[0]
	if a.Symbol != "AAPL" || a.QuoteType != "EQUITY" || a.Currency != "USD" || a.Exchange != "NMS" ||
		a.MarketState != "REGULAR" || a.TZ != "America/New_York" || a.GMTOffset != -5*time.Hour ||
		!a.Time.Equal(time.Date(2020, 11, 6, 21, 0, 2, 0, time.UTC)) || a.Price != 118.69 || a.DayOpen != 118.32 ||
		a.DayHigh != 119.2 || a.DayLow != 116.13 || a.DayVolume != 114457922 || a.PreviousClose != 118.03 ||
		a.Bid == nil || *a.Bid != 118.6 || a.Ask == nil || *a.Ask != 118.7 || a.BidSize != 9 || a.AskSize != 10 {
		t.Fatalf("AAPL result %+v", a)
	}
	if m := rs[1]; m.Symbol != "MSFT" || m.Bid != nil || m.Ask == nil || m.DayVolume != 0 {
		t.Fatalf("MSFT result %+v", m)
	}
}

func TestParseYahooQuoteErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		is   []error
		msg  string
	}{
		{"not JSON", `<html>Too Many Requests</html>`, []error{ErrFormat}, "yahoo v7 quote AAPL: not JSON"},
		{"NaN price", string(v7Body(v7Result("regularMarketPrice", "NaN"))), []error{ErrFormat}, "yahoo v7 quote AAPL: not JSON"},
		{"price as a string", string(v7Body(v7Result("regularMarketPrice", `"NaN"`))), []error{ErrFormat}, "result 0 (AAPL): regularMarketPrice"},
		{"no quoteResponse", `{"chart":{}}`, []error{ErrFormat}, `no "quoteResponse"`},
		{"error", `{"quoteResponse":{"result":null,"error":{"code":"Unauthorized","description":"Invalid Crumb"}}}`,
			[]error{ErrNoData}, `yahoo v7 quote AAPL: error "Unauthorized": Invalid Crumb`},
		{"error beside results", `{"quoteResponse":{"result":[` + v7Result() + `],"error":{"code":"x","description":"y"}}}`,
			[]error{ErrNoData}, `error "x": y`},
		{"no result", `{"quoteResponse":{"result":[],"error":null}}`, []error{ErrNoData}, "yahoo v7 quote AAPL: no result"},
		{"result without symbol", string(v7Body(v7Result("symbol", ""))), []error{ErrFormat}, "result 0: no symbol"},
		{"other symbols only", string(v7Body(v7Result("symbol", `"MSFT"`), v7Result("symbol", `"IBM"`))), []error{ErrNoData},
			"no result for AAPL (it has MSFT, IBM)"},
		{"no time", string(v7Body(v7Result("regularMarketTime", ""))), []error{ErrFormat}, "result 0 (AAPL): no regularMarketTime"},
		{"zero time", string(v7Body(v7Result("regularMarketTime", "0"))), []error{ErrFormat}, "result 0 (AAPL): no regularMarketTime"},
		{"no price", string(v7Body(v7Result("regularMarketPrice", ""))), []error{ErrFormat}, "result 0 (AAPL): no regularMarketPrice"},
		{"negative price", string(v7Body(v7Result("regularMarketPrice", "-118.69"))), []error{ErrFormat, ErrRejected},
			"non_positive_price: open -118.69 <= 0"},
		{"zero price", string(v7Body(v7Result("regularMarketPrice", "0"))), []error{ErrFormat, ErrRejected}, "non_positive_price"},
		{"negative bid", string(v7Body(v7Result("bid", "-1"))), []error{ErrFormat, ErrRejected}, "bid -1 <= 0"},
		{"negative day low", string(v7Body(v7Result("regularMarketDayLow", "-2"))), []error{ErrFormat}, "regularMarketDayLow -2 < 0"},
		{"fractional volume", string(v7Body(v7Result("regularMarketVolume", "1.5"))), []error{ErrFormat}, "regularMarketVolume 1.5"},
		{"future time", string(v7Body(v7Result("regularMarketTime", "4102444800"))), []error{ErrFormat, ErrRejected}, "future_ts"},
	}
	for _, tt := range tests {
		_, err := ParseYahooQuote([]byte(tt.body), "AAPL")
		for _, is := range tt.is {
			if !errors.Is(err, is) {
				t.Errorf("%s: %v; want %v", tt.name, err, is)
			}
		}
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: %v; want it to contain %q", tt.name, err, tt.msg)
		}
	}
	var re *RejectError
	_, err := ParseYahooQuote(v7Body(v7Result("regularMarketPrice", "-1")), "AAPL")
	if !errors.As(err, &re) || re.Reason != ReasonNonPositive {
		t.Fatalf("negative price: %v; want a RejectError of %s", err, ReasonNonPositive)
	}
}

func writeFile(t *testing.T, path string, body []byte) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReplayYahooQuoteFile(t *testing.T) {
	dir := t.TempDir()
	msft := v7Result("symbol", `"MSFT"`, "regularMarketPrice", `223.72`, "regularMarketTime", `1604696401`, "bid", "", "ask", "")
	// Named .txt and starting with a BOM and a newline: told by its content.
	path := writeFile(t, filepath.Join(dir, "saved.txt"), append([]byte("\xef\xbb\xbf\n  "), v7Body(v7Result(), msft)...))

	qs, rejects, err := ReadFileRejects(path, "AAPL")
	if err != nil || len(rejects) != 0 || len(qs) != 1 || !sameQuote(qs[0], aaplV7("replay:yahoo-v7")) {
		t.Fatalf("ReadFileRejects: %+v, %v, %v\nwant %+v", qs, rejects, err, aaplV7("replay:yahoo-v7"))
	}

	// As `stocksys symbols add X --source replay:FILE` opens it.
	spec, err := ParseSpecOptions("replay:"+path, map[string]string{"speed": "max"})
	if err != nil {
		t.Fatal(err)
	}
	src, err := NewFromSpec(spec, Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := Unwrap(src).(*Replay)
	if valid, rejected, err := r.Check("MSFT"); err != nil || valid != 1 || rejected != 0 {
		t.Fatalf("Check(MSFT) = %d, %d, %v", valid, rejected, err)
	}
	if _, _, err := r.Check("IBM"); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "no result for IBM (it has AAPL, MSFT)") {
		t.Fatalf("Check(IBM): %v", err)
	}
	qs, err = src.Fetch(context.Background(), "AAPL", time.Time{})
	if err != nil || len(qs) != 1 || !sameQuote(qs[0], aaplV7("replay:yahoo-v7")) {
		t.Fatalf("Fetch: %+v, %v", qs, err)
	}
	if _, err := src.Fetch(context.Background(), "AAPL", qs[0].TS); !errors.Is(err, ErrExhausted) {
		t.Fatalf("after the snapshot: %v; want ErrExhausted", err)
	}

	// A bad file: refused at Check, naming it.
	for _, c := range []struct{ name, body, msg string }{
		{"error.json", `{"quoteResponse":{"result":null,"error":{"code":"Not Found","description":"No data"}}}`, `error "Not Found": No data`},
		{"negative.json", string(v7Body(v7Result("regularMarketPrice", "-3"))), "non_positive_price"},
		{"chart.json", `{"chart":{"result":[],"error":null}}`, `keys "chart", not a Yahoo v7 quote response`},
		{"cut.json", string(v7Body(v7Result()))[:40], "not JSON"},
	} {
		p := writeFile(t, filepath.Join(dir, "bad", c.name), []byte(c.body))
		r, err := NewReplay(p, 0, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := r.Check("AAPL"); !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v; want ErrUnreadable naming it and %q", c.name, err, c.msg)
		}
	}
}

func TestReplayYahooQuoteDir(t *testing.T) {
	// Two polls saved in a folder, the later first in path order, and one
	// of another symbol: the replay merges AAPL's snapshots in time order.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "quote-AAPL-MSFT-2.json"), v7Body(v7Result(), v7Result("symbol", `"MSFT"`)))
	writeFile(t, filepath.Join(dir, "b", "quote-AAPL-1.json"), v7Body(v7Result("regularMarketTime", "1604696100", "regularMarketPrice", "118.5")))
	writeFile(t, filepath.Join(dir, "c", "quote-IBM.json"), v7Body(v7Result("symbol", `"IBM"`)))
	r, err := NewReplay(dir, 0, Options{})
	if err != nil {
		t.Fatal(err)
	}
	files, err := r.Files("AAPL")
	if err != nil || len(files) != 2 {
		t.Fatalf("files %v, %v", files, err)
	}
	qs, err := r.Fetch(context.Background(), "AAPL", time.Time{})
	if err != nil || len(qs) != 2 {
		t.Fatalf("Fetch: %+v, %v", qs, err)
	}
	// 1604696100 is 2020-11-06 20:55:00 UTC.
	first := Quote{Symbol: "AAPL", TS: time.Date(2020, 11, 6, 20, 55, 0, 0, time.UTC), Open: 118.5, High: 118.5, Low: 118.5,
		Close: 118.5, Bid: fp(118.6), Ask: fp(118.7), Source: "replay:yahoo-v7", TZ: "America/New_York"}
	if !sameQuote(qs[0], first) || !sameQuote(qs[1], aaplV7("replay:yahoo-v7")) {
		t.Fatalf("got %+v\n%+v", qs[0], qs[1])
	}
	if qs, err := r.Fetch(context.Background(), "MSFT", time.Time{}); err != nil || len(qs) != 1 || qs[0].Symbol != "MSFT" {
		t.Fatalf("MSFT: %+v, %v", qs, err)
	}
}

func TestParseSpecYahooEndpoint(t *testing.T) {
	for _, c := range []struct {
		spec     string
		opts     map[string]string
		endpoint string
		str      string
	}{
		{"yahoo", nil, "", "yahoo"},
		{"yahoo?endpoint=chart", nil, "", "yahoo"},
		{"yahoo?endpoint=quote", nil, "quote", "yahoo?endpoint=quote"},
		{"yahoo?endpoint=quote&tz=UTC&hours=24x7", nil, "quote", "yahoo?endpoint=quote&tz=UTC&hours=24x7"},
		{"yahoo", map[string]string{"endpoint": "quote", "tz": "Asia/Jakarta"}, "quote", "yahoo?endpoint=quote&tz=Asia/Jakarta"},
	} {
		s, err := ParseSpecOptions(c.spec, c.opts)
		if err != nil || s.Kind != KindYahoo || s.Endpoint != c.endpoint || s.String() != c.str {
			t.Errorf("%s %v: %+v (%q), %v; want endpoint %q, %q", c.spec, c.opts, s, s.String(), err, c.endpoint, c.str)
			continue
		}
		if again, err := ParseSpec(s.String()); err != nil || again != s {
			t.Errorf("round trip of %q: %+v, %v", s.String(), again, err)
		}
	}
	for _, c := range []struct {
		spec string
		opts map[string]string
		msg  string
	}{
		{"yahoo?endpoint=v7", nil, `endpoint "v7": want chart (v8 chart API, the default) or quote (v7 quote API)`},
		{"yahoo", map[string]string{"endpoint": "quotes"}, `endpoint "quotes"`},
		{"yahoo", map[string]string{"range": "1d"}, `unknown parameter "range" for yahoo (allowed: endpoint, hours, tz)`},
		{"alphavantage?endpoint=quote", nil, `unknown parameter "endpoint" for alphavantage (allowed: hours, tz)`},
		{"yahoo?endpoint=quote", map[string]string{"endpoint": "chart"}, "option endpoint=chart: the source"},
	} {
		if _, err := ParseSpecOptions(c.spec, c.opts); !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s %v: %v; want ErrBadSpec containing %q", c.spec, c.opts, err, c.msg)
		}
	}
}

func TestYahooQuoteFetch(t *testing.T) {
	body := v7Body(v7Result())
	s := newServer(t, resp{200, nil, body})
	clock := newFakeClock(utc(2020, 11, 6, 21, 1))
	lim := &countingLimiter{}
	// With tz=UTC: the response's zone wins for its quotes.
	y, err := New("yahoo?endpoint=quote&tz=UTC", testOptions(s, clock, lim))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := y.Fetch(context.Background(), "AAPL", time.Time{})
	if err != nil || len(qs) != 1 || !sameQuote(qs[0], aaplV7("yahoo-v7")) {
		t.Fatalf("Fetch: %+v, %v\nwant %+v", qs, err, aaplV7("yahoo-v7"))
	}
	r := s.requests()[0]
	if r.URL.Path != "/v7/finance/quote" || r.URL.RawQuery != "symbols=AAPL" || r.Header.Get("User-Agent") != DefaultUserAgent || lim.n.Load() != 1 {
		t.Fatalf("request %s UA %q, limiter waits %d", r.URL, r.Header.Get("User-Agent"), lim.n.Load())
	}
	// Polled again with the snapshot as checkpoint: the price's time has
	// not moved, nothing new.
	if qs, err := y.Fetch(context.Background(), "AAPL", qs[0].TS); err != nil || len(qs) != 0 {
		t.Fatalf("second poll: %+v, %v", qs, err)
	}
	if n := len(s.requests()); n != 2 {
		t.Fatalf("%d requests; want 2", n)
	}

	// A symbol with ^ is query-escaped; an error response is ErrNoData
	// naming the symbol, not retried.
	s2 := newServer(t, resp{200, nil, []byte(`{"quoteResponse":{"result":[],"error":{"code":"Bad Request","description":"Missing value for the \"symbols\" argument"}}}`)})
	y2, err := New("yahoo?endpoint=quote", testOptions(s2, clock, lim))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := y2.Fetch(context.Background(), "^GSPC", time.Time{}); !errors.Is(err, ErrNoData) || !strings.Contains(err.Error(), "yahoo v7 quote ^GSPC") {
		t.Fatalf("error response: %v", err)
	}
	if rs := s2.requests(); len(rs) != 1 || rs[0].URL.RawQuery != "symbols=%5EGSPC" {
		t.Fatalf("requests %v", rs)
	}

	// A 5xx is retried as for the chart.
	s3 := newServer(t, resp{503, nil, nil}, resp{200, nil, body})
	y3, _ := New("yahoo?endpoint=quote", testOptions(s3, clock, lim))
	if qs, err := y3.Fetch(context.Background(), "AAPL", time.Time{}); err != nil || len(qs) != 1 || len(s3.requests()) != 2 {
		t.Fatalf("after a 503: %+v, %v, %d requests", qs, err, len(s3.requests()))
	}

	// The default endpoint still reads the chart.
	y4, _ := New("yahoo", testOptions(s, clock, lim))
	y4.Fetch(context.Background(), "AAPL", time.Time{})
	if rs := s.requests(); rs[len(rs)-1].URL.Path != "/v8/finance/chart/AAPL" {
		t.Fatalf("default endpoint requested %s", rs[len(rs)-1].URL.Path)
	}
}
