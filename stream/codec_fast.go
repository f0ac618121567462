package stream

import (
	"bytes"
	"strconv"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// decodeFast parses the canonical form Encode writes (the fields of wireOut
// in order, no white space, strings without escapes) without reflection; ok
// is false for anything else, and the caller then runs the general decoder
// (decodeGeneral), which gives the same result for every input decodeFast accepts
// (FuzzDecodeFast checks this) and the errors for the rest. It is about 6x
// faster than encoding/json, which was a quarter of an ingesting node's CPU.
// It skips the "flagged":true older versions wrote after "source" (ignored,
// as by decodeGeneral).
func decodeFast(key, value []byte) (q quote.Quote, ok bool) {
	p := fastParser{b: value}
	if !p.lit(`{"v":1,"symbol":`) {
		return q, false
	}
	sym, ok1 := p.str()
	if !ok1 || len(sym) == 0 || string(key) != string(sym) || !p.lit(`,"ts":`) {
		return q, false
	}
	tsb, ok2 := p.str()
	if !ok2 {
		return q, false
	}
	ts, err := time.Parse(time.RFC3339Nano, string(tsb))
	if err != nil {
		return q, false
	}
	q.Symbol, q.TS = string(sym), ts.UTC()
	for _, f := range []struct {
		name string
		dst  *float64
	}{{`,"open":`, &q.Open}, {`,"high":`, &q.High}, {`,"low":`, &q.Low}, {`,"close":`, &q.Close}} {
		if !p.lit(f.name) {
			return q, false
		}
		if *f.dst, ok = p.float(); !ok {
			return q, false
		}
	}
	if !p.lit(`,"volume":`) {
		return q, false
	}
	if q.Volume, ok = p.int(); !ok {
		return q, false
	}
	if p.lit(`,"bid":`) {
		v, ok := p.float()
		if !ok {
			return q, false
		}
		q.Bid = &v
	}
	if p.lit(`,"ask":`) {
		v, ok := p.float()
		if !ok {
			return q, false
		}
		q.Ask = &v
	}
	if !p.lit(`,"source":`) {
		return q, false
	}
	src, ok := p.str()
	if !ok {
		return q, false
	}
	q.Source = string(src)
	p.lit(`,"flagged":true`) // older versions; ignored
	if p.lit(`,"kind":`) {
		k, ok := p.str()
		if !ok || quote.Kind(k) != quote.KindTrade {
			return q, false
		}
		q.Kind = quote.KindTrade
	}
	if p.lit(`,"seq":`) {
		s, ok := p.int()
		if !ok || s < 0 || s > quote.MaxSeq {
			return q, false
		}
		q.Seq = int32(s)
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{`,"exchange":`, &q.Exchange}, {`,"condition":`, &q.Condition}, {`,"flag":`, &q.Flag}, {`,"tz":`, &q.TZ}} {
		if p.lit(f.name) {
			s, ok := p.str()
			if !ok {
				return q, false
			}
			*f.dst = string(s)
		}
	}
	if !p.lit(`}`) || p.i != len(p.b) {
		return q, false
	}
	return q, true
}

// fastParser reads the canonical message form from b at i.
type fastParser struct {
	b []byte
	i int
}

// lit consumes s if b continues with it.
func (p *fastParser) lit(s string) bool {
	if bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		p.i += len(s)
		return true
	}
	return false
}

// str consumes a JSON string without escapes or control characters and
// returns its bytes (a sub-slice of b).
func (p *fastParser) str() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	for j := p.i + 1; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[p.i+1 : j]
			p.i = j + 1
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80: // escapes, control bytes, non-ASCII: the general path
			return nil, false
		}
	}
	return nil, false
}

// number consumes the bytes of a JSON number (validated by the caller's
// strconv parse and by the grammar check here).
func (p *fastParser) number() []byte {
	j := p.i
	for j < len(p.b) {
		c := p.b[j]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			j++
			continue
		}
		break
	}
	n := p.b[p.i:j]
	p.i = j
	return n
}

// float consumes a finite JSON number as json.Marshal writes float64s.
func (p *fastParser) float() (float64, bool) {
	n := p.number()
	if !jsonNumber(n) {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(n), 64)
	return v, err == nil
}

// int consumes a JSON integer that fits int64.
func (p *fastParser) int() (int64, bool) {
	n := p.number()
	if !jsonNumber(n) {
		return 0, false
	}
	v, err := strconv.ParseInt(string(n), 10, 64)
	return v, err == nil
}

// jsonNumber reports whether n is a JSON number (RFC 8259, section 6):
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
func jsonNumber(n []byte) bool {
	i := 0
	if i < len(n) && n[i] == '-' {
		i++
	}
	digits := func() int {
		k := 0
		for i < len(n) && n[i] >= '0' && n[i] <= '9' {
			i++
			k++
		}
		return k
	}
	switch {
	case i < len(n) && n[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(n) && n[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(n) && (n[i] == 'e' || n[i] == 'E') {
		i++
		if i < len(n) && (n[i] == '+' || n[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(n)
}
