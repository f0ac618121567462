package master

import (
	"errors"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig("/stocksys/default").Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	if c := DefaultConfig("/r"); c.MinInterval != DefaultMinInterval || c.Resync != DefaultResync || c.MaxMultiBytes != DefaultMaxMultiBytes {
		t.Fatalf("DefaultConfig = %+v", c)
	}
	if err := (Config{Root: "/stocksys/x"}).Validate(); err != nil {
		t.Fatalf("zero values mean defaults: %v", err)
	}
	for _, tt := range []struct {
		name string
		c    Config
		want string
	}{
		{"no root", Config{}, "master: invalid config: "},
		{"relative root", Config{Root: "stocksys"}, "master: invalid config: "},
		{"negative min interval", Config{Root: "/r", MinInterval: -time.Millisecond}, "master: invalid config: min interval -1ms < 0"},
		{"negative resync", Config{Root: "/r", Resync: -time.Second}, "master: invalid config: resync -1s < 0"},
		{"resync below min interval", Config{Root: "/r", MinInterval: time.Second, Resync: time.Millisecond}, "master: invalid config: resync 1ms below the min interval 1s"},
		{"tiny multi", Config{Root: "/r", MaxMultiBytes: 100}, "master: invalid config: max multi bytes 100: want 0 (default 524288) or at least 4096"},
	} {
		err := tt.c.Validate()
		if !errors.Is(err, ErrInvalidConfig) || len(err.Error()) < len(tt.want) || err.Error()[:len(tt.want)] != tt.want {
			t.Errorf("%s: %v; want %q", tt.name, err, tt.want)
		}
	}
}
