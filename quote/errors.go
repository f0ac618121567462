package quote

import "errors"

// Sentinel errors of the package, compared with errors.Is. Returned errors
// wrap them with the file and line, the spec, or the provider host and symbol.
var (
	// ErrFormat: a file or response body is malformed (bad header, field,
	// number or time). The wrapping error names the file (or host) and the
	// 1-based line where there is one.
	ErrFormat = errors.New("quote: malformed data")

	// ErrUnknownFormat: ReadFile cannot tell the format of a file from its
	// name or header.
	ErrUnknownFormat = errors.New("quote: unknown file format")
	// ErrAmbiguousLabels: an intraday CSV's times do not tell whether they
	// name the bars' starts or ends, and the source spec does not say
	// (label=start|end); see ReadCSV.
	ErrAmbiguousLabels = errors.New("bar labels ambiguous")

	// ErrBadSpec: a source spec given to ParseSpec or New is malformed. The
	// wrapping error quotes the spec.
	ErrBadSpec = errors.New("quote: bad source spec")

	// ErrBadZone: an exchange time zone name (a spec's tz= option, a quote's
	// TZ) is not an IANA zone LoadZone knows. The wrapping error quotes the
	// name. A spec's bad zone also matches ErrBadSpec.
	ErrBadZone = errors.New("quote: unknown time zone")

	// ErrNoData: a replay source has no file for the symbol, or a provider
	// answered without any bar for it.
	ErrNoData = errors.New("quote: no data")

	// ErrExhausted: a replay source has returned its last quote for the
	// symbol; later calls return it again. The fetch task is done.
	ErrExhausted = errors.New("quote: replay exhausted")

	// ErrRejected: Validate refused a quote. The error is a *RejectError that
	// carries the machine-readable Reason.
	ErrRejected = errors.New("quote: rejected")

	// ErrUpstream: a provider kept failing (network error, 5xx, 429) until
	// the attempts ran out, or answered with a permanent error (4xx, an API
	// error message). The wrapping error names the host and the symbol, never
	// the API key.
	ErrUpstream = errors.New("quote: upstream failed")

	// ErrNoAPIKey: the alphavantage source was asked for without an API key
	// (Options.AlphaVantageKey or ALPHAVANTAGE_API_KEY).
	ErrNoAPIKey = errors.New("quote: no Alpha Vantage API key")
)
