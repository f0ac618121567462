package datapathbench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quantile returns the nearest-rank p-quantile of ds (0 < p <= 1): the
// smallest value with at least p of the values at or below it. 0 for none.
func Quantile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// ms returns d in milliseconds as a float.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// Point is one scrape: the summed counter value and when it was read.
type Point struct {
	T time.Time
	N float64
}

// Throughput returns the rate between the first scrape that saw any row
// (n_first at t_first) and the first that saw at least total rows (t_last):
// (N_last - n_first) / (t_last - t_first), using the scrape times. It fails
// when no scrape saw a row, none saw all of them, or both are one scrape.
func Throughput(points []Point, total float64) (rate float64, first, last Point, err error) {
	fi := slices.IndexFunc(points, func(p Point) bool { return p.N > 0 })
	li := slices.IndexFunc(points, func(p Point) bool { return p.N >= total })
	switch {
	case fi < 0:
		return 0, Point{}, Point{}, errors.New("no scrape saw an ingested row")
	case li < 0:
		return 0, points[fi], points[len(points)-1], fmt.Errorf("no scrape saw all %.0f rows (last %.0f)", total, points[len(points)-1].N)
	case li == fi:
		return 0, points[fi], points[li], fmt.Errorf("one scrape saw the first and all %.0f rows: scrape more often", total)
	}
	first, last = points[fi], points[li]
	return (last.N - first.N) / last.T.Sub(first.T).Seconds(), first, last, nil
}

// Sample is one line of the Prometheus text exposition format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// ParseMetrics reads the Prometheus text format (version 0.0.4): comments
// and blank lines skipped, `name{label="value",...} value [timestamp]`.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s, ok, err := parseSampleLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

func parseSampleLine(l string) (Sample, bool, error) {
	l = strings.TrimSpace(l)
	if l == "" || l[0] == '#' {
		return Sample{}, false, nil
	}
	var s Sample
	i := strings.IndexAny(l, "{ \t")
	if i <= 0 {
		return s, false, fmt.Errorf("no value in %q", l)
	}
	s.Name, l = l[:i], l[i:]
	if l[0] == '{' {
		s.Labels = map[string]string{}
		l = l[1:]
		for {
			l = strings.TrimLeft(l, " \t,")
			if l == "" {
				return s, false, errors.New("unterminated labels")
			}
			if l[0] == '}' {
				l = l[1:]
				break
			}
			eq := strings.IndexByte(l, '=')
			if eq <= 0 {
				return s, false, fmt.Errorf("bad label in %q", l)
			}
			name := strings.TrimSpace(l[:eq])
			l = strings.TrimLeft(l[eq+1:], " \t")
			if l == "" || l[0] != '"' {
				return s, false, fmt.Errorf("label %s: value not quoted", name)
			}
			l = l[1:]
			var b strings.Builder
			closed := false
			for j := 0; j < len(l); j++ {
				c := l[j]
				if c == '\\' && j+1 < len(l) {
					j++
					switch l[j] {
					case 'n':
						b.WriteByte('\n')
					default:
						b.WriteByte(l[j])
					}
					continue
				}
				if c == '"' {
					l, closed = l[j+1:], true
					break
				}
				b.WriteByte(c)
			}
			if !closed {
				return s, false, errors.New("unterminated label value")
			}
			s.Labels[name] = b.String()
		}
	}
	f := strings.Fields(l)
	if len(f) < 1 || len(f) > 2 {
		return s, false, fmt.Errorf("want a value and an optional timestamp, got %q", l)
	}
	v, err := strconv.ParseFloat(f[0], 64) // also NaN, +Inf, -Inf
	if err != nil {
		return s, false, fmt.Errorf("value %q: %w", f[0], err)
	}
	s.Value = v
	return s, true, nil
}

// Sum adds the values of every sample named name (any labels).
func Sum(ss []Sample, name string) float64 {
	var t float64
	for _, s := range ss {
		if s.Name == name {
			t += s.Value
		}
	}
	return t
}

// Summary is one node's Prometheus summary: its count, sum and quantiles.
type Summary struct {
	Count     float64
	Sum       float64             // of every observation (the metric's unit)
	Quantiles map[float64]float64 // quantile -> value (NaN without observations)
}

// Mean is Sum / Count; 0 without observations.
func (s Summary) Mean() float64 {
	if s.Count <= 0 {
		return 0
	}
	return s.Sum / s.Count
}

// SummaryOf extracts the summary name from ss.
func SummaryOf(ss []Sample, name string) Summary {
	out := Summary{Quantiles: map[float64]float64{}}
	for _, s := range ss {
		switch s.Name {
		case name + "_count":
			out.Count = s.Value
		case name + "_sum":
			out.Sum = s.Value
		case name:
			if q, err := strconv.ParseFloat(s.Labels["quantile"], 64); err == nil {
				out.Quantiles[q] = s.Value
			}
		}
	}
	return out
}

// PickSummary returns the index of the node whose summary has observations
// (the node that ran the ingest task); with several, the one with the most.
// -1 when none has any.
func PickSummary(sums []Summary) int {
	best := -1
	for i, s := range sums {
		if s.Count > 0 && (best < 0 || s.Count > sums[best].Count) {
			best = i
		}
	}
	return best
}

// OfferedRate is share of capacity rows/s as a replay rate: rounded, at
// least 1.
func OfferedRate(capacity, share float64) int {
	return max(1, int(math.Round(capacity*share)))
}

// HistogramQuantile estimates the q-quantile of the Prometheus histogram
// name from its cumulative _bucket samples summed over sets (nodes), as
// PromQL's histogram_quantile does: linear interpolation inside the bucket
// that holds the rank (the first bucket from 0; the +Inf bucket gives the
// highest finite bound). NaN without observations.
func HistogramQuantile(q float64, name string, sets ...[]Sample) float64 {
	cum := map[float64]float64{}
	for _, ss := range sets {
		for _, s := range ss {
			if s.Name != name+"_bucket" {
				continue
			}
			le, err := strconv.ParseFloat(s.Labels["le"], 64)
			if err != nil {
				continue
			}
			cum[le] += s.Value
		}
	}
	bounds := make([]float64, 0, len(cum))
	for le := range cum {
		bounds = append(bounds, le)
	}
	slices.Sort(bounds)
	if len(bounds) == 0 || cum[bounds[len(bounds)-1]] == 0 {
		return math.NaN()
	}
	total := cum[bounds[len(bounds)-1]]
	rank := q * total
	prevLe, prevN := 0.0, 0.0
	for _, le := range bounds {
		n := cum[le]
		if n >= rank {
			if math.IsInf(le, 1) {
				return prevLe
			}
			if n == prevN {
				return le
			}
			return prevLe + (le-prevLe)*(rank-prevN)/(n-prevN)
		}
		prevLe, prevN = le, n
	}
	return prevLe
}
