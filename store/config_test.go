package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/gocql/gocql"
)

func TestParseConsistency(t *testing.T) {
	tests := []struct {
		in      string
		want    gocql.Consistency
		wantErr string // substring of the error; "" for success
	}{
		{"ONE", gocql.One, ""},
		{"LOCAL_QUORUM", gocql.LocalQuorum, ""},
		{"local_quorum", gocql.LocalQuorum, ""},
		{" QUORUM ", gocql.Quorum, ""},
		{"LOCAL_ONE", gocql.LocalOne, ""},
		{"ALL", gocql.All, ""},
		{"FOO", 0, `consistency "FOO": want one of ANY, ONE`},
		{"LOCAL-QUORUM", 0, `consistency "LOCAL-QUORUM"`},
		{"SERIAL", 0, `consistency "SERIAL"`},
		{"", 0, `consistency ""`},
	}
	for _, tt := range tests {
		got, err := ParseConsistency(tt.in)
		if tt.wantErr == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseConsistency(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			continue
		}
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("ParseConsistency(%q) error = %v; want ErrInvalidConfig containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestParseSerialConsistency(t *testing.T) {
	tests := []struct {
		in   string
		want gocql.SerialConsistency
		ok   bool
	}{
		{"SERIAL", gocql.Serial, true},
		{"local_serial", gocql.LocalSerial, true},
		{"LOCAL_QUORUM", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseSerialConsistency(tt.in)
		if tt.ok && (err != nil || got != tt.want) {
			t.Errorf("ParseSerialConsistency(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if !tt.ok && (!errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), `"`+tt.in+`"`)) {
			t.Errorf("ParseSerialConsistency(%q) error = %v; want ErrInvalidConfig naming the value", tt.in, err)
		}
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.Keyspace != "stocksys" || c.ReplicationClass != SimpleStrategy || c.ReplicationFactor != 1 ||
		c.Consistency != "LOCAL_QUORUM" || c.SerialConsistency != "LOCAL_SERIAL" || c.MoveAlertPct != 20 ||
		len(c.SMAWindows) != 2 || c.SMAWindows[0] != 5 || c.SMAWindows[1] != 20 ||
		len(c.EMAWindows) != 2 || c.EMAWindows[0] != 12 || c.EMAWindows[1] != 26 || c.BatchMaxBytes != 4096 {
		t.Fatalf("DefaultConfig = %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"zero fields take defaults", func(c *Config) { *c = Config{Hosts: []string{"h:1"}} }, ""},
		{"no hosts", func(c *Config) { c.Hosts = nil }, "no hosts"},
		{"bad keyspace", func(c *Config) { c.Keyspace = "my-ks" }, `keyspace "my-ks"`},
		{"bad consistency", func(c *Config) { c.Consistency = "TWO_ISH" }, `consistency "TWO_ISH"`},
		{"bad serial", func(c *Config) { c.SerialConsistency = "ONE" }, `serial consistency "ONE"`},
		{"bad class", func(c *Config) { c.ReplicationClass = "Local" }, `replication class "Local"`},
		{"rf", func(c *Config) { c.ReplicationFactor = -1 }, "replication factor -1"},
		{"nts without dcs", func(c *Config) { c.ReplicationClass = NetworkTopologyStrategy }, "needs Datacenters"},
		{"nts", func(c *Config) {
			c.ReplicationClass = NetworkTopologyStrategy
			c.Datacenters = map[string]int{"dc1": 3}
		}, ""},
		{"nts zero", func(c *Config) {
			c.ReplicationClass = NetworkTopologyStrategy
			c.Datacenters = map[string]int{"dc1": 0}
		}, `datacenter "dc1": 0 replicas`},
		{"window", func(c *Config) { c.EMAWindows = []int{12, 0} }, "window 0"},
		{"alert pct", func(c *Config) { c.MoveAlertPct = -5 }, "move alert percent -5"},
		{"batch too big", func(c *Config) { c.BatchMaxBytes = 60000 }, "batch max bytes 60000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v; want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestCreateKeyspace(t *testing.T) {
	c := DefaultConfig().withDefaults()
	if got, want := createKeyspace(c), "CREATE KEYSPACE IF NOT EXISTS stocksys WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"; got != want {
		t.Errorf("simple: %s\nwant   %s", got, want)
	}
	c.ReplicationClass = NetworkTopologyStrategy
	c.Datacenters = map[string]int{"dc2": 2, "dc1": 3}
	if got, want := createKeyspace(c), "CREATE KEYSPACE IF NOT EXISTS stocksys WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"; got != want {
		t.Errorf("nts: %s\nwant %s", got, want)
	}
}
