package quote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAlphaVantageIntraday(t *testing.T) {
	qs, err := ParseAlphaVantageIntraday(readFixture(t, avIntradayFix), "MSFT")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 100 {
		t.Fatalf("%d bars; want 100", len(qs))
	}
	for i := 1; i < len(qs); i++ {
		if !qs[i].TS.After(qs[i-1].TS) {
			t.Fatalf("bar %d not after bar %d", i, i-1)
		}
	}
	// "2017-12-18 13:17:00" US/Eastern (EST, UTC-5), the bar 13:16-13:17.
	first := Quote{Symbol: "MSFT", TS: utc(2017, 12, 18, 18, 16), Open: 86.8101, High: 86.82, Low: 86.79, Close: 86.8,
		Volume: 31172, Source: "alphavantage", TZ: "US/Eastern"} // the zone Meta Data names
	// "2017-12-18 14:56:00": the bar 14:55-14:56 EST.
	last := Quote{Symbol: "MSFT", TS: utc(2017, 12, 18, 19, 55), Open: 86.49, High: 86.5, Low: 86.475, Close: 86.5,
		Volume: 10494, Source: "alphavantage", TZ: "US/Eastern"}
	if qs[0] != first || qs[99] != last {
		t.Fatalf("first %+v\nlast %+v", qs[0], qs[99])
	}
	if d := qs[0].Day(); !d.Equal(utc(2017, 12, 18, 0, 0)) {
		t.Errorf("day %v; want 2017-12-18", d)
	}
	// Another zone named by Meta Data is the quotes' zone.
	body := strings.Replace(string(readFixture(t, avIntradayFix)), `"US/Eastern"`, `"Asia/Tokyo"`, 1)
	qs, err = ParseAlphaVantageIntraday([]byte(body), "MSFT")
	if err != nil || qs[0].TZ != "Asia/Tokyo" || !qs[0].TS.Equal(utc(2017, 12, 18, 4, 16)) || !qs[0].Day().Equal(utc(2017, 12, 18, 0, 0)) {
		t.Errorf("Asia/Tokyo: first %+v (day %v), %v; want 13:16 JST = 04:16 UTC of 2017-12-18, TZ Asia/Tokyo", qs[0], qs[0].Day(), err)
	}
}

func TestParseAlphaVantageGlobalQuote(t *testing.T) {
	q, err := ParseAlphaVantageGlobalQuote(readFixture(t, avGlobalFix))
	if err != nil {
		t.Fatal(err)
	}
	// Latest trading day 2018-10-05, stamped 09:30 EDT = 13:30 UTC.
	want := Quote{Symbol: "MSFT", TS: utc(2018, 10, 5, 13, 30), Open: 112.63, High: 113.17, Low: 110.64, Close: 112.13,
		Volume: 29062853, Source: "alphavantage:global"}
	if q != want {
		t.Fatalf("got %+v\nwant %+v", q, want)
	}
}

func TestParseAlphaVantageErrors(t *testing.T) {
	tests := []struct {
		body string
		is   error
		msg  string
	}{
		{`{"Error Message": "Invalid API call."}`, ErrUpstream, "Error Message: Invalid API call."},
		{`{"Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute"}`, ErrUpstream, "Note: Thank you"},
		{`{"Meta Data": {"4. Interval": "1min", "6. Time Zone": "Mars/Olympus"}}`, ErrFormat, `time zone "Mars/Olympus"`},
		{`{"Meta Data": {"4. Interval": "1min", "6. Time Zone": "US/Eastern"}}`, ErrFormat, `no "Time Series (1min)"`},
		{`{"Meta Data": {"4. Interval": "1min", "6. Time Zone": "US/Eastern"}, "Time Series (1min)": {"2017-12-18 14:56:00": {"1. open": "x"}}}`,
			ErrFormat, `at 2017-12-18 14:56:00: open "x"`},
	}
	for _, tt := range tests {
		if _, err := ParseAlphaVantageIntraday([]byte(tt.body), "MSFT"); !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err %v; want %v with %q", tt.body, err, tt.is, tt.msg)
		}
	}
}

func TestAlphaVantageFetch(t *testing.T) {
	s := newServer(t, resp{200, nil, readFixture(t, avIntradayFix)})
	// 14:56:30 EST: the bar 14:55-14:56 is complete.
	clock := newFakeClock(time.Date(2017, 12, 18, 19, 56, 30, 0, time.UTC))
	av, err := New("alphavantage", testOptions(s, clock, &countingLimiter{}))
	if err != nil {
		t.Fatal(err)
	}
	qs, err := av.Fetch(context.Background(), "MSFT", utc(2017, 12, 18, 19, 50))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.TS.In(Eastern).Format("15:04"))
	}
	if strings.Join(got, ",") != "14:51,14:52,14:53,14:54,14:55" || qs[4].Close != 86.5 {
		t.Fatalf("got %v", got)
	}
	q := s.requests()[0].URL.Query()
	if s.requests()[0].URL.Path != "/query" || q.Get("function") != "TIME_SERIES_INTRADAY" || q.Get("symbol") != "MSFT" ||
		q.Get("interval") != "1min" || q.Get("outputsize") != "compact" || q.Get("apikey") != testAPIKey {
		t.Fatalf("query %v", q)
	}
	// 30 s earlier the 14:55 bar is still in progress and left out.
	clock2 := newFakeClock(time.Date(2017, 12, 18, 19, 55, 30, 0, time.UTC))
	av2, _ := New("alphavantage", testOptions(s, clock2, &countingLimiter{}))
	if qs, err := av2.Fetch(context.Background(), "MSFT", utc(2017, 12, 18, 19, 53)); err != nil || len(qs) != 1 || !qs[0].TS.Equal(utc(2017, 12, 18, 19, 54)) {
		t.Fatalf("in-progress bar: %+v, %v", qs, err)
	}
}

func TestAlphaVantageThrottleNote(t *testing.T) {
	s := newServer(t,
		resp{200, nil, []byte(`{"Note": "Our standard API call frequency is 5 calls per minute"}`)},
		resp{200, nil, readFixture(t, avGlobalFix)})
	clock := newFakeClock(utc(2018, 10, 5, 20, 0))
	src, _ := New("alphavantage", testOptions(s, clock, &countingLimiter{}))
	q, err := src.(*AlphaVantage).GlobalQuote(context.Background(), "MSFT")
	if err != nil || q.Close != 112.13 || len(s.requests()) != 2 || len(clock.Slept()) != 1 {
		t.Fatalf("quote %+v, err %v, %d requests, slept %v", q, err, len(s.requests()), clock.Slept())
	}
	if f := s.requests()[1].URL.Query().Get("function"); f != "GLOBAL_QUOTE" {
		t.Fatalf("function %q", f)
	}
	// "Error Message" is permanent: one request.
	s2 := newServer(t, resp{200, nil, []byte(`{"Error Message": "Invalid API call."}`)})
	src2, _ := New("alphavantage", testOptions(s2, clock, &countingLimiter{}))
	_, err = src2.Fetch(context.Background(), "MSFT", time.Time{})
	if !errors.Is(err, ErrUpstream) || len(s2.requests()) != 1 || !strings.Contains(err.Error(), "Invalid API call") {
		t.Fatalf("err %v, %d requests", err, len(s2.requests()))
	}
}
