package quote

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Alpha Vantage JSON formats (https://www.alphavantage.co/documentation/):
// numbers are strings under numbered keys ("05. price"); TIME_SERIES_INTRADAY
// keys its series by local time strings in the zone of Meta Data's
// "6. Time Zone", and, as in Alpha Vantage's CSV (see ReadCSV), labels each
// bar by its end, so the parser subtracts "4. Interval" to get Quote.TS.

// ParseAlphaVantageIntraday parses a TIME_SERIES_INTRADAY response body for
// symbol and returns its bars in ascending TS, Source "alphavantage", TZ the
// zone of "6. Time Zone" (the exchange's, "US/Eastern" for US listings). Errors
// wrap ErrFormat, or ErrUpstream for an API message body ("Error Message",
// "Note", "Information").
func ParseAlphaVantageIntraday(body []byte, symbol string) ([]Quote, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: alphavantage intraday %s: %v", ErrFormat, symbol, err)
	}
	if err := avMessage(raw); err != nil {
		return nil, fmt.Errorf("%w: alphavantage intraday %s: %v", ErrUpstream, symbol, err)
	}
	var meta map[string]string
	if err := json.Unmarshal(raw["Meta Data"], &meta); err != nil || meta == nil {
		return nil, fmt.Errorf("%w: alphavantage intraday %s: no \"Meta Data\"", ErrFormat, symbol)
	}
	interval, tz := avField(meta, "Interval"), avField(meta, "Time Zone")
	step, err := time.ParseDuration(strings.TrimSuffix(interval, "in")) // "1min" -> "1m"
	if err != nil || step <= 0 {
		return nil, fmt.Errorf("%w: alphavantage intraday %s: interval %q", ErrFormat, symbol, interval)
	}
	loc, err := LoadZone(tz)
	if err != nil || tz == "" {
		return nil, fmt.Errorf("%w: alphavantage intraday %s: time zone %q", ErrFormat, symbol, tz)
	}
	key := "Time Series (" + interval + ")"
	var series map[string]map[string]string
	if err := json.Unmarshal(raw[key], &series); err != nil || series == nil {
		return nil, fmt.Errorf("%w: alphavantage intraday %s: no %q", ErrFormat, symbol, key)
	}
	out := make([]Quote, 0, len(series))
	for ts, bar := range series {
		t, err := time.ParseInLocation(time.DateTime, ts, loc)
		if err != nil {
			return nil, fmt.Errorf("%w: alphavantage intraday %s: time %q", ErrFormat, symbol, ts)
		}
		q := Quote{Symbol: symbol, TS: t.Add(-step).UTC(), Source: "alphavantage", TZ: tz}
		for _, f := range []struct {
			name string
			dst  *float64
		}{{"open", &q.Open}, {"high", &q.High}, {"low", &q.Low}, {"close", &q.Close}} {
			if *f.dst, err = strconv.ParseFloat(avField(bar, f.name), 64); err != nil {
				return nil, fmt.Errorf("%w: alphavantage intraday %s at %s: %s %q", ErrFormat, symbol, ts, f.name, avField(bar, f.name))
			}
		}
		if q.Volume, err = parseVolume(avField(bar, "volume")); err != nil {
			return nil, fmt.Errorf("%w: alphavantage intraday %s at %s: %v", ErrFormat, symbol, ts, err)
		}
		out = append(out, q)
	}
	sortAscending(out)
	return out, nil
}

// ParseAlphaVantageGlobalQuote parses a GLOBAL_QUOTE response body: the day's
// open, high, low, latest price (as Close) and volume, as a daily bar stamped
// 09:30 US/Eastern of "07. latest trading day" (the daily convention of
// ReadCSV), Source "alphavantage:global". Errors as for
// ParseAlphaVantageIntraday.
func ParseAlphaVantageGlobalQuote(body []byte) (Quote, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return Quote{}, fmt.Errorf("%w: alphavantage global quote: %v", ErrFormat, err)
	}
	if err := avMessage(raw); err != nil {
		return Quote{}, fmt.Errorf("%w: alphavantage global quote: %v", ErrUpstream, err)
	}
	var g map[string]string
	if err := json.Unmarshal(raw["Global Quote"], &g); err != nil || len(g) == 0 {
		return Quote{}, fmt.Errorf("%w: alphavantage global quote: no \"Global Quote\"", ErrNoData)
	}
	q := Quote{Symbol: avField(g, "symbol"), Source: "alphavantage:global"}
	day, err := time.ParseInLocation(time.DateOnly, avField(g, "latest trading day"), Eastern)
	if err != nil {
		return Quote{}, fmt.Errorf("%w: alphavantage global quote %s: latest trading day %q", ErrFormat, q.Symbol, avField(g, "latest trading day"))
	}
	q.TS = dailyBarTime(day)
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"open", &q.Open}, {"high", &q.High}, {"low", &q.Low}, {"price", &q.Close}} {
		if *f.dst, err = strconv.ParseFloat(avField(g, f.name), 64); err != nil {
			return Quote{}, fmt.Errorf("%w: alphavantage global quote %s: %s %q", ErrFormat, q.Symbol, f.name, avField(g, f.name))
		}
	}
	if q.Volume, err = parseVolume(avField(g, "volume")); err != nil {
		return Quote{}, fmt.Errorf("%w: alphavantage global quote %s: %v", ErrFormat, q.Symbol, err)
	}
	return q, nil
}

// avField returns the value of m under the numbered key "<n>. name".
func avField(m map[string]string, name string) string {
	for k, v := range m {
		if _, n, ok := strings.Cut(k, ". "); ok && n == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// avMessage returns the API message of a body that carries one instead of
// data, as a *retryable for throttling ("Note": per-minute limit).
func avMessage(raw map[string]json.RawMessage) error {
	for _, k := range []string{"Error Message", "Information", "Note"} {
		if v, ok := raw[k]; ok {
			var s string
			_ = json.Unmarshal(v, &s)
			msg := fmt.Sprintf("%s: %.300s", k, s)
			if k == "Note" {
				return &retryable{msg: msg}
			}
			return fmt.Errorf("%s", msg)
		}
	}
	return nil
}

// AlphaVantage is the alphavantage source: 1-minute bars from
// TIME_SERIES_INTRADAY. It is safe for concurrent use.
type AlphaVantage struct {
	base  *url.URL
	key   string
	g     *getter
	clock Clock
	max   int
}

// NewAlphaVantage returns the alphavantage source (see Options for defaults).
// Errors wrap ErrNoAPIKey without a key, ErrBadSpec for a bad base URL.
func NewAlphaVantage(opts Options) (*AlphaVantage, error) {
	opts = opts.withDefaults()
	if opts.AlphaVantageKey == "" {
		return nil, fmt.Errorf("%w: set %s", ErrNoAPIKey, EnvAlphaVantageKey)
	}
	base, err := url.Parse(opts.AlphaVantageBaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("%w: alphavantage base URL %q: want scheme://host", ErrBadSpec, opts.AlphaVantageBaseURL)
	}
	return &AlphaVantage{base: base, key: opts.AlphaVantageKey, clock: opts.Clock, max: opts.MaxBatch,
		g: &getter{client: opts.HTTPClient, ua: opts.UserAgent, limiter: opts.AlphaVantageLimiter, clock: opts.Clock,
			retry: opts.Retry, log: opts.Logger}}, nil
}

// query fetches {base}/query?function=fn&symbol=symbol&apikey=...&extra.
// A "Note" body (throttling) is retried like a 429.
func (a *AlphaVantage) query(ctx context.Context, fn, symbol string, extra url.Values) ([]byte, error) {
	u := a.base.JoinPath("query")
	v := url.Values{"function": {fn}, "symbol": {symbol}, "apikey": {a.key}}
	for k, x := range extra {
		v[k] = x
	}
	u.RawQuery = v.Encode()
	return a.g.get(ctx, u, symbol, func(body []byte) error {
		var raw map[string]json.RawMessage
		if json.Unmarshal(body, &raw) != nil {
			return nil // left to the parser, which names the error
		}
		return avMessage(raw)
	})
}

// Intraday fetches TIME_SERIES_INTRADAY (interval=1min) with outputsize
// "compact" (last 100 bars) or "full".
func (a *AlphaVantage) Intraday(ctx context.Context, symbol, outputsize string) ([]Quote, error) {
	body, err := a.query(ctx, "TIME_SERIES_INTRADAY", symbol, url.Values{"interval": {"1min"}, "outputsize": {outputsize}})
	if err != nil {
		return nil, err
	}
	return ParseAlphaVantageIntraday(body, symbol)
}

// GlobalQuote fetches GLOBAL_QUOTE: the day's bar so far (see
// ParseAlphaVantageGlobalQuote), with Symbol set to symbol. Its TS does not
// move during the day, so it does not fit Fetch's checkpoint and is a call of
// its own.
func (a *AlphaVantage) GlobalQuote(ctx context.Context, symbol string) (Quote, error) {
	body, err := a.query(ctx, "GLOBAL_QUOTE", symbol, nil)
	if err != nil {
		return Quote{}, err
	}
	q, err := ParseAlphaVantageGlobalQuote(body)
	q.Symbol = symbol
	return q, err
}

// Fetch implements Source with one TIME_SERIES_INTRADAY request: outputsize
// compact when after lies within the last 90 minutes (compact holds 100),
// full otherwise. Bars not yet complete are left out.
func (a *AlphaVantage) Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	now := a.clock.Now()
	size := "full"
	if !after.IsZero() && now.Sub(after) <= 90*time.Minute {
		size = "compact"
	}
	qs, err := a.Intraday(ctx, symbol, size)
	if err != nil {
		return nil, err
	}
	return window(qs, after, now, time.Minute, a.max), nil
}
