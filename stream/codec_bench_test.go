package stream

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// BenchmarkCodec: encode and decode of one trade tick message, the per-row
// CPU cost of the Kafka hop.
func BenchmarkCodec(b *testing.B) {
	bid, ask := 167.40, 167.41
	q := quote.Quote{Symbol: "SPY", TS: time.Date(2013, 10, 7, 13, 30, 0, 123e6, time.UTC), Open: 167.41, High: 167.41,
		Low: 167.41, Close: 167.41, Volume: 100, Bid: &bid, Ask: &ask, Source: "replay:lean-tick", Kind: quote.KindTrade,
		Seq: 3, Exchange: "P", Condition: "20002000"}
	v, err := Encode(q)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(q); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode([]byte("SPY"), v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzDecodeFast: whatever the fast path accepts, the general decoder
// accepts too, with the same quote.
func FuzzDecodeFast(f *testing.F) {
	bid := 167.4
	for _, q := range []quote.Quote{
		{Symbol: "SPY", TS: time.Date(2013, 10, 7, 13, 30, 0, 123e6, time.UTC), Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 7, Source: "s"},
		{Symbol: "BRK-B", TS: time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC), Open: 1e-7, High: 1e21, Low: 1e-7, Close: 3, Volume: 0, Bid: &bid, Source: "replay:x",
			Kind: quote.KindTrade, Seq: 999999, Exchange: "P", Condition: "0", Flag: quote.FlagSuspicious},
	} {
		v, err := Encode(q)
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(q.Symbol), v)
		// As older versions wrote a flagged quote.
		f.Add([]byte(q.Symbol), withFlagged(v))
	}
	f.Fuzz(func(t *testing.T, key, value []byte) {
		q, ok := decodeFast(key, value)
		if !ok {
			return
		}
		g, err := decodeGeneral(key, value)
		if err != nil {
			t.Fatalf("fast path accepted %q, general decoder: %v", value, err)
		}
		if !reflect.DeepEqual(q, g) {
			t.Fatalf("%q: fast %+v, general %+v", value, q, g)
		}
	})
}

// Every quote Encode writes takes the fast path and decodes to itself.
func TestDecodeFastTakesEncoderOutput(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		p := r.Float64() * 1000
		q := quote.Quote{Symbol: []string{"SPY", "BRK-B", "^GSPC", "EURUSD=X"}[i%4], TS: time.Unix(0, r.Int64N(2e18)).UTC(),
			Open: p, High: p * 1.01, Low: p * 0.99, Close: p, Volume: r.Int64N(1e12), Source: "replay:lean"}
		if i%2 == 0 {
			b := p - 0.01
			q.Bid, q.Ask = &b, &p
		}
		if i%3 == 0 {
			q.Kind, q.Seq, q.Exchange, q.Condition = quote.KindTrade, int32(r.IntN(quote.MaxSeq+1)), "D", "20002000"
			q.High, q.Low = p, p
		}
		if i%5 == 0 {
			q.Flag = quote.FlagOffMedian
		}
		v, err := Encode(q)
		if err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			v = withFlagged(v) // as older versions wrote a flagged quote: same quote
		}
		got, ok := decodeFast([]byte(q.Symbol), v)
		if !ok || !reflect.DeepEqual(got, q) {
			t.Fatalf("%s: fast path ok=%v %+v; want %+v", v, ok, got, q)
		}
	}
}
