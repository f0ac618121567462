// Package quote defines the quote (an OHLCV bar, or a trade tick, of one
// symbol) that moves through Stock-System, the parsers of the real data
// formats it is read from, the sources a fetch task pulls quotes from, and
// the checks a quote passes before it is produced.
//
// # Files (ReadFile tells them apart by name, header and content)
//
//   - QuantConnect Lean minute bars, one zip per day holding one headerless
//     CSV, prices as integers x 10000, times in milliseconds since midnight
//     US/Eastern, each bar labelled by its start (Lean's data format,
//     Data/equity/usa/minute/<sym>/<yyyymmdd>_{trade,quote}.zip): trade bars
//     `ms,open,high,low,close,volume` (ReadLeanTradeZip) and quote bars
//     `ms,bid_open,bid_high,bid_low,bid_close,bid_size,ask_open,...`
//     (ReadLeanQuoteZip; MergeBidAsk sets a trade bar's Bid and Ask to the
//     minute's bid and ask close; a side whose prices are empty or 0 is
//     absent from its minute).
//   - A Lean minute quote zip with no trade zip of its day beside it, read on
//     its own as quote-derived bars (ReadLeanQuoteBars, Source
//     "replay:lean-quote"): one bar per minute whose open, high, low and
//     close are the midpoints (bid + ask) / 2 of the two sides' (the other
//     side's alone when one is absent), Volume 0, Bid and Ask the sides'
//     closes. They are not trades: no print was at those prices and their
//     volume says nothing.
//   - QuantConnect Lean daily zips, one per symbol (Data/equity/usa/daily/
//     <ticker>.zip holding <ticker>.csv), rows
//     `yyyymmdd 00:00,open,high,low,close,volume` (prices x 10000, the date
//     US/Eastern), told by the name (not <yyyymmdd>_...) and the first row
//     (a row at another time than 00:00 is an hour zip, refused): each row a
//     daily bar stamped 09:30 US/Eastern of its date, as a daily CSV's
//     (ReadLeanDailyZip, Source "replay:lean-daily").
//   - QuantConnect Lean tick zips, one per symbol and day
//     (Data/equity/usa/tick/<sym>/<yyyymmdd>_{trade,quote}.zip, inner CSV
//     like 20131007_spy_Trade_Tick.csv; prices and times as above): trades
//     `ms,price,quantity,exchange,sale_condition,suspicious` and quotes
//     `ms,bid_price,bid_size,ask_price,ask_size,exchange,condition,suspicious`
//     (ReadLeanTickZip; see Ticks below). A trade zip holds ticks when its
//     CSV is named *_Tick.csv or, failing that, when the 4th field of its
//     first row is not an integer.
//   - Intraday CSV (Alpha Vantage's `time,open,high,low,close,volume`, newest
//     first, and most minute exports: ISO or US month-first times, the time
//     in a `date` or `datetime` column, `last` for `close`, extra columns
//     ignored), US/Eastern without zone. Bars are labelled by their start or
//     their end: the spec's label=start|end says which, or else unambiguous
//     evidence in the file (ReadCSV; Alpha Vantage's 04:01-20:00 files are
//     end-labelled); an ambiguous file is refused (ErrAmbiguousLabels), never
//     shifted on a guess.
//   - Daily CSV `Date,Open,High,Low,Close[,Adj Close],Volume` (Yahoo's
//     download; dates ISO or m/d/yyyy), each bar stamped 09:30 US/Eastern of
//     its date.
//   - A saved Yahoo v7 quote response (GET /v7/finance/quote?symbols=...),
//     told by its content (a JSON object with "quoteResponse"), whatever its
//     name: one snapshot per result of the symbol (ParseYahooQuote, Source
//     "replay:yahoo-v7"): TS regularMarketTime, open = high = low = close =
//     regularMarketPrice, volume 0 (the day's running open, high, low and
//     volume stay out of the quote; see ParseYahooQuote), bid and ask, the
//     zone exchangeTimezoneName. A bad result refuses the file. A saved v8
//     chart response is refused (ErrUnknownFormat).
//
// # Ticks
//
// Each trade of a tick zip is a Quote of Kind KindTrade: Open = High = Low =
// Close = the price, Volume = the quantity, Seq = its index among the
// symbol's accepted ticks of that millisecond in file order (0, 1, 2 ...;
// SPY's 2013-10-07 has 170,996 of its 250,601 trades sharing a millisecond).
// A bad line is left out and reported as a TickReject (a RowReject) with a
// RejectReason without failing the file; suspicious = 1 sets Flag
// FlagSuspicious.
//
// Minute and daily files (Lean zips and CSVs) are read the same way, row by
// row (ReadFileRejects): a row with the wrong number of fields, a time that does
// not parse or carries a zone the layout has none of, a price or volume
// that is not a number, not finite, fractional (volume) or out of range, or
// a bar Validate refuses (year 0000, high < low ...) is a RowReject naming
// the file and line; the valid rows flow.
//
// Quote ticks are folded into the trades, not produced: each trade's Bid and
// Ask are the last bid and the last ask quoted at or before its millisecond
// (suspicious quote lines ignored). Bars and VWAP need only trades, the
// quote at each trade is what trade classification and spread analysis use,
// and BAC's 2013-10-07 has 476,855 quotes against 88,172 trades: five times
// the rows for no analytic use here.
//
// FlagTicks marks implausible prints (FlagOffMedian): a trade more than
// TickMedianPct (0.5) percent from the median of the previous
// TickMedianWindow (50) unflagged trades of its symbol. Flagged ticks are
// still produced and stored, but left out of bars.
//
// # Sources
//
// A Source returns the quotes of a symbol after a checkpoint (the Position of
// the last quote produced: TS, plus Seq nanoseconds for a tick), so a fetch
// task resumes on another worker where the previous owner stopped.
// ParseSpec and New make one from a spec (every kind also takes tz= and
// hours=, see below): replay:<path>[?speed=N|rate=N]
// (files, paced on a Clock by market time or at N rows per second; tick
// files parsed once per process and shared by the symbols replaying them,
// about 40 bytes a trade), yahoo (v8 chart API; yahoo?endpoint=quote: v7
// quote API snapshots),
// alphavantage (TIME_SERIES_INTRADAY; GLOBAL_QUOTE via GlobalQuote) and
// synthetic[?seed=S&rate=R] (a deterministic random walk). HTTP sources share
// a per-provider rate limiter, retry network errors, 429 and 5xx with jittered
// exponential backoff (honouring Retry-After), send a User-Agent, and never
// put the API key in an error or a log line.
//
// # Checks
//
// Validate refuses an impossible quote with a *RejectError carrying a
// RejectReason to count by (for a tick also a zero size, a Seq outside
// 0..MaxSeq, or open, high, low and close that differ). A quote it accepts
// may still be implausible: a replay runs FlagBars (implausible.go; see its
// doc for the rule) over the bars it reads, which flags, without refusing,
// an intraday bar with a price more than BarMedianPct (20%) from the median
// close of the BarNeighbours bars before it and from that of the bars after
// it (Flag = FlagImplausible); FlagTicks does the like for trades (above). A
// flagged quote is still produced and stored, with its Flag, but left out of
// the bars.
//
// # Exchange time zones and trading hours
//
// Each quote names its instrument's exchange time zone (Quote.TZ, an IANA
// name; empty means DefaultZone, America/New_York), and its trading day
// (Quote.Day) is its calendar date there: the store partitions rows by it and
// aligns 5m, 1h and 1d bars in it. The zone comes from the source when it
// names one (Yahoo's chart: meta.exchangeTimezoneName, "UTC" for crypto
// currencies, "Asia/Jakarta" for IDX stocks; Alpha Vantage's intraday Meta
// Data "6. Time Zone"), else from the spec's tz=
// option (`stocksys symbols add --option tz=Asia/Jakarta`; LoadZone checks
// it, a bad name is refused with ErrBadSpec naming it), else the default.
// NewFromSpec applies tz= to the quotes that name none; a replay reads its
// CSVs' wall times in it and stamps every daily bar (CSV or Lean daily zip)
// 09:30 of its date there (ReadFileInZone, DailyBarTimeIn), and an intraday
// CSV in a zone other than US/Eastern needs label= (the label evidence is
// about US sessions). Lean minute and tick zips keep their US/Eastern
// times. Validate refuses an
// unknown zone (ReasonBadZone). A 24/7 instrument (YahooChart.AllDay,
// instrumentType CRYPTOCURRENCY) has the calendar day of its zone as its
// trading day too.
//
// Spec.TradingAt (TradingNow, TradingNowOptions) says when quotes are
// expected, for the stale-quote alert: hours=24x7 always (nights and
// weekends too), hours=HH:MM-HH:MM a Monday-to-Friday session in the zone,
// and by default the US regular session 09:30-16:00 in the zone for the live
// HTTP sources, always for replay and synthetic.
//
// Times are UTC in Quote (TS is a bar's start, or a tick's millisecond). Zones are converted with the
// embedded IANA database (time/tzdata), so parsing does not depend on the
// host's zoneinfo files.
package quote
