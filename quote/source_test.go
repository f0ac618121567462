package quote

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec string
		want Spec
		str  string
	}{
		{"replay:/data/lean-spy-minute", Spec{Kind: KindReplay, Path: "/data/lean-spy-minute", Speed: 60}, "replay:/data/lean-spy-minute?speed=60"},
		{"replay:../x/a.csv?speed=2.5", Spec{Kind: KindReplay, Path: "../x/a.csv", Speed: 2.5}, "replay:../x/a.csv?speed=2.5"},
		{"replay:C:/data?speed=max", Spec{Kind: KindReplay, Path: "C:/data", Speed: 0}, "replay:C:/data?speed=max"},
		{"replay:/data/lean-ticks?rate=5000", Spec{Kind: KindReplay, Path: "/data/lean-ticks", Rate: 5000}, "replay:/data/lean-ticks?rate=5000"},
		{"replay:/d?rate=0.5", Spec{Kind: KindReplay, Path: "/d", Rate: 0.5}, "replay:/d?rate=0.5"},
		{"yahoo", Spec{Kind: KindYahoo}, "yahoo"},
		{"alphavantage", Spec{Kind: KindAlphaVantage}, "alphavantage"},
		{"synthetic", Spec{Kind: KindSynthetic, Seed: 1, Rate: 1}, "synthetic?seed=1&rate=1"},
		{"synthetic?seed=-7&rate=0.5", Spec{Kind: KindSynthetic, Seed: -7, Rate: 0.5}, "synthetic?seed=-7&rate=0.5"},
		{"synthetic:?rate=1000", Spec{Kind: KindSynthetic, Seed: 1, Rate: 1000}, "synthetic?seed=1&rate=1000"},
	}
	for _, tt := range tests {
		got, err := ParseSpec(tt.spec)
		if err != nil || got != tt.want || got.String() != tt.str {
			t.Errorf("ParseSpec(%q) = %+v (%q), %v; want %+v (%q)", tt.spec, got, got.String(), err, tt.want, tt.str)
		}
		if again, err := ParseSpec(got.String()); err != nil || again != got {
			t.Errorf("round trip of %q: %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseSpecErrors(t *testing.T) {
	tests := []struct{ spec, msg string }{
		{"", `unknown kind ""`},
		{"kafka:x", `unknown kind "kafka"`},
		{"replay", "want replay:<path>"},
		{"replay:", "want replay:<path>"},
		{"replay:/d?speed=0", `speed "0"`},
		{"replay:/d?speed=-1", `speed "-1"`},
		{"replay:/d?speed=fast", `speed "fast"`},
		{"replay:/d?sped=2", `unknown parameter "sped"`},
		{"replay:/d?speed=1&speed=2", `parameter "speed" given 2 times`},
		{"replay:/d?rate=0", `rate "0"`},
		{"replay:/d?rate=-3", `rate "-3"`},
		{"replay:/d?rate=", `rate ""`},
		{"replay:/d?rate=NaN", `rate "NaN"`},
		{"replay:/d?rate=2e9", `rate "2e9"`},
		{"replay:/d?rate=fast", `want 0 < rate <= 1e9 rows per second`},
		{"replay:/d?rate=5&speed=60", "speed and rate are exclusive"},
		{"replay:/d?speed=max&rate=5", "speed and rate are exclusive"},
		{"replay:/d?rate=1&rate=2", `parameter "rate" given 2 times`},
		{"yahoo:x", "yahoo takes no argument"},
		{"yahoo?x=1", `unknown parameter "x"`},
		{"synthetic?seed=x", `seed "x"`},
		{"synthetic?rate=0", `rate "0"`},
		{"synthetic?rate=1001", `rate "1001"`},
		{"synthetic:/p", "synthetic takes no path"},
		{"synthetic?%zz", "query"},
	}
	for _, tt := range tests {
		_, err := ParseSpec(tt.spec)
		if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), tt.msg) ||
			!strings.Contains(err.Error(), `"`+tt.spec+`"`) {
			t.Errorf("ParseSpec(%q) err = %v; want ErrBadSpec naming the spec and %q", tt.spec, err, tt.msg)
		}
	}
}

func TestNew(t *testing.T) {
	t.Setenv(EnvAlphaVantageKey, "")
	if _, err := New("alphavantage", Options{}); !errors.Is(err, ErrNoAPIKey) {
		t.Fatalf("alphavantage without key: %v", err)
	}
	if s, err := New("alphavantage", Options{AlphaVantageKey: "k"}); err != nil || s.(*AlphaVantage) == nil {
		t.Fatalf("alphavantage with key: %v", err)
	}
	if _, err := New("replay:/does/not/exist", Options{}); !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), "/does/not/exist") {
		t.Fatalf("replay of a missing path: %v", err)
	}
	dir := t.TempDir()
	if s, err := New("replay:"+dir+"?rate=250", Options{}); err != nil || s.(*Replay).rate != 250 || s.(*Replay).speed != 0 {
		t.Fatalf("replay rate: %v", err)
	}
	if s, err := New("replay:"+dir, Options{}); err != nil || s.(*Replay).rate != 0 || s.(*Replay).speed != DefaultSpeed {
		t.Fatalf("replay speed: %v", err)
	}
	for _, rate := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if _, err := NewReplayRate(dir, rate, Options{}); !errors.Is(err, ErrBadSpec) {
			t.Errorf("NewReplayRate(%v): %v", rate, err)
		}
	}
	if s, err := New("synthetic?seed=3", Options{}); err != nil || s.(*Synthetic).seed != 3 {
		t.Fatalf("synthetic: %v", err)
	}
	if s, err := New("yahoo", Options{}); err != nil || s.(*Yahoo).base.Host != "query1.finance.yahoo.com" {
		t.Fatalf("yahoo: %v", err)
	}
	if _, err := New("bogus", Options{}); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("bogus: %v", err)
	}
}

func TestParseSpecOptions(t *testing.T) {
	for _, c := range []struct {
		spec string
		opts map[string]string
		want Spec
	}{
		{"replay:/d", map[string]string{"label": "start"}, Spec{Kind: KindReplay, Path: "/d", Speed: DefaultSpeed, Label: LabelStart}},
		{"replay:/d?speed=max", map[string]string{"label": "END"}, Spec{Kind: KindReplay, Path: "/d", Label: LabelEnd}},
		{"replay:/d?label=end", map[string]string{"label": "end", "rate": "5"}, Spec{Kind: KindReplay, Path: "/d", Rate: 5, Label: LabelEnd}},
		{"synthetic", map[string]string{"seed": "7"}, Spec{Kind: KindSynthetic, Seed: 7, Rate: DefaultSyntheticRate}},
		{"yahoo", nil, Spec{Kind: KindYahoo}},
	} {
		got, err := ParseSpecOptions(c.spec, c.opts)
		if err != nil || got != c.want {
			t.Errorf("ParseSpecOptions(%q, %v) = %+v, %v; want %+v", c.spec, c.opts, got, err, c.want)
		}
	}
	for _, c := range []struct {
		spec string
		opts map[string]string
		msg  string
	}{
		{"replay:/d", map[string]string{"lable": "start"}, `unknown parameter "lable" for replay (allowed: hours, label, rate, speed, tz)`},
		{"replay:/d?label=end", map[string]string{"label": "start"}, `option label=start: the source "replay:/d?label=end" sets label=end`},
		{"replay:/d", map[string]string{"label": "mid"}, `label "mid": want start or end`},
		{"replay:/d?speed=2", map[string]string{"rate": "3"}, "speed and rate are exclusive"},
		{"alphavantage", map[string]string{"interval": "5min"}, `unknown parameter "interval" for alphavantage (allowed: hours, tz)`},
		{"synthetic", map[string]string{"rate": "0"}, `rate "0"`},
	} {
		_, err := ParseSpecOptions(c.spec, c.opts)
		if !errors.Is(err, ErrBadSpec) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("ParseSpecOptions(%q, %v): %v; want ErrBadSpec saying %q", c.spec, c.opts, err, c.msg)
		}
	}
	if s, err := ParseSpec("replay:/d?speed=2&label=start"); err != nil || s.String() != "replay:/d?speed=2&label=start" {
		t.Errorf("String of a labelled spec: %q, %v", s.String(), err)
	}
}
