package stream

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// SchemaVersion is the value of the "v" field this package writes, and the
// only one Decode accepts.
const SchemaVersion = 1

// Header names. Producer.Send sets HeaderEpoch (decimal), HeaderNode and
// HeaderTask on every message, and HeaderToken (decimal) when the sender
// names the task's fencing token (Origin.Token, Producer.SendFrom); dead
// letters also carry HeaderReason and the original position.
const (
	HeaderEpoch             = "epoch"
	HeaderToken             = "token"
	HeaderNode              = "node"
	HeaderTask              = "task"
	HeaderReason            = "reason"
	HeaderOriginalTopic     = "original.topic"
	HeaderOriginalPartition = "original.partition"
	HeaderOriginalOffset    = "original.offset"
	// HeaderOriginalSize is set on a dead letter too large to keep whole:
	// the original key, value and headers' size in bytes (the record keeps
	// the start of the key and value, and none of the original headers).
	HeaderOriginalSize = "original.size"
)

// wireOut is the message value as written (schema version 1):
//
//	{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00Z","open":168.1,"high":168.3,
//	 "low":168,"close":168.2,"volume":1200,"bid":168.19,"ask":168.21,
//	 "source":"replay:lean"}
//
// A trade tick carries the optional fields of quote.Quote's tick extension
// (added to schema version 1; older readers ignore them, and a message
// without them is a bar):
//
//	{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00.001Z","open":168.1,"high":168.1,
//	 "low":168.1,"close":168.1,"volume":100,"bid":168.09,"ask":168.1,
//	 "source":"replay:lean-tick","kind":"trade","seq":2,"exchange":"P",
//	 "condition":"20002000","flag":"off_median"}
//
// A quote of an instrument outside US/Eastern names its exchange time zone
// (quote.Quote.TZ, an IANA name; added to schema version 1 too): "tz":
// "Asia/Jakarta" after the other fields. A message without it (every
// message written before it, and every quote in quote.DefaultZone whose
// source names no zone) decodes to TZ "", America/New_York.
//
// ts is RFC 3339 with nanoseconds, in UTC; bid, ask, kind, seq, exchange,
// condition, flag and tz are omitted when absent (nil, "" or 0).
//
// Older versions wrote a boolean "flagged" after "source" (always false, so
// omitted, in practice); Decode accepts it and ignores its value, like any
// unknown field. A quote's data-quality mark is "flag" (quote.Quote.Flag).
type wireOut struct {
	V         int        `json:"v"`
	Symbol    string     `json:"symbol"`
	TS        string     `json:"ts"`
	Open      float64    `json:"open"`
	High      float64    `json:"high"`
	Low       float64    `json:"low"`
	Close     float64    `json:"close"`
	Volume    int64      `json:"volume"`
	Bid       *float64   `json:"bid,omitempty"`
	Ask       *float64   `json:"ask,omitempty"`
	Source    string     `json:"source"`
	Kind      quote.Kind `json:"kind,omitempty"`
	Seq       int32      `json:"seq,omitempty"`
	Exchange  string     `json:"exchange,omitempty"`
	Condition string     `json:"condition,omitempty"`
	Flag      string     `json:"flag,omitempty"`
	TZ        string     `json:"tz,omitempty"`
}

// wireIn is wireOut as read: pointers tell absent from zero, json.Number
// keeps numbers exact until checked.
type wireIn struct {
	V      *json.Number `json:"v"`
	Symbol *string      `json:"symbol"`
	TS     *string      `json:"ts"`
	Open   *json.Number `json:"open"`
	High   *json.Number `json:"high"`
	Low    *json.Number `json:"low"`
	Close  *json.Number `json:"close"`
	Volume *json.Number `json:"volume"`
	Bid    *json.Number `json:"bid"`
	Ask    *json.Number `json:"ask"`
	Source *string      `json:"source"`

	Kind      *string      `json:"kind"`
	Seq       *json.Number `json:"seq"`
	Exchange  *string      `json:"exchange"`
	Condition *string      `json:"condition"`
	Flag      *string      `json:"flag"`
	TZ        *string      `json:"tz"`
}

// Encode returns the message value of q (schema version SchemaVersion). The
// message key is q.Symbol. It refuses an empty symbol
// (ErrMissingField), NaN or infinite prices (ErrNonFinite), and a Kind other
// than quote.KindBar and quote.KindTrade or a Seq outside 0..quote.MaxSeq
// (ErrMalformed), so that everything Encode returns, Decode accepts.
func Encode(q quote.Quote) ([]byte, error) {
	if q.Symbol == "" {
		return nil, fmt.Errorf("encode: %w: symbol", ErrMissingField)
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"open", &q.Open}, {"high", &q.High}, {"low", &q.Low}, {"close", &q.Close}, {"bid", q.Bid}, {"ask", q.Ask}} {
		if f.v != nil && (math.IsNaN(*f.v) || math.IsInf(*f.v, 0)) {
			return nil, fmt.Errorf("encode %s: %w: %s = %v", q.Symbol, ErrNonFinite, f.name, *f.v)
		}
	}
	if err := checkTick(string(q.Kind), int64(q.Seq)); err != nil {
		return nil, fmt.Errorf("encode %s: %w", q.Symbol, err)
	}
	return json.Marshal(wireOut{
		V:         SchemaVersion,
		Symbol:    q.Symbol,
		TS:        q.TS.UTC().Format(time.RFC3339Nano),
		Open:      q.Open,
		High:      q.High,
		Low:       q.Low,
		Close:     q.Close,
		Volume:    q.Volume,
		Bid:       q.Bid,
		Ask:       q.Ask,
		Source:    q.Source,
		Kind:      q.Kind,
		Seq:       q.Seq,
		Exchange:  q.Exchange,
		Condition: q.Condition,
		Flag:      q.Flag,
		TZ:        q.TZ,
	})
}

// checkTick refuses a kind other than quote.KindBar ("") and
// quote.KindTrade, and a seq outside 0..quote.MaxSeq, with ErrMalformed
// naming the field.
func checkTick(kind string, seq int64) error {
	if k := quote.Kind(kind); k != quote.KindBar && k != quote.KindTrade {
		return fmt.Errorf("%w: kind %q is unknown (want %q or absent)", ErrMalformed, kind, quote.KindTrade)
	}
	if seq < 0 || seq > quote.MaxSeq {
		return fmt.Errorf("%w: seq %d outside 0..%d", ErrMalformed, seq, quote.MaxSeq)
	}
	return nil
}

// Decode parses a message written by Encode. TS comes back in UTC. The tick
// fields (kind, seq, exchange, condition, flag) are optional: absent, they
// decode to a bar's zero values; so is tz (absent: TZ "", the default
// zone; a name is not checked here, quote.Validate refuses an unknown one at
// ingest). It returns an error wrapping ErrMalformed
// (also for a kind other than "trade" or absent, and a seq that is not an
// integer in 0..quote.MaxSeq), ErrSchemaVersion, ErrMissingField,
// ErrNonFinite or ErrKeyMismatch, whose text names the field at fault.
// Unknown fields are ignored (later minor additions to schema version 1),
// and so is the "flagged" field older versions wrote, whatever its value.
func Decode(key, value []byte) (quote.Quote, error) {
	if q, ok := decodeFast(key, value); ok {
		return q, nil
	}
	return decodeGeneral(key, value)
}

// decodeGeneral is Decode through encoding/json, for any input.
func decodeGeneral(key, value []byte) (quote.Quote, error) {
	var w wireIn
	d := json.NewDecoder(bytes.NewReader(value))
	d.UseNumber()
	if err := d.Decode(&w); err != nil {
		return quote.Quote{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if d.More() {
		return quote.Quote{}, fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	if w.V == nil {
		return quote.Quote{}, fmt.Errorf("%w: v", ErrMissingField)
	}
	if v, err := w.V.Int64(); err != nil || v != SchemaVersion {
		return quote.Quote{}, fmt.Errorf("%w: v = %s (know %d)", ErrSchemaVersion, w.V.String(), SchemaVersion)
	}
	for _, f := range []struct {
		name  string
		isNil bool
	}{
		{"symbol", w.Symbol == nil}, {"ts", w.TS == nil}, {"open", w.Open == nil}, {"high", w.High == nil},
		{"low", w.Low == nil}, {"close", w.Close == nil}, {"volume", w.Volume == nil}, {"source", w.Source == nil},
	} {
		if f.isNil {
			return quote.Quote{}, fmt.Errorf("%w: %s", ErrMissingField, f.name)
		}
	}
	if *w.Symbol == "" {
		return quote.Quote{}, fmt.Errorf("%w: symbol is empty", ErrMissingField)
	}
	if string(key) != *w.Symbol {
		return quote.Quote{}, fmt.Errorf("%w: key %q, symbol %q", ErrKeyMismatch, key, *w.Symbol)
	}
	ts, err := time.Parse(time.RFC3339Nano, *w.TS)
	if err != nil {
		return quote.Quote{}, fmt.Errorf("%w: ts %q is not RFC 3339", ErrMalformed, *w.TS)
	}
	q := quote.Quote{Symbol: *w.Symbol, TS: ts.UTC(), Source: *w.Source}
	for _, f := range []struct {
		name string
		n    *json.Number
		dst  *float64
	}{{"open", w.Open, &q.Open}, {"high", w.High, &q.High}, {"low", w.Low, &q.Low}, {"close", w.Close, &q.Close}} {
		if *f.dst, err = finite(f.name, *f.n); err != nil {
			return quote.Quote{}, err
		}
	}
	for _, f := range []struct {
		name string
		n    *json.Number
		dst  **float64
	}{{"bid", w.Bid, &q.Bid}, {"ask", w.Ask, &q.Ask}} {
		if f.n == nil {
			continue
		}
		v, err := finite(f.name, *f.n)
		if err != nil {
			return quote.Quote{}, err
		}
		*f.dst = &v
	}
	if q.Volume, err = strconv.ParseInt(w.Volume.String(), 10, 64); err != nil {
		return quote.Quote{}, fmt.Errorf("%w: volume %s is not a 64-bit integer", ErrMalformed, w.Volume.String())
	}
	var seq int64
	if w.Seq != nil {
		if seq, err = strconv.ParseInt(w.Seq.String(), 10, 64); err != nil {
			return quote.Quote{}, fmt.Errorf("%w: seq %s is not an integer in 0..%d", ErrMalformed, w.Seq.String(), quote.MaxSeq)
		}
	}
	kind := deref(w.Kind)
	if err := checkTick(kind, seq); err != nil {
		return quote.Quote{}, err
	}
	q.Kind, q.Seq = quote.Kind(kind), int32(seq)
	q.Exchange, q.Condition, q.Flag, q.TZ = deref(w.Exchange), deref(w.Condition), deref(w.Flag), deref(w.TZ)
	return q, nil
}

// deref returns *s, or "" for nil (an absent or null field).
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// finite parses n as a finite float64.
func finite(name string, n json.Number) (float64, error) {
	v, err := strconv.ParseFloat(n.String(), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		// json.Number holds only valid JSON numbers, so the one failure left
		// is a value out of float64's range (ParseFloat returns ±Inf).
		return 0, fmt.Errorf("%w: %s = %s", ErrNonFinite, name, n.String())
	}
	return v, nil
}
