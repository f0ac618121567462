// Package quote defines the quote (an OHLCV bar of one symbol) that moves
// through Stock-System, and the parsers of the real data formats it is read
// from.
//
// Formats read here:
//   - QuantConnect Lean minute trade bars (ReadLeanTradeZip): one zip per day
//     holding one headerless CSV `ms_since_midnight,open,high,low,close,volume`,
//     prices as integers x 10000, times in US/Eastern (America/New_York) market
//     time, each bar labelled by its start. Source: the Lean repository's data
//     format (Data/equity/usa/minute/<sym>/<yyyymmdd>_trade.zip).
//
// Times are converted to UTC with the embedded IANA zone database
// (time/tzdata), so parsing does not depend on the host's zoneinfo files.
package quote
