package testenv

import (
	"encoding/json"
	"os"
	"testing"
)

// YahooChartFixture is the recorded Yahoo v8 chart response in the shared
// fixtures (see ../shared/fixtures/README.md): AAPL, interval 1d, 49 bars,
// exchangeTimezoneName America/New_York.
const YahooChartFixture = "yahoo-v8-chart/chart-AAPL-2020-08-31-to-2020-11-07.json"

// YahooChart is the meta of a chart DerivedYahooChart writes.
type YahooChart struct {
	Symbol               string // meta.symbol
	ExchangeTimezoneName string // meta.exchangeTimezoneName, e.g. "Asia/Jakarta"
	Timezone             string // meta.timezone, e.g. "WIB"
	GMTOffset            int64  // meta.gmtoffset, seconds east of UTC
	InstrumentType       string // meta.instrumentType, e.g. "CRYPTOCURRENCY"
	Granularity          string // meta.dataGranularity, e.g. "1m"
	Timestamps           []int64
}

// DerivedYahooChart returns a chart response body derived at run time from
// the recorded AAPL chart (YahooChartFixture's response.bodyJson): its meta
// edited to c's fields, its timestamps replaced by c.Timestamps and its
// indicator arrays cut to as many values (the recorded bars' prices and
// volumes, in order). At most 49 timestamps (the recorded bars). The
// fixture is read, never copied into the repository.
func DerivedYahooChart(t testing.TB, c YahooChart) []byte {
	t.Helper()
	raw, err := os.ReadFile(SharedFixture(t, YahooChartFixture))
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Response struct {
			Body map[string]any `json:"bodyJson"`
		} `json:"response"`
	}
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%s: %v", YahooChartFixture, err)
	}
	body := rec.Response.Body
	res := body["chart"].(map[string]any)["result"].([]any)[0].(map[string]any)
	meta := res["meta"].(map[string]any)
	meta["symbol"], meta["exchangeTimezoneName"], meta["timezone"] = c.Symbol, c.ExchangeTimezoneName, c.Timezone
	meta["gmtoffset"], meta["instrumentType"], meta["dataGranularity"] = c.GMTOffset, c.InstrumentType, c.Granularity
	n := len(c.Timestamps)
	if old := len(res["timestamp"].([]any)); n > old {
		t.Fatalf("DerivedYahooChart: %d timestamps, the fixture has %d bars", n, old)
	}
	res["timestamp"] = c.Timestamps
	ind := res["indicators"].(map[string]any)
	for _, key := range []string{"quote", "adjclose"} {
		for _, series := range ind[key].([]any) {
			m := series.(map[string]any)
			for k, v := range m {
				m[k] = v.([]any)[:n]
			}
		}
	}
	delete(res, "events") // the split and dividend were at the recorded dates
	out, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
