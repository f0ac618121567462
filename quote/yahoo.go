package quote

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// YahooChart is a parsed Yahoo Finance v8 chart response
// (GET /v8/finance/chart/{symbol}; undocumented public API, format as served
// and recorded in shared/fixtures/yahoo-v8-chart).
type YahooChart struct {
	Symbol   string
	Currency string
	// Location is the exchange's zone, from meta.exchangeTimezoneName, or a
	// fixed zone of meta.gmtoffset seconds when the name is unknown. Bar
	// times themselves are Unix seconds and need no zone.
	Location *time.Location
	// TZ is meta.exchangeTimezoneName when LoadZone knows it ("UTC" for
	// crypto currencies, "Asia/Jakarta" for the Jakarta exchange), else "".
	// Every quote's Quote.TZ is set to it, so its trading day is reckoned
	// in the exchange's zone; with "" the spec's tz= option or DefaultZone
	// applies.
	TZ string
	// InstrumentType is meta.instrumentType ("EQUITY", "ETF",
	// "CRYPTOCURRENCY", "CURRENCY", ...); AllDay is true for
	// CRYPTOCURRENCY, an instrument trading around the clock every day
	// (its trading day is its calendar day in TZ). The fetch side's
	// expected hours (TradingAt) do not read the chart: give such a symbol
	// hours=24x7.
	InstrumentType string
	AllDay         bool
	// GMTOffset is meta.gmtoffset: the exchange's UTC offset when the
	// response was made (not necessarily at the bars' dates).
	GMTOffset time.Duration
	// Granularity is meta.dataGranularity ("1m", "1d", ...) and Interval
	// its length (24h for "1d"; 0 if unknown).
	Granularity string
	Interval    time.Duration
	// Quotes holds the bars in ascending TS (the bar's start), Source
	// "yahoo". Bars with a null open, high, low, close or volume (Yahoo
	// writes them for minutes without trades) are left out, not zeroed.
	Quotes []Quote
	// Skipped counts the bars left out for nulls.
	Skipped int
	// Splits and Dividends are events.splits and events.dividends, ascending.
	Splits    []Split
	Dividends []Dividend
}

// Split is a stock split event: Numerator new shares for Denominator old
// (4 and 1 for a 4:1 split), effective at TS.
type Split struct {
	TS                     time.Time
	Numerator, Denominator float64
	Ratio                  string // as given, e.g. "4:1"
}

// Dividend is a cash dividend of Amount per share, ex-date TS.
type Dividend struct {
	TS     time.Time
	Amount float64
}

type yahooResponse struct {
	Chart struct {
		Result []struct {
			Meta struct {
				Currency             string `json:"currency"`
				Symbol               string `json:"symbol"`
				GMTOffset            int64  `json:"gmtoffset"`
				ExchangeTimezoneName string `json:"exchangeTimezoneName"`
				InstrumentType       string `json:"instrumentType"`
				DataGranularity      string `json:"dataGranularity"`
			} `json:"meta"`
			Timestamp []int64 `json:"timestamp"`
			Events    struct {
				Splits map[string]struct {
					Date        int64   `json:"date"`
					Numerator   float64 `json:"numerator"`
					Denominator float64 `json:"denominator"`
					SplitRatio  string  `json:"splitRatio"`
				} `json:"splits"`
				Dividends map[string]struct {
					Date   int64   `json:"date"`
					Amount float64 `json:"amount"`
				} `json:"dividends"`
			} `json:"events"`
			Indicators struct {
				Quote []struct {
					Open   []*float64 `json:"open"`
					High   []*float64 `json:"high"`
					Low    []*float64 `json:"low"`
					Close  []*float64 `json:"close"`
					Volume []*float64 `json:"volume"`
				} `json:"quote"`
			} `json:"indicators"`
		} `json:"result"`
		Error *struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	} `json:"chart"`
}

// ParseYahooChart parses a v8 chart response body for symbol (the quotes'
// Symbol; Yahoo's meta.symbol is in YahooChart.Symbol). The quotes' TZ is
// the exchange's zone the response names (YahooChart.TZ). Errors wrap ErrFormat,
// or ErrNoData when the body is a chart error or holds no result.
func ParseYahooChart(body []byte, symbol string) (*YahooChart, error) {
	var r yahooResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: yahoo chart %s: %v", ErrFormat, symbol, err)
	}
	if e := r.Chart.Error; e != nil {
		return nil, fmt.Errorf("%w: yahoo chart %s: %s: %s", ErrNoData, symbol, e.Code, e.Description)
	}
	if len(r.Chart.Result) == 0 {
		return nil, fmt.Errorf("%w: yahoo chart %s: no result", ErrNoData, symbol)
	}
	res := r.Chart.Result[0]
	c := &YahooChart{
		Symbol:      res.Meta.Symbol,
		Currency:    res.Meta.Currency,
		GMTOffset:   time.Duration(res.Meta.GMTOffset) * time.Second,
		Granularity: res.Meta.DataGranularity,
		Interval:    yahooInterval(res.Meta.DataGranularity),
	}
	c.InstrumentType = res.Meta.InstrumentType
	c.AllDay = res.Meta.InstrumentType == "CRYPTOCURRENCY"
	if loc, err := LoadZone(res.Meta.ExchangeTimezoneName); err == nil && res.Meta.ExchangeTimezoneName != "" {
		c.Location, c.TZ = loc, res.Meta.ExchangeTimezoneName
	} else {
		c.Location = time.FixedZone(fmt.Sprintf("UTC%+d", res.Meta.GMTOffset/3600), int(res.Meta.GMTOffset))
	}
	if n := len(res.Timestamp); n > 0 {
		if len(res.Indicators.Quote) == 0 {
			return nil, fmt.Errorf("%w: yahoo chart %s: %d timestamps, no indicators.quote", ErrFormat, symbol, n)
		}
		q := res.Indicators.Quote[0]
		for name, a := range map[string][]*float64{"open": q.Open, "high": q.High, "low": q.Low, "close": q.Close, "volume": q.Volume} {
			if len(a) != n {
				return nil, fmt.Errorf("%w: yahoo chart %s: %d %s values for %d timestamps", ErrFormat, symbol, len(a), name, n)
			}
		}
		for i, ts := range res.Timestamp {
			if q.Open[i] == nil || q.High[i] == nil || q.Low[i] == nil || q.Close[i] == nil || q.Volume[i] == nil {
				c.Skipped++
				continue
			}
			c.Quotes = append(c.Quotes, Quote{Symbol: symbol, TS: time.Unix(ts, 0).UTC(),
				Open: *q.Open[i], High: *q.High[i], Low: *q.Low[i], Close: *q.Close[i],
				Volume: int64(*q.Volume[i]), Source: "yahoo", TZ: c.TZ})
		}
		sortAscending(c.Quotes)
	}
	for _, s := range res.Events.Splits {
		c.Splits = append(c.Splits, Split{TS: time.Unix(s.Date, 0).UTC(), Numerator: s.Numerator, Denominator: s.Denominator, Ratio: s.SplitRatio})
	}
	sort.Slice(c.Splits, func(i, j int) bool { return c.Splits[i].TS.Before(c.Splits[j].TS) })
	for _, d := range res.Events.Dividends {
		c.Dividends = append(c.Dividends, Dividend{TS: time.Unix(d.Date, 0).UTC(), Amount: d.Amount})
	}
	sort.Slice(c.Dividends, func(i, j int) bool { return c.Dividends[i].TS.Before(c.Dividends[j].TS) })
	return c, nil
}

// yahooInterval returns the length of a Yahoo granularity ("1m", "90m",
// "1h", "1d", "5d", "1wk", "1mo", "3mo"), or 0 if unknown. Months count as
// 31 days (an upper bound, as completeness checks want).
func yahooInterval(g string) time.Duration {
	units := []struct {
		suffix string
		d      time.Duration
	}{{"mo", 31 * 24 * time.Hour}, {"wk", 7 * 24 * time.Hour}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(g, u.suffix); ok {
			if k, err := strconv.Atoi(n); err == nil && k > 0 {
				return time.Duration(k) * u.d
			}
			return 0
		}
	}
	return 0
}

// Yahoo is the yahoo source: 1-minute bars of the current day from the v8
// chart API, or with endpoint=quote (Spec.Endpoint YahooEndpointQuote)
// snapshots of the v7 quote API (see ParseYahooQuote). It is safe for
// concurrent use.
type Yahoo struct {
	base     *url.URL
	g        *getter
	clock    Clock
	max      int
	endpoint string // "" (YahooEndpointChart) or YahooEndpointQuote
}

// NewYahoo returns the yahoo source (see Options for defaults). Errors wrap
// ErrBadSpec for an unparsable base URL.
func NewYahoo(opts Options) (*Yahoo, error) {
	opts = opts.withDefaults()
	base, err := url.Parse(opts.YahooBaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("%w: yahoo base URL %q: want scheme://host", ErrBadSpec, opts.YahooBaseURL)
	}
	return &Yahoo{base: base, clock: opts.Clock, max: opts.MaxBatch,
		g: &getter{client: opts.HTTPClient, ua: opts.UserAgent, limiter: opts.YahooLimiter, clock: opts.Clock,
			retry: opts.Retry, log: opts.Logger}}, nil
}

// Chart fetches GET {base}/v8/finance/chart/{symbol}?interval=1m&range=rng
// and parses it. Errors as for Fetch.
func (y *Yahoo) Chart(ctx context.Context, symbol, rng string) (*YahooChart, error) {
	u := y.base.JoinPath("v8", "finance", "chart", symbol)
	u.RawQuery = url.Values{"interval": {"1m"}, "range": {rng}}.Encode()
	body, err := y.g.get(ctx, u, symbol, nil)
	if err != nil {
		return nil, err
	}
	return ParseYahooChart(body, symbol)
}

// Fetch implements Source with one chart request: range=1d when after is
// zero or less than 24h ago, else range=5d (Yahoo serves 1-minute bars for
// the last 7 days at most, so an older checkpoint cannot be caught up). Bars
// not yet complete (TS + 1m after now) are left out. With endpoint=quote it
// makes one v7 quote request instead (QuoteSnapshot) and returns the
// snapshot when its TS (regularMarketTime) is after `after`: polling gives
// one quote per change of the last price's time, none while it stands still
// (after the close).
func (y *Yahoo) Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	if y.endpoint == YahooEndpointQuote {
		return y.fetchQuote(ctx, symbol, after)
	}
	now := y.clock.Now()
	rng := "1d"
	if !after.IsZero() && now.Sub(after) > 24*time.Hour {
		rng = "5d"
	}
	c, err := y.Chart(ctx, symbol, rng)
	if err != nil {
		return nil, err
	}
	step := c.Interval
	if step == 0 {
		step = time.Minute
	}
	return window(c.Quotes, after, now, step, y.max), nil
}

// window returns the quotes of ascending qs with TS after `after` whose bar
// (TS + step) has ended by now, at most max of them.
func window(qs []Quote, after, now time.Time, step time.Duration, max int) []Quote {
	i := sort.Search(len(qs), func(i int) bool { return qs[i].TS.After(after) })
	var out []Quote
	for _, q := range qs[i:] {
		if q.TS.Add(step).After(now) || len(out) == max {
			break
		}
		out = append(out, q)
	}
	return out
}
