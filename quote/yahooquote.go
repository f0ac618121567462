package quote

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Sources of the quotes read from Yahoo's v7 quote endpoint: the live
// yahoo source with endpoint=quote, and a replay of a saved response.
const (
	SourceYahooQuote       = "yahoo-v7"
	sourceReplayYahooQuote = "replay:" + SourceYahooQuote
)

// Yahoo endpoints, the yahoo source's endpoint= option (Spec.Endpoint).
const (
	// YahooEndpointChart is the v8 chart API (the default; Spec.Endpoint "").
	YahooEndpointChart = "chart"
	// YahooEndpointQuote is the v7 quote API: one snapshot per poll (see
	// ParseYahooQuote).
	YahooEndpointQuote = "quote"
)

// YahooQuoteResult is one result of a Yahoo Finance v7 quote response
// (GET /v7/finance/quote?symbols=AAPL,MSFT; undocumented public API,
// quoteResponse.result[i]), as given. A field the result lacks is 0 (or "",
// or nil for Bid and Ask); Yahoo writes a bid or ask of 0 when there is
// none, and it is nil here too.
type YahooQuoteResult struct {
	Symbol      string // symbol, as Yahoo writes it
	QuoteType   string // quoteType: "EQUITY", "ETF", "CRYPTOCURRENCY", ...
	Currency    string // currency
	Exchange    string // exchange: "NMS", ...
	MarketState string // marketState: "PRE", "REGULAR", "POST", "CLOSED", ...
	// TZ is exchangeTimezoneName when LoadZone knows it, else "" (as
	// YahooChart.TZ).
	TZ string
	// GMTOffset is gmtOffSetMilliseconds: the exchange's UTC offset when the
	// response was made.
	GMTOffset time.Duration
	// Time is regularMarketTime (Unix seconds, in UTC): the time of Price.
	Time time.Time
	// Price is regularMarketPrice: the last regular-session price.
	Price float64
	// DayOpen, DayHigh, DayLow and DayVolume are regularMarketOpen,
	// regularMarketDayHigh, regularMarketDayLow and regularMarketVolume:
	// the running values of the whole regular session so far, not of a
	// minute. PreviousClose is regularMarketPreviousClose.
	DayOpen, DayHigh, DayLow, PreviousClose float64
	DayVolume                               int64
	// Bid and Ask (bid, ask; nil when absent or 0) and their sizes (bidSize,
	// askSize; Yahoo gives them in round lots of 100 shares for US stocks).
	Bid, Ask         *float64
	BidSize, AskSize int64
}

type yahooQuoteResponse struct {
	QuoteResponse *struct {
		Result []map[string]json.RawMessage `json:"result"`
		Error  *struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	} `json:"quoteResponse"`
}

// ParseYahooQuoteResults parses a v7 quote response body into its results,
// in the response's order. name names the input in errors (a symbol, a file
// path). A result whose symbol is missing, whose regularMarketTime is missing
// or zero, whose regularMarketPrice is missing, or whose number fields are
// not numbers is an error. Errors wrap ErrFormat (not JSON, no
// quoteResponse, a bad result, naming the result's index and symbol) or
// ErrNoData (a non-null quoteResponse.error, or no result).
func ParseYahooQuoteResults(body []byte, name string) ([]YahooQuoteResult, error) {
	var r yahooQuoteResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("%w: yahoo v7 quote %s: not JSON: %v", ErrFormat, name, err)
	}
	qr := r.QuoteResponse
	if qr == nil {
		return nil, fmt.Errorf("%w: yahoo v7 quote %s: no \"quoteResponse\" object", ErrFormat, name)
	}
	if e := qr.Error; e != nil {
		return nil, fmt.Errorf("%w: yahoo v7 quote %s: error %q: %s", ErrNoData, name, e.Code, e.Description)
	}
	if len(qr.Result) == 0 {
		return nil, fmt.Errorf("%w: yahoo v7 quote %s: no result", ErrNoData, name)
	}
	out := make([]YahooQuoteResult, 0, len(qr.Result))
	for i, raw := range qr.Result {
		res, err := yahooQuoteResult(raw)
		if err != nil {
			who := ""
			if res.Symbol != "" {
				who = " (" + res.Symbol + ")"
			}
			return nil, fmt.Errorf("%w: yahoo v7 quote %s: result %d%s: %v", ErrFormat, name, i, who, err)
		}
		out = append(out, res)
	}
	return out, nil
}

// yahooQuoteResult reads one result; on error its Symbol is set if it has
// one.
func yahooQuoteResult(raw map[string]json.RawMessage) (res YahooQuoteResult, err error) {
	field := func(key string, dst any) bool {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return false
		}
		if err == nil {
			if e := json.Unmarshal(v, dst); e != nil {
				err = fmt.Errorf("%s %s: %v", key, v, e)
			}
		}
		return err == nil
	}
	field("symbol", &res.Symbol)
	if err != nil {
		return res, err
	}
	if res.Symbol == "" {
		return res, fmt.Errorf("no symbol")
	}
	field("quoteType", &res.QuoteType)
	field("currency", &res.Currency)
	field("exchange", &res.Exchange)
	field("marketState", &res.MarketState)
	var zone string
	if field("exchangeTimezoneName", &zone) && zone != "" {
		if _, e := LoadZone(zone); e == nil {
			res.TZ = zone
		}
	}
	var offMs, t int64
	if field("gmtOffSetMilliseconds", &offMs) {
		res.GMTOffset = time.Duration(offMs) * time.Millisecond
	}
	if !field("regularMarketTime", &t) || t == 0 {
		if err == nil {
			err = fmt.Errorf("no regularMarketTime (the time of the price)")
		}
		return res, err
	}
	res.Time = time.Unix(t, 0).UTC()
	if !field("regularMarketPrice", &res.Price) {
		if err == nil {
			err = fmt.Errorf("no regularMarketPrice")
		}
		return res, err
	}
	field("regularMarketOpen", &res.DayOpen)
	field("regularMarketDayHigh", &res.DayHigh)
	field("regularMarketDayLow", &res.DayLow)
	field("regularMarketPreviousClose", &res.PreviousClose)
	var vol float64
	if field("regularMarketVolume", &vol) {
		if vol < 0 || vol != float64(int64(vol)) {
			err = fmt.Errorf("regularMarketVolume %v: want a whole number >= 0", vol)
		}
		res.DayVolume = int64(vol)
	}
	var bid, ask float64
	if field("bid", &bid) && bid != 0 {
		res.Bid = &bid
	}
	if field("ask", &ask) && ask != 0 {
		res.Ask = &ask
	}
	field("bidSize", &res.BidSize)
	field("askSize", &res.AskSize)
	if err != nil {
		return res, err
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"regularMarketOpen", res.DayOpen}, {"regularMarketDayHigh", res.DayHigh}, {"regularMarketDayLow", res.DayLow},
		{"regularMarketPreviousClose", res.PreviousClose}} {
		if p.v < 0 {
			return res, fmt.Errorf("%s %v < 0", p.name, p.v)
		}
	}
	return res, nil
}

// ParseYahooQuote parses a v7 quote response body (see YahooQuoteResult)
// and returns one Quote per result of symbol (compared case-insensitively;
// the Quote's Symbol is symbol), ascending in TS, Source SourceYahooQuote.
//
// The v7 endpoint gives a snapshot, not a bar: the last price and its time,
// and the regular session's running open, high, low and volume. Each quote
// is that snapshot: TS is regularMarketTime (UTC, to the second; not a
// minute's start), Open = High = Low = Close = regularMarketPrice, Volume 0,
// Bid and Ask when present, TZ exchangeTimezoneName (YahooQuoteResult.TZ).
// The day's values are not put into the quote because the store aggregates
// quotes into 1m, 5m, 1h and 1d bars by taking the highest high, lowest low
// and summed volume: a day's high and low in one minute's bar would give
// that minute the day's range, and the day's running volume of each
// snapshot would be counted again at every poll. The day's values are in
// ParseYahooQuoteResults' YahooQuoteResult; volume 0 says, as the Lean quote
// bars' does, that the quote carries no volume.
//
// Each quote is checked with Validate (at the current time). Errors wrap
// ErrFormat (see ParseYahooQuoteResults; a quote Validate refuses, a negative
// price for one, also matching ErrRejected with its *RejectError) or
// ErrNoData (an error response, or no result of symbol, naming the symbols
// it has), and name symbol.
func ParseYahooQuote(body []byte, symbol string) ([]Quote, error) {
	return parseYahooQuote(body, "", symbol, SourceYahooQuote)
}

// parseYahooQuote is ParseYahooQuote with the input named name in errors
// (symbol when "") and the quotes' Source.
func parseYahooQuote(body []byte, name, symbol, source string) ([]Quote, error) {
	if name == "" {
		name = symbol
	}
	results, err := ParseYahooQuoteResults(body, name)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	var out []Quote
	var have []string
	for i, res := range results {
		if !strings.EqualFold(res.Symbol, symbol) {
			have = append(have, res.Symbol)
			continue
		}
		q := Quote{Symbol: symbol, TS: res.Time, Open: res.Price, High: res.Price, Low: res.Price, Close: res.Price,
			Bid: res.Bid, Ask: res.Ask, Source: source, TZ: res.TZ}
		if err := Validate(q, now); err != nil {
			return nil, fmt.Errorf("%w: yahoo v7 quote %s: result %d (%s): %w", ErrFormat, name, i, res.Symbol, err)
		}
		out = append(out, q)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: yahoo v7 quote %s: no result for %s (it has %s)", ErrNoData, name, symbol, strings.Join(have, ", "))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS.Before(out[j].TS) })
	return out, nil
}

// QuoteSnapshot fetches GET {base}/v7/finance/quote?symbols={symbol} and
// parses it (ParseYahooQuote). Errors as for Fetch.
func (y *Yahoo) QuoteSnapshot(ctx context.Context, symbol string) ([]Quote, error) {
	u := y.base.JoinPath("v7", "finance", "quote")
	u.RawQuery = url.Values{"symbols": {symbol}}.Encode()
	body, err := y.g.get(ctx, u, symbol, nil)
	if err != nil {
		return nil, err
	}
	return ParseYahooQuote(body, symbol)
}

// fetchQuote is Fetch with endpoint=quote: one v7 request; the snapshot
// when its TS is after `after` (a poll that finds the same regularMarketTime,
// as after the close, returns none).
func (y *Yahoo) fetchQuote(ctx context.Context, symbol string, after time.Time) ([]Quote, error) {
	qs, err := y.QuoteSnapshot(ctx, symbol)
	if err != nil {
		return nil, err
	}
	i := sort.Search(len(qs), func(i int) bool { return qs[i].TS.After(after) })
	out := qs[i:]
	if len(out) > y.max {
		out = out[:y.max]
	}
	return out, nil
}

// maxJSONFile bounds a saved JSON response a replay reads (it is read
// whole): 64 MiB, far above a v7 response (about 2 KB per symbol).
const maxJSONFile = 64 << 20

// isJSONObject reports whether the content of br starts with '{', after
// white space and a UTF-8 byte order mark, without consuming it. A CSV
// header never does.
func isJSONObject(br *bufio.Reader) bool {
	b, _ := br.Peek(512)
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	b = bytes.TrimLeft(b, " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

// readJSON reads the quotes of symbol from a saved JSON response, told by
// its top-level key: "quoteResponse" (Yahoo's v7 quote endpoint,
// parseYahooQuote, Source "replay:yahoo-v7"). Any other layout is refused
// with ErrUnknownFormat naming its keys ("chart", a v8 chart response, is
// read by the live yahoo source only). Errors name path.
func readJSON(r io.Reader, path, symbol string) ([]Quote, error) {
	body, err := io.ReadAll(io.LimitReader(r, maxJSONFile+1))
	if err != nil {
		return nil, fmt.Errorf("quote: %s: %w", path, err)
	}
	if len(body) > maxJSONFile {
		return nil, fmt.Errorf("%w: %s: a JSON file above %d MiB", ErrUnknownFormat, path, maxJSONFile>>20)
	}
	body = bytes.TrimPrefix(body, []byte("\xef\xbb\xbf"))
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, fmt.Errorf("%w: %s: not JSON: %v", ErrFormat, path, err)
	}
	if _, ok := top["quoteResponse"]; ok {
		return parseYahooQuote(body, path, symbol, sourceReplayYahooQuote)
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, strconv.Quote(k))
	}
	sort.Strings(keys)
	hint := ""
	if _, ok := top["chart"]; ok {
		hint = " (a Yahoo v8 chart response: the live yahoo source reads that endpoint, a replay does not)"
	}
	return nil, fmt.Errorf("%w: %s: a JSON object with keys %s, not a Yahoo v7 quote response (\"quoteResponse\")%s",
		ErrUnknownFormat, path, strings.Join(keys, ", "), hint)
}
