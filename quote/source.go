package quote

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Source gives the quotes of any symbol after a checkpoint. The fetch task
// runner keeps, per symbol, the Position of the last quote it produced (the
// checkpoint) and calls Fetch with it; a task moved to another worker resumes
// from the stored checkpoint, so no quote is skipped, and at worst a few are
// produced twice (writes downstream are idempotent on symbol and TS).
type Source interface {
	// Fetch returns the quotes of symbol with Position (TS for bars, TS +
	// Seq ns for ticks) strictly after `after`, in ascending Position
	// order, at most Options.MaxBatch of them (the oldest first; call again
	// with the last one's Position as the new checkpoint for the rest). A
	// zero after
	// means "no checkpoint": what the source has now (replay: from the
	// first row; synthetic: from the current bar; HTTP: the provider's
	// current range).
	//
	// Replay and synthetic sources block, on the Clock, until at least one
	// quote is due (paced); HTTP sources make one request (with retries)
	// and may return an empty slice, meaning nothing new yet: the caller
	// polls again later. Only complete bars are returned (a bar still in
	// progress would be checkpointed and its final values lost).
	//
	// Errors: ErrExhausted (replay has no row after `after`), ErrNoData,
	// ErrFormat, ErrUpstream, or ctx.Err() when ctx ends while waiting.
	// Fetch is safe for concurrent use, also for the same symbol.
	Fetch(ctx context.Context, symbol string, after time.Time) ([]Quote, error)
}

// Source kinds, the part of a spec before ':' or '?'.
const (
	KindReplay       = "replay"
	KindYahoo        = "yahoo"
	KindAlphaVantage = "alphavantage"
	KindSynthetic    = "synthetic"
)

// Defaults of Spec and Options.
const (
	DefaultSpeed         = 60.0 // replay: market seconds per wall second
	DefaultSyntheticSeed = 1
	DefaultSyntheticRate = 1.0 // synthetic: quotes per second per symbol
	MaxSyntheticRate     = 1000.0
	DefaultMaxBatch      = 1000
	DefaultYahooBaseURL  = "https://query1.finance.yahoo.com"
	DefaultAVBaseURL     = "https://www.alphavantage.co"
	// DefaultUserAgent is sent on every request; Yahoo refuses some
	// default library agents, so it names itself as a compatible browser.
	DefaultUserAgent = "Mozilla/5.0 (compatible; stocksys-quote/1.0; +https://github.com/stock-system/stocksys)"
	// EnvAlphaVantageKey is the environment variable read for the Alpha
	// Vantage API key when Options.AlphaVantageKey is empty.
	EnvAlphaVantageKey = "ALPHAVANTAGE_API_KEY"
)

// Spec is a parsed source spec (see ParseSpec).
type Spec struct {
	Kind string
	// Path is the replay file or directory.
	Path string
	// Speed is the replay pace in market seconds per wall second; 0 means
	// unpaced (speed=max: every row is due at once) or paced by Rate.
	Speed float64
	// Seed and Rate (quotes per second per symbol) drive synthetic. For
	// replay, Rate > 0 paces at Rate rows per wall second per symbol
	// whatever their market time (rate=N; Speed is then 0); 0 paces by
	// Speed.
	Seed int64
	Rate float64
	// Label is the replay's CSV bar label (label=start|end); LabelDetect
	// reads it from each file (see ReadCSV).
	Label Label
	// TZ is the tz= option of every kind: the IANA name of the symbol's
	// exchange time zone, checked with LoadZone. It sets Quote.TZ of the
	// quotes whose source names no zone of its own (Yahoo's chart names
	// it: meta.exchangeTimezoneName wins), so their trading day and bar
	// windows are reckoned in it; "" is DefaultZone (America/New_York). A
	// replay reads its CSVs' wall times in it and stamps every daily bar
	// 09:30 of its date there (ReadFileInZone); an intraday CSV in a zone
	// other than US/Eastern needs label= (the label evidence is about US
	// sessions). Lean minute and tick zips stay US/Eastern.
	TZ string
	// Hours is the hours= option of every kind (see ParseHours): when
	// quotes of the symbol are expected (TradingAt). Zero: the default.
	Hours Hours
	// Endpoint is the yahoo source's endpoint= option: "" for the v8 chart
	// API (endpoint=chart, the default), YahooEndpointQuote for the v7
	// quote API's snapshots (endpoint=quote; see ParseYahooQuote).
	Endpoint string
}

// zoneQuery returns the tz= and hours= parameters of s, after sep and
// joined by '&', or "".
func (s Spec) zoneQuery(sep string) string {
	var ps []string
	if s.TZ != "" {
		ps = append(ps, "tz="+s.TZ)
	}
	if h := s.Hours.String(); h != "" {
		ps = append(ps, "hours="+h)
	}
	if len(ps) == 0 {
		return ""
	}
	return sep + strings.Join(ps, "&")
}

// String returns the spec in the form ParseSpec reads.
func (s Spec) String() string {
	switch s.Kind {
	case KindReplay:
		label := ""
		if s.Label != LabelDetect {
			label = "&label=" + string(s.Label)
		}
		if s.Rate > 0 {
			return "replay:" + s.Path + "?rate=" + strconv.FormatFloat(s.Rate, 'g', -1, 64) + label + s.zoneQuery("&")
		}
		sp := "max"
		if s.Speed > 0 {
			sp = strconv.FormatFloat(s.Speed, 'g', -1, 64)
		}
		return "replay:" + s.Path + "?speed=" + sp + label + s.zoneQuery("&")
	case KindSynthetic:
		return fmt.Sprintf("synthetic?seed=%d&rate=%s", s.Seed, strconv.FormatFloat(s.Rate, 'g', -1, 64)) + s.zoneQuery("&")
	case KindYahoo:
		if s.Endpoint != "" {
			return s.Kind + "?endpoint=" + s.Endpoint + s.zoneQuery("&")
		}
	}
	return s.Kind + s.zoneQuery("?")
}

// ParseSpec parses a source spec:
//
//	replay:<path>[?speed=N|max]      N > 0 market seconds per wall second, default 60
//	replay:<path>?rate=N             N > 0 rows per wall second per symbol, evenly (exclusive with speed)
//	replay:<path>?label=start|end    which end of its interval an intraday CSV bar's time names
//	                                 (default: read from the file's evidence, see ReadCSV; refused when ambiguous)
//	yahoo[?endpoint=chart|quote]     the v8 chart API's 1-minute bars (default), or the v7 quote API's
//	                                 snapshots of the last price (see ParseYahooQuote)
//	alphavantage
//	synthetic[?seed=S&rate=R]        S an int64 (default 1), 0 < R <= 1000 quotes/s/symbol (default 1)
//
// Every kind also takes (usually as `stocksys symbols add --option`):
//
//	tz=<IANA zone>                   the exchange time zone of the symbol's trading day and bar windows,
//	                                 e.g. Asia/Jakarta, UTC (default America/New_York, DefaultZone; a
//	                                 source that names its zone, as Yahoo's chart does, wins over it)
//	hours=24x7|HH:MM-HH:MM           when quotes are expected (TradingAt): around the clock every day,
//	                                 or a Monday-to-Friday session in tz (default: the US regular
//	                                 session 09:30-16:00 for yahoo and alphavantage, always for the others)
//
// The replay path may be a file (read whatever the symbol) or a directory;
// see NewReplay for how a symbol maps to files, and Replay for the pacing.
// Speed and rate are at most 1e9. The query starts at the last '?' of the
// spec. Errors wrap ErrBadSpec and quote the spec.
func ParseSpec(spec string) (Spec, error) {
	bad := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("%w %q: %s", ErrBadSpec, spec, fmt.Sprintf(format, args...))
	}
	body, query := spec, ""
	if i := strings.LastIndexByte(spec, '?'); i >= 0 {
		body, query = spec[:i], spec[i+1:]
	}
	kind, rest, hasColon := strings.Cut(body, ":")
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("query: %v", err)
	}
	s := Spec{Kind: kind}
	allowed := map[string]bool{}
	switch kind {
	case KindReplay:
		if !hasColon || rest == "" {
			return bad("want replay:<path>[?speed=N]")
		}
		s.Path, s.Speed = rest, DefaultSpeed
		allowed["speed"], allowed["rate"], allowed["label"] = true, true, true
		if s.Label, err = ParseLabel(params.Get("label")); err != nil {
			return bad("label %q: want start or end", params.Get("label"))
		}
		if params.Has("speed") && params.Has("rate") {
			return bad("speed and rate are exclusive")
		}
		if v := params.Get("rate"); params.Has("rate") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0) || f > 1e9 {
				return bad("rate %q: want 0 < rate <= 1e9 rows per second", v)
			}
			s.Speed, s.Rate = 0, f
		} else if v := params.Get("speed"); v == "max" {
			s.Speed = 0
		} else if v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0) || f > 1e9 {
				return bad("speed %q: want a number > 0 or max", v)
			}
			s.Speed = f
		}
	case KindYahoo, KindAlphaVantage:
		if hasColon {
			return bad("%s takes no argument", kind)
		}
		if kind == KindYahoo {
			allowed["endpoint"] = true
			switch v := params.Get("endpoint"); v {
			case "", YahooEndpointChart:
			case YahooEndpointQuote:
				s.Endpoint = v
			default:
				return bad("endpoint %q: want %s (v8 chart API, the default) or %s (v7 quote API)", v, YahooEndpointChart, YahooEndpointQuote)
			}
		}
	case KindSynthetic:
		if hasColon && rest != "" {
			return bad("synthetic takes no path")
		}
		s.Seed, s.Rate = DefaultSyntheticSeed, DefaultSyntheticRate
		allowed["seed"], allowed["rate"] = true, true
		if v := params.Get("seed"); v != "" {
			if s.Seed, err = strconv.ParseInt(v, 10, 64); err != nil {
				return bad("seed %q: want an integer", v)
			}
		}
		if v := params.Get("rate"); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !(f > 0) || f > MaxSyntheticRate {
				return bad("rate %q: want 0 < rate <= %g", v, MaxSyntheticRate)
			}
			s.Rate = f
		}
	default:
		return bad("unknown kind %q (want replay, yahoo, alphavantage or synthetic)", kind)
	}
	allowed["tz"], allowed["hours"] = true, true
	if v := params.Get("tz"); params.Has("tz") {
		if _, err := LoadZone(v); err != nil || v == "" {
			return bad("tz %q: not an IANA time zone name (want e.g. Asia/Jakarta, UTC or %s)", v, DefaultZone)
		}
		s.TZ = v
	}
	if s.Hours, err = ParseHours(params.Get("hours")); err != nil {
		return bad("hours %q: want %s or HH:MM-HH:MM, open before close (a Monday-to-Friday session in tz), e.g. 09:00-16:00", params.Get("hours"), HoursAllDay)
	}
	for k, v := range params {
		if !allowed[k] {
			return bad("unknown parameter %q for %s (%s)", k, kind, allowedParams(allowed))
		}
		if len(v) > 1 {
			return bad("parameter %q given %d times", k, len(v))
		}
	}
	return s, nil
}

// allowedParams says which parameters a kind takes.
func allowedParams(allowed map[string]bool) string {
	if len(allowed) == 0 {
		return "it takes none"
	}
	keys := make([]string, 0, len(allowed))
	for k := range allowed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "allowed: " + strings.Join(keys, ", ")
}

// ParseSpecOptions parses spec with the options of a symbol's document
// (`stocksys symbols add --option K=V`) as parameters of the spec: each key
// must be a parameter of the spec's kind (see ParseSpec: replay takes
// speed, rate and label; yahoo endpoint; synthetic seed and rate; every
// kind tz and hours)
// and is checked as ParseSpec checks it (tz=Asia/Jakarta with LoadZone).
// An option that the spec already sets to another value is refused. Errors
// wrap ErrBadSpec and name the option (an unknown key with the keys
// allowed).
func ParseSpecOptions(spec string, opts map[string]string) (Spec, error) {
	if len(opts) == 0 {
		return ParseSpec(spec)
	}
	body, query := spec, ""
	if i := strings.LastIndexByte(spec, '?'); i >= 0 {
		body, query = spec[:i], spec[i+1:]
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return Spec{}, fmt.Errorf("%w %q: query: %v", ErrBadSpec, spec, err)
	}
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := opts[k]
		if params.Has(k) && params.Get(k) != v {
			return Spec{}, fmt.Errorf("%w: option %s=%s: the source %q sets %s=%s", ErrBadSpec, k, v, spec, k, params.Get(k))
		}
		params.Set(k, v)
	}
	s, err := ParseSpec(body + "?" + params.Encode())
	if err != nil {
		return Spec{}, fmt.Errorf("source %q with options %v: %w", spec, opts, err)
	}
	return s, nil
}

// Options configure the sources made by New. The zero value is usable: each
// field says its default.
type Options struct {
	// Clock paces replay and synthetic, and times retry waits. Default
	// SystemClock.
	Clock Clock
	// HTTPClient makes the provider requests. Default a client without a
	// timeout of its own (Retry.AttemptTimeout bounds each attempt).
	HTTPClient *http.Client
	// UserAgent of provider requests. Default DefaultUserAgent.
	UserAgent string
	// YahooBaseURL and AlphaVantageBaseURL: scheme and host (and optional
	// path prefix) of the providers. Defaults DefaultYahooBaseURL and
	// DefaultAVBaseURL; tests point them at an httptest.Server.
	YahooBaseURL, AlphaVantageBaseURL string
	// AlphaVantageKey is the API key. Default $ALPHAVANTAGE_API_KEY. It is
	// sent in the query and never appears in errors or logs.
	AlphaVantageKey string
	// Retry configures timeouts, retries and backoff of provider requests.
	// Zero fields take DefaultRetryConfig's values.
	Retry RetryConfig
	// YahooLimiter and AlphaVantageLimiter rate-limit requests per
	// provider. Defaults are process-wide limiters shared by every source
	// (DefaultYahooLimit, DefaultAlphaVantageLimit), so the limit holds
	// however many sources the process makes.
	YahooLimiter, AlphaVantageLimiter Limiter
	// MaxBatch caps the quotes one Fetch returns. Default DefaultMaxBatch.
	MaxBatch int
	// Logger logs retries (host, symbol, attempt, status, wait), and the
	// replay's files (loaded at Info, each rejected line at Warn with
	// symbol, file, line, reason, detail and text, a file that cannot be
	// read at Error). Default zap.NewNop().
	Logger *zap.Logger
	// Rejected, when set, is called by a replay once per line of a file (bar
	// or tick) that the reader refused (err is a *RowReject naming the file,
	// the 1-based line and the reason; it matches ErrFormat), and once per
	// file it cannot read at all (reason ReasonBadFile, Line 0, err
	// unwrapping to the read error), when a symbol's files are loaded (its
	// first Fetch). The rejected line or file is left out and the replay
	// goes on. Default nil: rejects are only logged.
	Rejected func(symbol string, reason RejectReason, err error)

	// label is the spec's label= and zone its tz= zone (NewFromSpec sets
	// them for the replay it makes).
	label Label
	zone  *time.Location
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = SystemClock{}
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.YahooBaseURL == "" {
		o.YahooBaseURL = DefaultYahooBaseURL
	}
	if o.AlphaVantageBaseURL == "" {
		o.AlphaVantageBaseURL = DefaultAVBaseURL
	}
	if o.AlphaVantageKey == "" {
		o.AlphaVantageKey = os.Getenv(EnvAlphaVantageKey)
	}
	o.Retry = o.Retry.withDefaults()
	if o.YahooLimiter == nil {
		o.YahooLimiter = yahooLimiter
	}
	if o.AlphaVantageLimiter == nil {
		o.AlphaVantageLimiter = alphaVantageLimiter
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// New parses spec (ParseSpec) and makes its source. Errors wrap ErrBadSpec,
// or ErrNoAPIKey for alphavantage without a key, or the error of a replay
// path that does not exist.
func New(spec string, opts Options) (Source, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return NewFromSpec(s, opts)
}

// NewFromSpec makes the source of a parsed spec; see New. With a tz= zone
// (Spec.TZ) the source is wrapped so that every quote it returns without a
// zone of its own gets that one (Unwrap returns the source inside).
func NewFromSpec(s Spec, opts Options) (Source, error) {
	src, err := newFromSpec(s, opts)
	if err != nil || s.TZ == "" {
		return src, err
	}
	return zoned{Source: src, tz: s.TZ}, nil
}

func newFromSpec(s Spec, opts Options) (_ Source, err error) {
	opts = opts.withDefaults()
	switch s.Kind {
	case KindReplay:
		opts.label = s.Label
		if s.TZ != "" {
			if opts.zone, err = LoadZone(s.TZ); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrBadSpec, err)
			}
		}
		if s.Rate > 0 {
			return NewReplayRate(s.Path, s.Rate, opts)
		}
		return NewReplay(s.Path, s.Speed, opts)
	case KindYahoo:
		y, err := NewYahoo(opts)
		if err != nil {
			return nil, err
		}
		y.endpoint = s.Endpoint
		return y, nil
	case KindAlphaVantage:
		return NewAlphaVantage(opts)
	case KindSynthetic:
		return NewSynthetic(s.Seed, s.Rate, opts)
	}
	return nil, fmt.Errorf("%w %q: unknown kind", ErrBadSpec, s.Kind)
}
