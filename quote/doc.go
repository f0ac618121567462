// Package quote defines the quote (an OHLCV bar of one symbol) that moves
// through Stock-System, the parsers of the real data formats it is read from,
// the sources a fetch task pulls quotes from, and the checks a quote passes
// before it is produced.
//
// # Files (ReadFile tells them apart by name and header)
//
//   - QuantConnect Lean minute bars, one zip per day holding one headerless
//     CSV, prices as integers x 10000, times in milliseconds since midnight
//     US/Eastern, each bar labelled by its start (Lean's data format,
//     Data/equity/usa/minute/<sym>/<yyyymmdd>_{trade,quote}.zip): trade bars
//     `ms,open,high,low,close,volume` (ReadLeanTradeZip) and quote bars
//     `ms,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,...`
//     (ReadLeanQuoteZip; MergeBidAsk sets a trade bar's Bid and Ask to the
//     minute's bid and ask close).
//   - Alpha Vantage intraday CSV `time,open,high,low,close,volume`, newest
//     first, US/Eastern without zone, bars labelled by their END (ReadCSV
//     explains the evidence and shifts them to their start).
//   - Daily CSV `Date,Open,High,Low,Close[,Adj Close],Volume` (Yahoo's
//     download), each bar stamped 09:30 US/Eastern of its date.
//
// # Sources
//
// A Source returns the quotes of a symbol after a checkpoint (the TS of the
// last quote produced), so a fetch task resumes on another worker where the
// previous owner stopped. ParseSpec and New make one from a spec:
// replay:<path>[?speed=N] (files, paced on a Clock), yahoo (v8 chart API),
// alphavantage (TIME_SERIES_INTRADAY; GLOBAL_QUOTE via GlobalQuote) and
// synthetic[?seed=S&rate=R] (a deterministic random walk). HTTP sources share
// a per-provider rate limiter, retry network errors, 429 and 5xx with jittered
// exponential backoff (honouring Retry-After), send a User-Agent, and never
// put the API key in an error or a log line.
//
// # Checks
//
// Validate refuses an impossible quote with a *RejectError carrying a
// RejectReason to count by; CheckMove flags, without refusing, a bar that
// moves more than a limit (default 20%) from the previous close.
//
// Times are UTC in Quote (TS is a bar's start). Zones are converted with the
// embedded IANA database (time/tzdata), so parsing does not depend on the
// host's zoneinfo files.
package quote
