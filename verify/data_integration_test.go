package verify

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/store"
)

// On the real Cassandra: the ticks of a tick replay written through the
// store pass CheckData (ticks once each, bars equal to ComputeBars of the
// unflagged ones); a tick the source lacks, stored afterwards, is reported
// with its row, settled or not, and a deleted tick only once settled.
func TestIntegration_CheckDataTicks(t *testing.T) {
	ks, sess := testenv.CassandraKeyspace(t)
	cfg := store.DefaultConfig()
	cfg.Hosts, cfg.Keyspace, cfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := tickDir(t)
	spec := "replay:" + dir + "?rate=1000"
	src, kind, err := SourceQuotes(spec, "", "SPY", time.Now())
	if err != nil || kind != KindTicks {
		t.Fatalf("source: %s, %v", kind, err)
	}
	// Written in two batches, the second first, as a failover may.
	if err := st.WriteQuotes(ctx, 2, src[60:]); err != nil {
		t.Fatal(err)
	}
	if err := st.WriteQuotes(ctx, 3, src[:60]); err != nil {
		t.Fatal(err)
	}
	dc := DataConfig{Sources: map[string]string{"SPY": spec}, Settled: true}
	ds, vs, err := CheckData(ctx, st, dc, []string{"SPY"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 0 || len(ds) != 1 || ds[0].Stored != 120 || ds[0].Source != 120 || ds[0].Flagged != 2 || ds[0].Bars == 0 || ds[0].Kind != KindTicks {
		t.Fatalf("stored as the source: %+v%s", ds, violations(vs))
	}

	stray := src[50]
	stray.Seq, stray.Close, stray.Open, stray.High, stray.Low = 7, 170, 170, 170, 170
	if err := st.WriteQuotes(ctx, 4, []quote.Quote{stray}); err != nil {
		t.Fatal(err)
	}
	if err := sess.Query(`DELETE FROM ticks WHERE symbol = 'SPY' AND day = ? AND ts = ? AND seq = ?`, src[0].Day(), src[0].TS, src[0].Seq).Exec(); err != nil {
		t.Fatal(err)
	}
	for _, settled := range []bool{false, true} {
		dc.Settled = settled
		ds, vs, err = CheckData(ctx, st, dc, []string{"SPY"})
		if err != nil {
			t.Fatal(err)
		}
		text := violations(vs)
		if ds[0].Extra != 1 || ds[0].Missing != 1 || !strings.Contains(text, "1 rows stored that the source lacks; first: "+
			stray.TS.Format("2006-01-02T15:04:05.000Z")+" seq 7 price 170 size") {
			t.Errorf("settled %v: %+v%s", settled, ds, text)
		}
		if got := strings.Contains(text, "1 ticks of the source not stored"); got != settled {
			t.Errorf("settled %v: missing tick reported %v:%s", settled, got, text)
		}
	}
}
