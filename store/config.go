package store

import (
	"crypto/tls"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gocql/gocql"
	"go.uber.org/zap"

	"github.com/stock-system/stocksys/security"
)

// Replication strategies accepted in Config.ReplicationClass.
const (
	SimpleStrategy          = "SimpleStrategy"
	NetworkTopologyStrategy = "NetworkTopologyStrategy"
)

// Cassandra 5 server defaults (cassandra.yaml) that bound batch sizes. They
// are measured on the server as the data size of the mutations in a batch.
const (
	// ServerBatchWarnBytes is batch_size_warn_threshold (5 KiB): above it the
	// server logs a warning and returns one to the client.
	ServerBatchWarnBytes = 5 * 1024
	// ServerBatchFailBytes is batch_size_fail_threshold (50 KiB): above it
	// the server rejects the batch.
	ServerBatchFailBytes = 50 * 1024
)

// Config configures a Store. The zero value is not usable; start from
// DefaultConfig.
type Config struct {
	// ReadOnly opens an existing keyspace without creating or altering any
	// schema; Open fails with ErrNoKeyspace if it does not exist. For readers.
	ReadOnly bool
	// Hosts are the contact points, "host:port" (port 9042 if omitted).
	// Required.
	Hosts []string
	// Keyspace holds all tables. Default "stocksys". Created with the
	// replication below if absent; an existing keyspace is used as it is.
	Keyspace string
	// ReplicationClass is SimpleStrategy (default) or
	// NetworkTopologyStrategy; used only when the keyspace is created.
	ReplicationClass string
	// ReplicationFactor is the replica count for SimpleStrategy. Default 1
	// (a single-node development cluster; use 3 in production).
	ReplicationFactor int
	// Datacenters maps datacenter name to replica count for
	// NetworkTopologyStrategy (required, non-empty, then).
	Datacenters map[string]int
	// LocalDC, if set, makes the host policy prefer that datacenter's nodes
	// (DC-aware round robin under the token-aware policy).
	LocalDC string
	// Consistency of reads and writes: a Cassandra level name such as
	// "LOCAL_QUORUM" (default), "QUORUM" or "ONE" (enough for a single local
	// node), case-insensitive. See ParseConsistency.
	Consistency string
	// SerialConsistency of the lightweight transactions that fence offsets
	// and checkpoints: "LOCAL_SERIAL" (default) or "SERIAL". Fenced loads
	// read at this level too, so they see every committed transaction.
	SerialConsistency string
	// Timeout bounds each request to a node. Default 10 s. The ctx given to
	// each call bounds the whole call, retries included.
	Timeout time.Duration
	// ConnectTimeout bounds the initial connection. Default 10 s.
	ConnectTimeout time.Duration
	// Retries is how many times an idempotent statement is retried (with
	// exponential backoff from 100 ms to 2 s, on the next host). Default 3.
	// Non-idempotent statements are never retried.
	Retries int
	// BatchMaxBytes caps the estimated size of each unlogged batch. Default
	// 4 KiB, under the server's 5 KiB warn threshold with room for the
	// estimate's error; at most ServerBatchFailBytes.
	BatchMaxBytes int
	// SMAWindows are the simple-moving-average lengths kept in latest, in
	// closes of the series' own interval: the latest day's 1-minute closes
	// for an intraday series, daily closes for a daily series (see Latest).
	// Default 5, 20.
	SMAWindows []int
	// EMAWindows are the exponential-moving-average lengths kept in latest,
	// in closes of the series' own interval as SMAWindows; a daily series'
	// EMA N runs over its last DailyEMALookback*N daily closes. Default 12,
	// 26.
	EMAWindows []int
	// MoveAlertPct flags a quote whose close moved more than this many
	// percent from the previous stored close. Default 20.
	MoveAlertPct float64
	// Logger receives structured logs; nil means zap.NewNop().
	Logger *zap.Logger

	// TLS, when non-nil, connects to every node over client TLS with these
	// settings (cassandra.yaml client_encryption_options); build it with
	// security.ClientTLS. The node's certificate and host name (or IP
	// address, as the ring lists peers by address) are always verified
	// (gocql SslOptions.EnableHostVerification). Default nil: plaintext.
	TLS *tls.Config
	// Auth, when non-nil, logs in as this role with Cassandra's
	// PasswordAuthenticator (authenticator: PasswordAuthenticator). The
	// role needs CREATE on ALL KEYSPACES unless the keyspace exists, and
	// MODIFY and SELECT on the keyspace (its creator has them). Default nil:
	// no authentication (AllowAllAuthenticator).
	Auth *security.Credentials
}

// DefaultConfig returns a Config with every default filled in and Hosts set
// to 127.0.0.1:9042 (the development server of scripts/infra.sh).
func DefaultConfig() Config {
	return Config{
		Hosts:             []string{"127.0.0.1:9042"},
		Keyspace:          "stocksys",
		ReplicationClass:  SimpleStrategy,
		ReplicationFactor: 1,
		Consistency:       "LOCAL_QUORUM",
		SerialConsistency: "LOCAL_SERIAL",
		Timeout:           10 * time.Second,
		ConnectTimeout:    10 * time.Second,
		Retries:           3,
		BatchMaxBytes:     4 * 1024,
		SMAWindows:        []int{5, 20},
		EMAWindows:        []int{12, 26},
		MoveAlertPct:      20,
	}
}

// withDefaults fills zero fields from DefaultConfig (Hosts excepted).
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Keyspace == "" {
		c.Keyspace = d.Keyspace
	}
	if c.ReplicationClass == "" {
		c.ReplicationClass = d.ReplicationClass
	}
	if c.ReplicationFactor == 0 && c.ReplicationClass == SimpleStrategy {
		c.ReplicationFactor = d.ReplicationFactor
	}
	if c.Consistency == "" {
		c.Consistency = d.Consistency
	}
	if c.SerialConsistency == "" {
		c.SerialConsistency = d.SerialConsistency
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = d.ConnectTimeout
	}
	if c.Retries == 0 {
		c.Retries = d.Retries
	}
	if c.BatchMaxBytes == 0 {
		c.BatchMaxBytes = d.BatchMaxBytes
	}
	if c.SMAWindows == nil {
		c.SMAWindows = d.SMAWindows
	}
	if c.EMAWindows == nil {
		c.EMAWindows = d.EMAWindows
	}
	if c.MoveAlertPct == 0 {
		c.MoveAlertPct = d.MoveAlertPct
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return c
}

var keyspaceRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,47}$`)

// Validate checks the config (after filling zero fields with defaults)
// without contacting Cassandra. Errors wrap ErrInvalidConfig and name the
// field and the offending value.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, a...)...)
	}
	if len(c.Hosts) == 0 {
		return bad("no hosts")
	}
	for _, h := range c.Hosts {
		if strings.TrimSpace(h) == "" {
			return bad("empty host in %q", c.Hosts)
		}
	}
	if !keyspaceRE.MatchString(c.Keyspace) {
		return bad("keyspace %q: want a letter then up to 47 of [A-Za-z0-9_]", c.Keyspace)
	}
	switch c.ReplicationClass {
	case SimpleStrategy:
		if c.ReplicationFactor < 1 {
			return bad("replication factor %d: want >= 1", c.ReplicationFactor)
		}
	case NetworkTopologyStrategy:
		if len(c.Datacenters) == 0 {
			return bad("NetworkTopologyStrategy needs Datacenters")
		}
		for dc, n := range c.Datacenters {
			if dc == "" || strings.ContainsAny(dc, `'\`) || n < 1 {
				return bad("datacenter %q: %d replicas", dc, n)
			}
		}
	default:
		return bad("replication class %q: want %s or %s", c.ReplicationClass, SimpleStrategy, NetworkTopologyStrategy)
	}
	if _, err := ParseConsistency(c.Consistency); err != nil {
		return err
	}
	if _, err := ParseSerialConsistency(c.SerialConsistency); err != nil {
		return err
	}
	if c.Timeout < 0 || c.ConnectTimeout < 0 {
		return bad("negative timeout %v / connect timeout %v", c.Timeout, c.ConnectTimeout)
	}
	if c.Retries < 0 {
		return bad("retries %d: want >= 0", c.Retries)
	}
	if c.BatchMaxBytes < 256 || c.BatchMaxBytes > ServerBatchFailBytes {
		return bad("batch max bytes %d: want 256..%d", c.BatchMaxBytes, ServerBatchFailBytes)
	}
	for _, w := range slices.Concat(c.SMAWindows, c.EMAWindows) {
		if w < 1 {
			return bad("moving-average window %d: want >= 1", w)
		}
	}
	if !(c.MoveAlertPct > 0) {
		return bad("move alert percent %v: want > 0", c.MoveAlertPct)
	}
	return nil
}

var consistencyNames = []string{"ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"}

// ParseConsistency parses a Cassandra consistency level name ("ONE",
// "LOCAL_QUORUM", ...; case-insensitive, surrounding spaces ignored). The
// error wraps ErrInvalidConfig and names the value and the accepted names.
func ParseConsistency(s string) (gocql.Consistency, error) {
	c, err := gocql.ParseConsistencyWrapper(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%w: consistency %q: want one of %s", ErrInvalidConfig, s, strings.Join(consistencyNames, ", "))
	}
	return c, nil
}

// ParseSerialConsistency parses "SERIAL" or "LOCAL_SERIAL"
// (case-insensitive). The error wraps ErrInvalidConfig and names the value.
func ParseSerialConsistency(s string) (gocql.SerialConsistency, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "SERIAL":
		return gocql.Serial, nil
	case "LOCAL_SERIAL":
		return gocql.LocalSerial, nil
	}
	return 0, fmt.Errorf("%w: serial consistency %q: want SERIAL or LOCAL_SERIAL", ErrInvalidConfig, s)
}
