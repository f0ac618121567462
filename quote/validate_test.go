package quote

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	now := utc(2020, 12, 1, 15, 0)
	good := Quote{Symbol: "MSFT", TS: utc(2020, 12, 1, 14, 59), Open: 10, High: 11, Low: 9, Close: 10.5, Volume: 5}
	tests := []struct {
		name   string
		mod    func(q *Quote)
		reason RejectReason
		detail string
	}{
		{"valid", func(q *Quote) {}, "", ""},
		{"valid with bid ask", func(q *Quote) { q.Bid, q.Ask = fp(10.4), fp(10.6) }, "", ""},
		{"crossed bid ask allowed", func(q *Quote) { q.Bid, q.Ask = fp(10.6), fp(10.4) }, "", ""},
		{"zero volume", func(q *Quote) { q.Volume = 0 }, "", ""},
		{"ts at skew limit", func(q *Quote) { q.TS = now.Add(DefaultMaxSkew) }, "", ""},
		{"flat bar", func(q *Quote) { q.Open, q.High, q.Low, q.Close = 7, 7, 7, 7 }, "", ""},
		{"empty symbol", func(q *Quote) { q.Symbol = "" }, ReasonBadSymbol, `symbol "": empty`},
		{"slash symbol", func(q *Quote) { q.Symbol = "A/B" }, ReasonBadSymbol, `character '/'`},
		{"lower-case symbol", func(q *Quote) { q.Symbol = "msft" }, ReasonBadSymbol, `"msft" is not canonical (want "MSFT")`},
		{"zero ts", func(q *Quote) { q.TS = time.Time{} }, ReasonAncientTS, "ts 0001-01-01T00:00:00Z before 1970-01-01"},
		{"1969", func(q *Quote) { q.TS = utc(1969, 12, 31, 23, 59) }, ReasonAncientTS, "ts 1969-12-31T23:59:00Z"},
		{"future", func(q *Quote) { q.TS = now.Add(DefaultMaxSkew + time.Second) }, ReasonFutureTS,
			"ts 2020-12-01T15:02:01Z after now 2020-12-01T15:00:00Z + skew 2m0s"},
		{"nan close", func(q *Quote) { q.Close = math.NaN() }, ReasonNaNPrice, "close NaN not finite"},
		{"inf high", func(q *Quote) { q.High = math.Inf(1) }, ReasonNaNPrice, "high +Inf not finite"},
		{"nan bid", func(q *Quote) { q.Bid, q.Ask = fp(math.NaN()), fp(1) }, ReasonNaNPrice, "bid NaN not finite"},
		{"zero low", func(q *Quote) { q.Low = 0 }, ReasonNonPositive, "low 0 <= 0"},
		{"negative open", func(q *Quote) { q.Open = -1 }, ReasonNonPositive, "open -1 <= 0"},
		{"zero ask", func(q *Quote) { q.Bid, q.Ask = fp(1), fp(0) }, ReasonNonPositive, "ask 0 <= 0"},
		{"high below low", func(q *Quote) { q.High, q.Low = 9, 11 }, ReasonHighLow, "high 9 < low 11"},
		{"open above high", func(q *Quote) { q.Open = 11.5 }, ReasonOpenOutside, "open 11.5 outside [low 9, high 11]"},
		{"open below low", func(q *Quote) { q.Open = 8 }, ReasonOpenOutside, "open 8 outside [low 9, high 11]"},
		{"close above high", func(q *Quote) { q.Close = 12 }, ReasonCloseOutside, "close 12 outside [low 9, high 11]"},
		{"negative volume", func(q *Quote) { q.Volume = -3 }, ReasonNegativeVol, "volume -3 < 0"},
		// Issue 15, defect 4: a close of 1e308 passed and made a VWAP of +Inf.
		{"absurd close", func(q *Quote) { q.Open, q.High, q.Low, q.Close = 1e308, 1e308, 1e308, 1e308 }, ReasonPriceRange,
			"open 1e+308 above the plausible maximum 1e+09"},
		{"absurd ask", func(q *Quote) { q.Bid, q.Ask = fp(10), fp(2e9) }, ReasonPriceRange, "ask 2e+09 above"},
		{"price at the bound", func(q *Quote) { q.Open, q.High, q.Low, q.Close = MaxPrice, MaxPrice, MaxPrice, MaxPrice }, "", ""},
		{"absurd volume", func(q *Quote) { q.Volume = 4_000_000_000_000_000_000 }, ReasonVolumeRange, "volume 4000000000000000000 above"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := good
			tt.mod(&q)
			err := Validate(q, now)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("Validate = %v; want nil", err)
				}
				return
			}
			if got := ReasonOf(err); got != tt.reason {
				t.Fatalf("reason %q (err %v); want %q", got, err, tt.reason)
			}
			if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), tt.detail) ||
				!strings.Contains(err.Error(), string(tt.reason)) {
				t.Fatalf("err = %v; want ErrRejected with %q", err, tt.detail)
			}
		})
	}
	if ReasonOf(errors.New("other")) != "" || ReasonOf(nil) != "" {
		t.Fatal("ReasonOf of a non-reject error is not empty")
	}
}

func TestValidateTick(t *testing.T) {
	now := utc(2013, 10, 7, 20, 0)
	good := Quote{Symbol: "SPY", TS: utc(2013, 10, 7, 13, 30), Open: 168.1, High: 168.1, Low: 168.1, Close: 168.1,
		Volume: 100, Kind: KindTrade, Seq: 3, Exchange: "P", Condition: "2000"}
	tests := []struct {
		name   string
		mod    func(q *Quote)
		reason RejectReason
		detail string
	}{
		{"valid", func(q *Quote) {}, "", ""},
		{"flagged still valid", func(q *Quote) { q.Flag = FlagOffMedian }, "", ""},
		{"seq max", func(q *Quote) { q.Seq = MaxSeq }, "", ""},
		{"seq 0 with bid ask", func(q *Quote) { q.Seq, q.Bid, q.Ask = 0, fp(168.09), fp(168.11) }, "", ""},
		{"unknown kind", func(q *Quote) { q.Kind = "quote" }, ReasonBadKind, `kind "quote"`},
		{"high differs", func(q *Quote) { q.High = 168.2 }, ReasonTickPrices, "tick open 168.1 high 168.2 low 168.1 close 168.1 not one price"},
		{"close differs", func(q *Quote) { q.Close = 168.0; q.Low = 168.0 }, ReasonTickPrices, "not one price"},
		{"zero size", func(q *Quote) { q.Volume = 0 }, ReasonBadSize, "tick volume 0"},
		{"negative size", func(q *Quote) { q.Volume = -1 }, ReasonNegativeVol, "volume -1 < 0"},
		{"negative seq", func(q *Quote) { q.Seq = -1 }, ReasonBadSeq, "tick seq -1 outside 0..999999"},
		{"seq too big", func(q *Quote) { q.Seq = MaxSeq + 1 }, ReasonBadSeq, "tick seq 1000000 outside 0..999999"},
		{"zero price", func(q *Quote) { q.Open, q.High, q.Low, q.Close = 0, 0, 0, 0 }, ReasonNonPositive, "open 0 <= 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := good
			tt.mod(&q)
			err := Validate(q, now)
			if ReasonOf(err) != tt.reason || (err != nil && !strings.Contains(err.Error(), tt.detail)) {
				t.Fatalf("Validate = %v; want reason %q with %q", err, tt.reason, tt.detail)
			}
		})
	}
	// Bars are checked as before: a zero volume, a Seq, OHLC apart are fine.
	bar := Quote{Symbol: "SPY", TS: utc(2013, 10, 7, 13, 30), Open: 1, High: 2, Low: 0.5, Close: 1.5, Seq: 7}
	if err := Validate(bar, now); err != nil {
		t.Fatalf("bar: %v", err)
	}
}

func TestValidateSkew(t *testing.T) {
	now := utc(2020, 12, 1, 15, 0)
	q := Quote{Symbol: "A", TS: now.Add(10 * time.Second), Open: 1, High: 1, Low: 1, Close: 1}
	if err := ValidateSkew(q, now, 5*time.Second); ReasonOf(err) != ReasonFutureTS {
		t.Fatalf("skew 5s: %v", err)
	}
	if err := ValidateSkew(q, now, 10*time.Second); err != nil {
		t.Fatalf("skew 10s: %v", err)
	}
}
