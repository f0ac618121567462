package worker

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// DefaultConfig states every default once: a zero Config with an id and a
// root gets exactly those, and Validate names a negative duration.
func TestDefaultConfig(t *testing.T) {
	d := DefaultConfig("node-1", "/stocksys/default")
	if err := d.Validate(); err != nil {
		t.Fatalf("DefaultConfig: %v", err)
	}
	got := Config{NodeID: "node-1", Root: "/stocksys/default"}.withDefaults()
	got.Logger = nil
	if got.StatusInterval != d.StatusInterval || got.ProgressInterval != d.ProgressInterval || got.AckInterval != d.AckInterval ||
		got.KeepAliveInterval != d.KeepAliveInterval || got.StopTimeout != d.StopTimeout || got.RetryDelay != d.RetryDelay ||
		got.RetryMaxDelay != d.RetryMaxDelay {
		t.Fatalf("zero config with defaults %+v; want DefaultConfig %+v", got, d)
	}
	if d.StatusInterval != time.Second || d.ProgressInterval != 5*time.Second || d.AckInterval != 20*time.Millisecond ||
		d.KeepAliveInterval != 10*time.Second || d.StopTimeout != 10*time.Second || d.RetryDelay != 2*time.Second ||
		d.RetryMaxDelay != time.Minute {
		t.Fatalf("DefaultConfig %+v differs from the documented defaults", d)
	}
	for _, c := range []struct {
		name string
		mod  func(*Config)
	}{
		{"ProgressInterval", func(c *Config) { c.ProgressInterval = -time.Second }},
		{"KeepAliveInterval", func(c *Config) { c.KeepAliveInterval = -time.Second }},
		{"RetryDelay", func(c *Config) { c.RetryDelay = -time.Second }},
		{"RetryMaxDelay", func(c *Config) { c.RetryMaxDelay = -time.Second }},
	} {
		cfg := d
		c.mod(&cfg)
		if err := cfg.Validate(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("negative %s: %v; want ErrInvalidConfig naming it", c.name, err)
		}
	}
	// A ceiling under the first wait is raised to it.
	if c := (Config{NodeID: "node-1", Root: "/stocksys/default", RetryDelay: time.Minute, RetryMaxDelay: time.Second}).withDefaults(); c.RetryMaxDelay != time.Minute {
		t.Errorf("RetryMaxDelay 1s under RetryDelay 1m became %v; want 1m", c.RetryMaxDelay)
	}
}
