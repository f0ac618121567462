package stream

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/quote"
)

func f64(v float64) *float64 { return &v }

func sampleQuote() quote.Quote {
	return quote.Quote{
		Symbol: "SPY",
		TS:     time.Date(2013, 10, 7, 13, 30, 0, 123456789, time.UTC),
		Open:   168.11, High: 168.35, Low: 168.02, Close: 168.2,
		Volume: 123456,
		Bid:    f64(168.19), Ask: f64(168.21),
		Source: "replay:lean",
	}
}

func TestEncodeExactBytes(t *testing.T) {
	got, err := Encode(sampleQuote())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00.123456789Z","open":168.11,"high":168.35,"low":168.02,` +
		`"close":168.2,"volume":123456,"bid":168.19,"ask":168.21,"source":"replay:lean"}`
	if string(got) != want {
		t.Fatalf("Encode =\n%s\nwant\n%s", got, want)
	}
	q := sampleQuote()
	q.Bid, q.Ask = nil, nil
	got, err = Encode(q)
	if err != nil {
		t.Fatal(err)
	}
	want = `{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00.123456789Z","open":168.11,"high":168.35,"low":168.02,` +
		`"close":168.2,"volume":123456,"source":"replay:lean"}`
	if string(got) != want {
		t.Fatalf("Encode =\n%s\nwant\n%s", got, want)
	}
}

func sampleTick() quote.Quote {
	return quote.Quote{
		Symbol: "SPY",
		TS:     time.Date(2013, 10, 7, 13, 30, 0, 1_000_000, time.UTC),
		Open:   168.1, High: 168.1, Low: 168.1, Close: 168.1,
		Volume: 100,
		Bid:    f64(168.09), Ask: f64(168.1),
		Source: "replay:lean-tick",
		Kind:   quote.KindTrade, Seq: 2, Exchange: "P", Condition: "20002000", Flag: quote.FlagOffMedian,
	}
}

func TestEncodeTickExactBytes(t *testing.T) {
	got, err := Encode(sampleTick())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00.001Z","open":168.1,"high":168.1,"low":168.1,` +
		`"close":168.1,"volume":100,"bid":168.09,"ask":168.1,"source":"replay:lean-tick",` +
		`"kind":"trade","seq":2,"exchange":"P","condition":"20002000","flag":"off_median"}`
	if string(got) != want {
		t.Fatalf("Encode(tick) =\n%s\nwant\n%s", got, want)
	}
	// Seq 0 and empty strings are omitted.
	q := sampleTick()
	q.Seq, q.Exchange, q.Condition, q.Flag, q.Bid, q.Ask = 0, "", "", "", nil, nil
	got, _ = Encode(q)
	want = `{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00.001Z","open":168.1,"high":168.1,"low":168.1,` +
		`"close":168.1,"volume":100,"source":"replay:lean-tick","kind":"trade"}`
	if string(got) != want {
		t.Fatalf("Encode(tick, seq 0) =\n%s\nwant\n%s", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	ny := time.FixedZone("EDT", -4*3600)
	noQuote := sampleQuote()
	noQuote.Bid, noQuote.Ask = nil, nil
	onlyBid := sampleQuote()
	onlyBid.Ask = nil
	extreme := quote.Quote{Symbol: "BRK.A", TS: time.Unix(0, 1).UTC(), Open: math.MaxFloat64, High: math.SmallestNonzeroFloat64,
		Low: math.Copysign(0, -1), Close: 1e-300, Volume: math.MaxInt64, Source: ""}
	local := sampleQuote()
	local.TS = time.Date(2013, 10, 7, 9, 30, 0, 0, ny) // 13:30 UTC
	for _, tt := range []struct {
		name   string
		q      quote.Quote
		wantTS time.Time
	}{
		{"full", sampleQuote(), sampleQuote().TS},
		{"no bid/ask", noQuote, noQuote.TS},
		{"only bid", onlyBid, onlyBid.TS},
		{"extremes", extreme, extreme.TS},
		{"non-UTC ts comes back UTC", local, time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC)},
		{"tick", sampleTick(), sampleTick().TS},
		{"tick seq max, suspicious", func() quote.Quote {
			q := sampleTick()
			q.Seq, q.Flag = quote.MaxSeq, quote.FlagSuspicious
			return q
		}(), sampleTick().TS},
		{"tick seq 0, no quote", func() quote.Quote {
			q := sampleTick()
			q.Seq, q.Bid, q.Ask, q.Flag = 0, nil, nil, ""
			return q
		}(), sampleTick().TS},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Encode(tt.q)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.q
			want.TS = tt.wantTS
			got, err := Decode([]byte(tt.q.Symbol), v)
			if err != nil || !equalQuotes(got, want) || got.TS.Location() != time.UTC {
				t.Fatalf("Decode(%s) = %+v (loc %v), %v; want %+v", v, got, got.TS.Location(), err, want)
			}
			g, err := decodeGeneral([]byte(tt.q.Symbol), v)
			if err != nil || !equalQuotes(g, want) || g.TS.Location() != time.UTC {
				t.Fatalf("decodeGeneral(%s) = %+v (loc %v), %v; want %+v", v, g, g.TS.Location(), err, want)
			}
		})
	}
}

// withFlagged returns v, a message value Encode wrote, with the boolean
// "flagged":true older versions wrote right after "source" (the sources of
// the tests' quotes have no escaped quote).
func withFlagged(v []byte) []byte {
	s := string(v)
	i := strings.Index(s, `,"source":"`)
	if i < 0 {
		return v
	}
	i += len(`,"source":"`)
	i += strings.IndexByte(s[i:], '"') + 1
	return []byte(s[:i] + `,"flagged":true` + s[i:])
}

// TestLegacyFlaggedField: older versions wrote a boolean "flagged" after
// "source"; Encode never writes it, and Decode (fast path and general
// decoder alike) accepts a message with it, whatever its value or place,
// and returns the same quote as without it.
func TestLegacyFlaggedField(t *testing.T) {
	noQuote := sampleQuote()
	noQuote.Bid, noQuote.Ask = nil, nil
	implausible := sampleQuote()
	implausible.Flag = quote.FlagImplausible
	zoned := sampleQuote()
	zoned.Symbol, zoned.TZ = "BBCA.JK", "Asia/Jakarta"
	for _, q := range []quote.Quote{sampleQuote(), noQuote, implausible, zoned, sampleTick()} {
		v, err := Encode(q)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(v), `"flagged"`) {
			t.Fatalf("Encode wrote a flagged field: %s", v)
		}
		key := []byte(q.Symbol)
		base, err := Decode(key, v)
		if err != nil || !reflect.DeepEqual(base, q) {
			t.Fatalf("Decode(%s) = %+v, %v; want %+v", v, base, err, q)
		}
		legacy := withFlagged(v)
		if string(legacy) == string(v) {
			t.Fatalf("test bug: no source field in %s", v)
		}
		// The canonical form older versions wrote takes the fast path.
		if got, ok := decodeFast(key, legacy); !ok || !reflect.DeepEqual(got, base) {
			t.Errorf("decodeFast(%s) = %+v, %v; want %+v, true", legacy, got, ok, base)
		}
		for _, m := range [][]byte{
			legacy,
			[]byte(strings.Replace(string(legacy), `"flagged":true`, `"flagged":false`, 1)),
			[]byte(strings.Replace(string(legacy), `"flagged":true`, `"flagged":null`, 1)),
			[]byte(strings.Replace(string(legacy), `"flagged":true`, `"flagged":1`, 1)),
			[]byte(strings.Replace(string(v), `{"v":1,`, `{"flagged":true,"v":1,`, 1)),
			[]byte(strings.TrimSuffix(string(v), `}`) + `,"flagged":true}`),
		} {
			got, err := Decode(key, m)
			if err != nil || !reflect.DeepEqual(got, base) {
				t.Errorf("Decode(%s) = %+v, %v; want %+v, as without flagged", m, got, err, base)
			}
			g, err := decodeGeneral(key, m)
			if err != nil || !reflect.DeepEqual(g, base) {
				t.Errorf("decodeGeneral(%s) = %+v, %v; want %+v, as without flagged", m, g, err, base)
			}
		}
	}
}

// equalQuotes compares every field, Bid and Ask by value, TS with ==
// (same instant, same location).
func equalQuotes(a, b quote.Quote) bool {
	eqp := func(x, y *float64) bool { return (x == nil && y == nil) || (x != nil && y != nil && *x == *y) }
	return a.Symbol == b.Symbol && a.TS == b.TS && a.Open == b.Open && a.High == b.High && a.Low == b.Low &&
		a.Close == b.Close && a.Volume == b.Volume && eqp(a.Bid, b.Bid) && eqp(a.Ask, b.Ask) && a.Source == b.Source &&
		a.Kind == b.Kind && a.Seq == b.Seq && a.Exchange == b.Exchange && a.Condition == b.Condition && a.Flag == b.Flag
}

func TestEncodeErrors(t *testing.T) {
	for _, tt := range []struct {
		name    string
		mod     func(*quote.Quote)
		wantErr error
		wantMsg string
	}{
		{"empty symbol", func(q *quote.Quote) { q.Symbol = "" }, ErrMissingField, "encode: stream: missing field: symbol"},
		{"NaN open", func(q *quote.Quote) { q.Open = math.NaN() }, ErrNonFinite, "encode SPY: stream: non-finite number: open = NaN"},
		{"+Inf high", func(q *quote.Quote) { q.High = math.Inf(1) }, ErrNonFinite, "encode SPY: stream: non-finite number: high = +Inf"},
		{"-Inf ask", func(q *quote.Quote) { q.Ask = f64(math.Inf(-1)) }, ErrNonFinite, "encode SPY: stream: non-finite number: ask = -Inf"},
		{"unknown kind", func(q *quote.Quote) { q.Kind = "quote" }, ErrMalformed, `encode SPY: stream: malformed message: kind "quote" is unknown (want "trade" or absent)`},
		{"negative seq", func(q *quote.Quote) { q.Kind, q.Seq = quote.KindTrade, -1 }, ErrMalformed, "encode SPY: stream: malformed message: seq -1 outside 0..999999"},
		{"seq too big", func(q *quote.Quote) { q.Kind, q.Seq = quote.KindTrade, quote.MaxSeq+1 }, ErrMalformed, "encode SPY: stream: malformed message: seq 1000000 outside 0..999999"},
	} {
		q := sampleQuote()
		tt.mod(&q)
		v, err := Encode(q)
		if !errors.Is(err, tt.wantErr) || err.Error() != tt.wantMsg || v != nil {
			t.Errorf("%s: Encode = %q, %v; want nil, %q", tt.name, v, err, tt.wantMsg)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	const ok = `{"v":1,"symbol":"SPY","ts":"2013-10-07T13:30:00Z","open":1,"high":2,"low":0.5,"close":1.5,"volume":10,"source":"s"}`
	// with replaces the first occurrence of old in ok.
	with := func(old, new string) string {
		if !strings.Contains(ok, old) {
			t.Fatalf("test bug: %q not in %s", old, ok)
		}
		return strings.Replace(ok, old, new, 1)
	}
	for _, tt := range []struct {
		name, key, value string
		wantErr          error
		wantMsg          string
	}{
		{"empty value", "SPY", ``, ErrMalformed, "stream: malformed message: EOF"},
		{"not JSON", "SPY", `hello`, ErrMalformed, "stream: malformed message: invalid character 'h' looking for beginning of value"},
		{"JSON array", "SPY", `[1]`, ErrMalformed, "stream: malformed message: json: cannot unmarshal array into Go value of type stream.wireIn"},
		{"trailing data", "SPY", ok + `{}`, ErrMalformed, "stream: malformed message: data after the JSON object"},
		{"no version", "SPY", with(`"v":1,`, ``), ErrMissingField, "stream: missing field: v"},
		{"version 2", "SPY", with(`"v":1`, `"v":2`), ErrSchemaVersion, "stream: unknown schema version: v = 2 (know 1)"},
		{"version 1.5", "SPY", with(`"v":1`, `"v":1.5`), ErrSchemaVersion, "stream: unknown schema version: v = 1.5 (know 1)"},
		{"version string", "SPY", with(`"v":1`, `"v":"x"`), ErrMalformed, ""},
		{"no symbol", "SPY", with(`"symbol":"SPY",`, ``), ErrMissingField, "stream: missing field: symbol"},
		{"null open", "SPY", with(`"open":1`, `"open":null`), ErrMissingField, "stream: missing field: open"},
		{"no ts", "SPY", with(`"ts":"2013-10-07T13:30:00Z",`, ``), ErrMissingField, "stream: missing field: ts"},
		{"no volume", "SPY", with(`,"volume":10`, ``), ErrMissingField, "stream: missing field: volume"},
		{"no source", "SPY", with(`,"source":"s"`, ``), ErrMissingField, "stream: missing field: source"},
		{"empty symbol", "", with(`"symbol":"SPY"`, `"symbol":""`), ErrMissingField, "stream: missing field: symbol is empty"},
		{"key mismatch", "QQQ", ok, ErrKeyMismatch, `stream: key does not match symbol: key "QQQ", symbol "SPY"`},
		{"no key", "", ok, ErrKeyMismatch, `stream: key does not match symbol: key "", symbol "SPY"`},
		{"bad ts", "SPY", with(`2013-10-07T13:30:00Z`, `2013-10-07 13:30`), ErrMalformed, `stream: malformed message: ts "2013-10-07 13:30" is not RFC 3339`},
		{"overflow close", "SPY", with(`"close":1.5`, `"close":1e400`), ErrNonFinite, "stream: non-finite number: close = 1e400"},
		{"overflow bid", "SPY", with(`"volume"`, `"bid":-2e308,"volume"`), ErrNonFinite, "stream: non-finite number: bid = -2e308"},
		{"NaN string", "SPY", with(`"low":0.5`, `"low":"NaN"`), ErrMalformed, ""},
		{"fractional volume", "SPY", with(`"volume":10`, `"volume":10.5`), ErrMalformed, "stream: malformed message: volume 10.5 is not a 64-bit integer"},
		{"huge volume", "SPY", with(`"volume":10`, `"volume":9223372036854775808`), ErrMalformed, "stream: malformed message: volume 9223372036854775808 is not a 64-bit integer"},
		{"unknown kind", "SPY", with(`"source":"s"`, `"source":"s","kind":"quote"`), ErrMalformed, `stream: malformed message: kind "quote" is unknown (want "trade" or absent)`},
		{"kind upper-case", "SPY", with(`"source":"s"`, `"source":"s","kind":"TRADE"`), ErrMalformed, `stream: malformed message: kind "TRADE" is unknown (want "trade" or absent)`},
		{"kind not a string", "SPY", with(`"source":"s"`, `"source":"s","kind":1`), ErrMalformed, ""},
		{"negative seq", "SPY", with(`"source":"s"`, `"source":"s","kind":"trade","seq":-1`), ErrMalformed, "stream: malformed message: seq -1 outside 0..999999"},
		{"seq too big", "SPY", with(`"source":"s"`, `"source":"s","kind":"trade","seq":1000000`), ErrMalformed, "stream: malformed message: seq 1000000 outside 0..999999"},
		{"seq huge", "SPY", with(`"source":"s"`, `"source":"s","seq":99999999999999999999`), ErrMalformed, "stream: malformed message: seq 99999999999999999999 is not an integer in 0..999999"},
		{"seq fractional", "SPY", with(`"source":"s"`, `"source":"s","kind":"trade","seq":1.5`), ErrMalformed, "stream: malformed message: seq 1.5 is not an integer in 0..999999"},
		{"seq not a number", "SPY", with(`"source":"s"`, `"source":"s","seq":"x"`), ErrMalformed, ""},
		{"exchange not a string", "SPY", with(`"source":"s"`, `"source":"s","exchange":5`), ErrMalformed, ""},
	} {
		q, err := Decode([]byte(tt.key), []byte(tt.value))
		if !errors.Is(err, tt.wantErr) || (tt.wantMsg != "" && err.Error() != tt.wantMsg) {
			t.Errorf("%s: Decode err = %v; want %v (%q)", tt.name, err, tt.wantErr, tt.wantMsg)
		}
		if !equalQuotes(q, quote.Quote{}) {
			t.Errorf("%s: Decode quote = %+v; want zero", tt.name, q)
		}
	}
	// Tick fields: null is absent; a tick decodes with them.
	q, err := Decode([]byte("SPY"), []byte(with(`"source":"s"`, `"source":"s","kind":null,"seq":null,"flag":null`)))
	if err != nil || q.Kind != quote.KindBar || q.Seq != 0 || q.Flag != "" {
		t.Fatalf("null tick fields: %+v, %v", q, err)
	}
	q, err = Decode([]byte("SPY"), []byte(with(`"source":"s"`, `"source":"s","kind":"trade","seq":999999,"exchange":"D","condition":"2000","flag":"suspicious"`)))
	if err != nil || q.Kind != quote.KindTrade || q.Seq != quote.MaxSeq || q.Exchange != "D" || q.Condition != "2000" || q.Flag != quote.FlagSuspicious {
		t.Fatalf("tick fields: %+v, %v", q, err)
	}
	// Unknown fields are accepted, and the base case decodes.
	q, err = Decode([]byte("SPY"), []byte(with(`"v":1,`, `"v":1,"future":{"x":[1]},`)))
	want := quote.Quote{Symbol: "SPY", TS: time.Date(2013, 10, 7, 13, 30, 0, 0, time.UTC), Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 10, Source: "s"}
	if err != nil || !equalQuotes(q, want) {
		t.Fatalf("Decode with unknown field = %+v, %v; want %+v", q, err, want)
	}
}

func FuzzDecode(f *testing.F) {
	v, _ := Encode(sampleQuote())
	f.Add([]byte("SPY"), v)
	f.Add([]byte("SPY"), withFlagged(v))
	v, _ = Encode(sampleTick())
	f.Add([]byte("SPY"), v)
	f.Add([]byte("SPY"), []byte(`{"v":1}`))
	f.Add([]byte(""), []byte(`{"v":1,"symbol":"","open":1e999}`))
	f.Add([]byte("X"), []byte(`null`))
	f.Fuzz(func(t *testing.T, key, value []byte) {
		q, err := Decode(key, value)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSchemaVersion) && !errors.Is(err, ErrMissingField) &&
				!errors.Is(err, ErrNonFinite) && !errors.Is(err, ErrKeyMismatch) {
				t.Fatalf("decode error %v wraps no sentinel", err)
			}
			return
		}
		// Whatever decodes re-encodes, and decodes to the same quote.
		v2, err := Encode(q)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", q, err)
		}
		q2, err := Decode(key, v2)
		if err != nil || !equalQuotes(q, q2) {
			t.Fatalf("re-decode = %+v, %v; want %+v", q2, err, q)
		}
	})
}

// TestDecodeMessageToken: the token header is optional; when present it is
// a positive decimal integer, else the message is refused with
// ErrBadHeader naming the value.
func TestDecodeMessageToken(t *testing.T) {
	v, err := Encode(sampleQuote())
	if err != nil {
		t.Fatal(err)
	}
	msg := func(token string) *sarama.ConsumerMessage {
		hs := []*sarama.RecordHeader{{Key: []byte(HeaderEpoch), Value: []byte("3")}, {Key: []byte(HeaderTask), Value: []byte("fetch/SPY")}}
		if token != "" {
			hs = append(hs, &sarama.RecordHeader{Key: []byte(HeaderToken), Value: []byte(token)})
		}
		return &sarama.ConsumerMessage{Key: []byte("SPY"), Value: v, Headers: hs, Offset: 9}
	}
	for _, tt := range []struct {
		token   string
		want    int64
		wantErr string
	}{
		{"", 0, ""},
		{"4294967342", 4294967342, ""},
		{"0", 0, `stream: bad header: token "0" is not a positive decimal integer`},
		{"-5", 0, `stream: bad header: token "-5" is not a positive decimal integer`},
		{"0x10", 0, `stream: bad header: token "0x10" is not a positive decimal integer`},
	} {
		m, err := decodeMessage(msg(tt.token))
		if tt.wantErr != "" {
			if !errors.Is(err, ErrBadHeader) || err.Error() != tt.wantErr {
				t.Errorf("token %q: err %v; want %q", tt.token, err, tt.wantErr)
			}
			continue
		}
		if err != nil || m.Token != tt.want || m.Epoch != 3 || m.Task != "fetch/SPY" {
			t.Errorf("token %q: %+v, %v; want token %d", tt.token, m, err, tt.want)
		}
	}
}

// A quote's exchange zone crosses Kafka as "tz" (last field); a message
// without it (every message written before the field) decodes to TZ "",
// the default zone. Both decoders agree.
func TestZoneField(t *testing.T) {
	q := sampleQuote()
	q.Symbol, q.TZ, q.Bid, q.Ask = "BBCA.JK", "Asia/Jakarta", nil, nil
	b, err := Encode(q)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"symbol":"BBCA.JK","ts":"2013-10-07T13:30:00.123456789Z","open":168.11,"high":168.35,"low":168.02,` +
		`"close":168.2,"volume":123456,"source":"replay:lean","tz":"Asia/Jakarta"}`
	if string(b) != want {
		t.Fatalf("Encode = %s\nwant %s", b, want)
	}
	for name, dec := range map[string]func([]byte, []byte) (quote.Quote, error){
		"Decode":  Decode,
		"general": decodeGeneral,
	} {
		got, err := dec([]byte("BBCA.JK"), b)
		if err != nil || got != q {
			t.Errorf("%s: %+v, %v; want %+v", name, got, err, q)
		}
		old := []byte(strings.Replace(string(b), `,"tz":"Asia/Jakarta"`, "", 1))
		got, err = dec([]byte("BBCA.JK"), old)
		if err != nil || got.TZ != "" || !got.Day().Equal(time.Date(2013, 10, 7, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s of a message without tz: %+v, %v; want TZ \"\" (US/Eastern days)", name, got, err)
		}
	}
	if _, ok := decodeFast([]byte("BBCA.JK"), b); !ok {
		t.Error("decodeFast refused the canonical form with tz")
	}
}
