package metrics

import (
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// exposition returns the value of every sample line of m's /metrics text,
// keyed by the line's name and labels.
func exposition(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]float64{}
	for _, l := range strings.Split(rec.Body.String(), "\n") {
		i := strings.LastIndexByte(l, ' ')
		if l == "" || l[0] == '#' || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", l, err)
		}
		out[l[:i]] = v
	}
	return out
}

// IngestStages observes each part of the split in its own summary, in
// seconds, once per call, and leaves the readable summary alone.
func TestIngestStages(t *testing.T) {
	m := New()
	c := m.Ingester()
	c.IngestStages(3, 2*time.Millisecond, 30*time.Millisecond, 400*time.Millisecond)
	c.IngestStages(3, 4*time.Millisecond, 0, 400*time.Millisecond)
	got := exposition(t, m)
	for name, wantSum := range map[string]float64{
		"stocksys_ingest_delivery_seconds": 0.006,
		"stocksys_ingest_wait_seconds":     0.030,
		"stocksys_ingest_write_seconds":    0.800,
	} {
		n, ok := got[name+"_count"]
		if !ok || n != 2 || math.Abs(got[name+"_sum"]-wantSum) > 1e-9 {
			t.Errorf("%s: count %v (exposed %v) sum %v; want 2, %v", name, n, ok, got[name+"_sum"], wantSum)
		}
	}
	if q := got[`stocksys_ingest_write_seconds{quantile="0.99"}`]; q != 0.4 {
		t.Errorf("write p99 %v; want 0.4 (both observations)", q)
	}
	if n, ok := got["stocksys_ingest_readable_seconds_count"]; !ok || n != 0 {
		t.Errorf("readable summary count %v (exposed %v); want 0", n, ok)
	}
}
