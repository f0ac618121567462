package quote

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	yahooFixture    = "yahoo-v8-chart/chart-AAPL-2020-08-31-to-2020-11-07.json"
	avIntradayFix   = "alphavantage/time_series_intraday_msft_1min.json"
	avGlobalFix     = "alphavantage/global_quote_msft.json"
	testAPIKey      = "SECRETKEY123"
	testRetryWaitLo = 50 * time.Millisecond
)

// yahooBody returns the recorded chart body (response.bodyJson).
func yahooBody(t *testing.T) []byte {
	t.Helper()
	var rec struct {
		Response struct {
			BodyJSON json.RawMessage `json:"bodyJson"`
		} `json:"response"`
	}
	if err := json.Unmarshal(readFixture(t, yahooFixture), &rec); err != nil {
		t.Fatal(err)
	}
	return rec.Response.BodyJSON
}

// countingLimiter counts Wait calls and never blocks.
type countingLimiter struct{ n atomic.Int64 }

func (l *countingLimiter) Wait(ctx context.Context) error {
	l.n.Add(1)
	return ctx.Err()
}

// server serves the responses in order (the last one repeatedly), recording
// the requests.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
}

type resp struct {
	status int
	header map[string]string
	body   []byte
}

func newServer(t *testing.T, rs ...resp) *server {
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		i := min(len(s.reqs), len(rs)-1)
		s.reqs = append(s.reqs, r.Clone(context.Background()))
		s.mu.Unlock()
		for k, v := range rs[i].header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(rs[i].status)
		w.Write(rs[i].body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

func testOptions(s *server, clock *fakeClock, lim Limiter) Options {
	return Options{Clock: clock, YahooBaseURL: s.URL, AlphaVantageBaseURL: s.URL, AlphaVantageKey: testAPIKey,
		YahooLimiter: lim, AlphaVantageLimiter: lim,
		Retry: RetryConfig{MaxAttempts: 3, InitialInterval: 100 * time.Millisecond, MaxInterval: time.Second}}
}

func TestParseYahooChart(t *testing.T) {
	c, err := ParseYahooChart(yahooBody(t), "AAPL")
	if err != nil {
		t.Fatal(err)
	}
	if c.Symbol != "AAPL" || c.Currency != "USD" || c.Location.String() != "America/New_York" ||
		c.GMTOffset != -5*time.Hour || c.Granularity != "1d" || c.Interval != 24*time.Hour || c.Skipped != 0 {
		t.Fatalf("meta: %+v", c)
	}
	if len(c.Quotes) != 49 {
		t.Fatalf("%d bars; want 49", len(c.Quotes))
	}
	// timestamp 1598880600 = 2020-08-31 13:30 UTC = 09:30 EDT.
	first := Quote{Symbol: "AAPL", TS: utc(2020, 8, 31, 13, 30), Open: 127.58000183105469, High: 131, Low: 126,
		Close: 129.0399932861328, Volume: 225702700, Source: "yahoo", TZ: "America/New_York"}
	if c.Quotes[0] != first {
		t.Fatalf("first bar %+v\nwant %+v", c.Quotes[0], first)
	}
	if d := c.Quotes[0].TS.In(c.Location); d.Hour() != 9 || d.Minute() != 30 || c.Quotes[0].Day() != time.Date(2020, 8, 31, 0, 0, 0, 0, time.UTC) {
		t.Fatalf("first bar local time %v", d)
	}
	if last := c.Quotes[48]; !last.TS.Equal(time.Date(2020, 11, 6, 14, 30, 0, 0, time.UTC)) { // 09:30 EST
		t.Fatalf("last bar at %v", last.TS)
	}
	if len(c.Splits) != 1 || c.Splits[0] != (Split{TS: utc(2020, 8, 31, 13, 30), Numerator: 4, Denominator: 1, Ratio: "4:1"}) {
		t.Fatalf("splits %+v", c.Splits)
	}
	if len(c.Dividends) != 1 || c.Dividends[0] != (Dividend{TS: utc(2020, 11, 6, 14, 30), Amount: 0.205}) {
		t.Fatalf("dividends %+v", c.Dividends)
	}
}

func TestParseYahooChartNulls(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(yahooBody(t), &doc); err != nil {
		t.Fatal(err)
	}
	res := doc["chart"].(map[string]any)["result"].([]any)[0].(map[string]any)
	q := res["indicators"].(map[string]any)["quote"].([]any)[0].(map[string]any)
	q["close"].([]any)[1] = nil
	q["volume"].([]any)[2] = nil
	for _, k := range []string{"open", "high", "low", "close", "volume"} {
		q[k].([]any)[3] = nil // a whole null minute, as Yahoo writes them
	}
	body, _ := json.Marshal(doc)
	c, err := ParseYahooChart(body, "AAPL")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Quotes) != 46 || c.Skipped != 3 {
		t.Fatalf("%d bars, %d skipped; want 46, 3", len(c.Quotes), c.Skipped)
	}
	// Bars 1-3 (2020-09-01..03) are gone, not zeroed; bar 4 follows bar 0.
	if !c.Quotes[0].TS.Equal(utc(2020, 8, 31, 13, 30)) || !c.Quotes[1].TS.Equal(utc(2020, 9, 4, 13, 30)) {
		t.Fatalf("bars 0, 1 at %v, %v", c.Quotes[0].TS, c.Quotes[1].TS)
	}
	for _, x := range c.Quotes {
		if x.Close == 0 || x.Open == 0 || x.Volume == 0 {
			t.Fatalf("zeroed bar %+v", x)
		}
	}
}

func TestParseYahooChartErrors(t *testing.T) {
	tests := []struct {
		body string
		is   error
		msg  string
	}{
		{`{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}`, ErrNoData, "Not Found: No data found"},
		{`{"chart":{"result":[]}}`, ErrNoData, "no result"},
		{`{"chart":{"result":[{"timestamp":[1,2],"indicators":{"quote":[{"open":[1],"high":[1,2],"low":[1,2],"close":[1,2],"volume":[1,2]}]}}]}}`, ErrFormat, "1 open values for 2 timestamps"},
		{`{"chart":{"result":[{"timestamp":[1],"indicators":{}}]}}`, ErrFormat, "no indicators.quote"},
		{`<html>`, ErrFormat, "yahoo chart X"},
	}
	for _, tt := range tests {
		if _, err := ParseYahooChart([]byte(tt.body), "X"); !errors.Is(err, tt.is) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err %v; want %v with %q", tt.body, err, tt.is, tt.msg)
		}
	}
}

func TestYahooFetch(t *testing.T) {
	s := newServer(t, resp{200, nil, yahooBody(t)})
	clock := newFakeClock(utc(2020, 11, 7, 0, 0))
	lim := &countingLimiter{}
	y, err := New("yahoo", testOptions(s, clock, lim))
	if err != nil {
		t.Fatal(err)
	}
	// Checkpoint 2020-11-04 14:30 UTC: bars 11-05 and 11-06 are after it.
	qs, err := y.Fetch(context.Background(), "AAPL", utc(2020, 11, 4, 14, 30))
	if err != nil {
		t.Fatal(err)
	}
	// The 11-06 daily bar is still in progress at 2020-11-07 00:00 UTC
	// (it ends 24h after 14:30 UTC), so only 11-05 is complete.
	if len(qs) != 1 || !qs[0].TS.Equal(utc(2020, 11, 5, 14, 30)) {
		t.Fatalf("got %+v", qs)
	}
	r := s.requests()[0]
	if r.URL.Path != "/v8/finance/chart/AAPL" || r.URL.Query().Get("interval") != "1m" || r.URL.Query().Get("range") != "5d" ||
		r.Header.Get("User-Agent") != DefaultUserAgent || lim.n.Load() != 1 {
		t.Fatalf("request %s UA %q, limiter waits %d", r.URL, r.Header.Get("User-Agent"), lim.n.Load())
	}
	// A recent checkpoint asks for range=1d, with a custom User-Agent; a
	// symbol with ^ is path-escaped.
	opts := testOptions(s, clock, lim)
	opts.UserAgent = "test-agent/1"
	y2, _ := New("yahoo", opts)
	if _, err := y2.Fetch(context.Background(), "^GSPC", utc(2020, 11, 6, 20, 0)); err != nil {
		t.Fatal(err)
	}
	r = s.requests()[1]
	if r.URL.EscapedPath() != "/v8/finance/chart/%5EGSPC" || r.URL.Query().Get("range") != "1d" || r.Header.Get("User-Agent") != "test-agent/1" {
		t.Fatalf("request %s UA %q", r.URL.EscapedPath()+"?"+r.URL.RawQuery, r.Header.Get("User-Agent"))
	}
}

func TestHTTPRetries(t *testing.T) {
	ok := resp{200, nil, nil}
	tests := []struct {
		name      string
		rs        []resp
		wantErr   string // "" for success
		wantReqs  int
		wantSleep func(t *testing.T, slept []time.Duration)
	}{
		{"500 then success", []resp{{500, nil, nil}, {502, nil, nil}, ok}, "", 3,
			func(t *testing.T, s []time.Duration) {
				// Backoff 100ms then 200ms, each +-50% jitter.
				if len(s) != 2 || s[0] < testRetryWaitLo || s[0] > 150*time.Millisecond || s[1] < 100*time.Millisecond || s[1] > 300*time.Millisecond {
					t.Fatalf("slept %v", s)
				}
			}},
		{"429 with Retry-After", []resp{{429, map[string]string{"Retry-After": "7"}, nil}, ok}, "", 2,
			func(t *testing.T, s []time.Duration) {
				if len(s) != 1 || s[0] != 7*time.Second {
					t.Fatalf("slept %v; want [7s]", s)
				}
			}},
		{"503 with Retry-After date", []resp{{503, map[string]string{"Retry-After": "Tue, 17 Nov 2020 00:00:30 GMT"}, nil}, ok}, "", 2,
			func(t *testing.T, s []time.Duration) {
				if len(s) != 1 || s[0] != 30*time.Second {
					t.Fatalf("slept %v; want [30s]", s)
				}
			}},
		{"Retry-After too long", []resp{{429, map[string]string{"Retry-After": "3600"}, nil}}, "Retry-After 1h0m0s exceeds 1m0s", 1, nil},
		{"give up", []resp{{503, nil, nil}}, "gave up after 3 attempts: HTTP 503 Service Unavailable", 3, nil},
		{"404 is permanent", []resp{{404, nil, []byte(`{"chart":{"error":{"code":"Not Found"}}}`)}}, "HTTP 404 Not Found", 1, nil},
	}
	for _, tt := range tests {
		for _, provider := range []string{"yahoo", "alphavantage"} {
			t.Run(tt.name+"/"+provider, func(t *testing.T) {
				rs := append([]resp(nil), tt.rs...)
				if rs[len(rs)-1].status == 200 {
					if provider == "yahoo" {
						rs[len(rs)-1].body = yahooBody(t)
					} else {
						rs[len(rs)-1].body = readFixture(t, avIntradayFix)
					}
				}
				s := newServer(t, rs...)
				clock := newFakeClock(utc(2020, 11, 17, 0, 0))
				lim := &countingLimiter{}
				src, err := New(provider, testOptions(s, clock, lim))
				if err != nil {
					t.Fatal(err)
				}
				_, err = src.Fetch(context.Background(), "MSFT", time.Time{})
				if n := len(s.requests()); n != tt.wantReqs || lim.n.Load() != int64(n) {
					t.Fatalf("%d requests, %d limiter waits; want %d each", n, lim.n.Load(), tt.wantReqs)
				}
				if tt.wantErr == "" {
					if err != nil {
						t.Fatal(err)
					}
					tt.wantSleep(t, clock.Slept())
					return
				}
				host := strings.TrimPrefix(s.URL, "http://")
				if !errors.Is(err, ErrUpstream) || !strings.Contains(err.Error(), tt.wantErr) ||
					!strings.Contains(err.Error(), host+" MSFT") || strings.Contains(err.Error(), testAPIKey) {
					t.Fatalf("err = %v; want ErrUpstream naming %s MSFT and %q, without the key", err, host, tt.wantErr)
				}
			})
		}
	}
}

func TestHTTPNetworkErrorHidesKey(t *testing.T) {
	s := newServer(t, resp{200, nil, nil})
	s.Close() // connection refused
	clock := newFakeClock(utc(2020, 11, 17, 0, 0))
	src, err := New("alphavantage", testOptions(s, clock, &countingLimiter{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), "MSFT", time.Time{})
	if !errors.Is(err, ErrUpstream) || strings.Contains(err.Error(), testAPIKey) || strings.Contains(err.Error(), "apikey") ||
		!strings.Contains(err.Error(), "gave up after 3 attempts: request:") {
		t.Fatalf("err = %v", err)
	}
}

// blockingLimiter refuses every request, as a limiter whose wait outlasts
// the context's deadline does.
type blockingLimiter struct{}

func (blockingLimiter) Wait(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

func TestHTTPRateLimitHonoured(t *testing.T) {
	s := newServer(t, resp{200, nil, nil})
	y, _ := New("yahoo", testOptions(s, newFakeClock(utc(2020, 11, 17, 0, 0)), blockingLimiter{}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := y.Fetch(ctx, "AAPL", time.Time{}); !errors.Is(err, context.DeadlineExceeded) || len(s.requests()) != 0 {
		t.Fatalf("err %v, %d requests; want the deadline and none", err, len(s.requests()))
	}
}
