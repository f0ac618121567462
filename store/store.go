package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gocql/gocql"
	"go.uber.org/zap"
)

// Store reads and writes quotes, bars, latest rows, alerts and fenced
// offsets/checkpoints in one Cassandra keyspace. It is safe for concurrent
// use; analytics of one symbol are serialised inside a Store (see doc.go for
// several Stores).
type Store struct {
	cfg     Config
	session *gocql.Session
	cons    gocql.Consistency
	serial  gocql.SerialConsistency
	log     *zap.Logger

	now func() time.Time // for Updated columns; time.Now in production

	closeOnce sync.Once
	stmts     sync.Map // statement -> qualified statement (see cql)
}

// schema creates the tables of the package doc; every statement is
// idempotent (IF NOT EXISTS).
var schema = []string{
	`CREATE TABLE IF NOT EXISTS @quotes (
		symbol text, day date, ts timestamp,
		open double, high double, low double, close double, volume bigint,
		bid double, ask double, source text, flagged boolean, epoch bigint, flag text,
		PRIMARY KEY ((symbol, day), ts)) WITH CLUSTERING ORDER BY (ts ASC)`,
	// Keyspaces made before bars could be flagged by their source.
	`ALTER TABLE @quotes ADD IF NOT EXISTS (flag text)`,
	`CREATE TABLE IF NOT EXISTS @ticks (
		symbol text, day date, ts timestamp, seq int,
		price double, size bigint, exchange text, condition text,
		bid double, ask double, flag text, source text, epoch bigint,
		PRIMARY KEY ((symbol, day), ts, seq)) WITH CLUSTERING ORDER BY (ts ASC, seq ASC)`,
	`CREATE TABLE IF NOT EXISTS @quote_days (
		symbol text, day date, tz text static,
		PRIMARY KEY ((symbol), day)) WITH CLUSTERING ORDER BY (day ASC)`,
	// Keyspaces made before a symbol's exchange zone was recorded (a null
	// tz reads as quote.DefaultZone).
	`ALTER TABLE @quote_days ADD IF NOT EXISTS tz text static`,
	`CREATE TABLE IF NOT EXISTS @bars (
		symbol text, interval text, day date, ts timestamp,
		open double, high double, low double, close double, volume bigint,
		vwap double, count int,
		pv double, sum_close double, last_ts timestamp, hwm bigint, flagged boolean, has_bar boolean, daily boolean,
		PRIMARY KEY ((symbol, interval, day), ts)) WITH CLUSTERING ORDER BY (ts ASC)`,
	// Keyspaces made before 1m bars carried the Writer's state.
	`ALTER TABLE @bars ADD IF NOT EXISTS (pv double, sum_close double, last_ts timestamp, hwm bigint, flagged boolean, has_bar boolean)`,
	// Keyspaces made before 1m bars told daily bars (IsDailyBar) apart.
	`ALTER TABLE @bars ADD IF NOT EXISTS (daily boolean)`,
	`CREATE TABLE IF NOT EXISTS @latest (
		symbol text PRIMARY KEY, ts timestamp, price double, prev_close double,
		day_change double, day_change_pct double,
		sma map<int, double>, ema map<int, double>, updated timestamp)`,
	`CREATE TABLE IF NOT EXISTS @alerts (
		day date, ts timestamp, symbol text,
		prev_close double, close double, move_pct double, reason text,
		PRIMARY KEY ((day), ts, symbol)) WITH CLUSTERING ORDER BY (ts ASC, symbol ASC)`,
	`CREATE TABLE IF NOT EXISTS @ingest_offsets (
		topic text, "partition" int, "offset" bigint, epoch bigint, node text, updated timestamp,
		PRIMARY KEY ((topic), "partition"))`,
	`CREATE TABLE IF NOT EXISTS @fetch_checkpoints (
		symbol text PRIMARY KEY, ts timestamp, epoch bigint, node text, updated timestamp)`,
}

// Open connects to cfg.Hosts, creates the keyspace (with the configured
// replication) and the tables if absent, and returns a Store. It blocks until
// the schema is in place or ctx ends. Errors wrap ErrInvalidConfig for a bad
// config, else the gocql error. The caller must Close the Store.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cons, _ := ParseConsistency(cfg.Consistency)
	serial, _ := ParseSerialConsistency(cfg.SerialConsistency)

	cluster := gocql.NewCluster(cfg.Hosts...)
	cluster.Consistency = cons
	cluster.SerialConsistency = serial
	cluster.Timeout = cfg.Timeout
	cluster.ConnectTimeout = cfg.ConnectTimeout
	// Token-aware: each statement goes to a replica of its partition (gocql
	// learns the keyspace from the prepared statement's metadata).
	fallback := gocql.RoundRobinHostPolicy()
	if cfg.LocalDC != "" {
		fallback = gocql.DCAwareRoundRobinPolicy(cfg.LocalDC)
	}
	cluster.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(fallback)
	cfg.secure(cluster)
	cluster.RetryPolicy = idempotentOnly{&gocql.ExponentialBackoffRetryPolicy{
		NumRetries: cfg.Retries, Min: 100 * time.Millisecond, Max: 2 * time.Second}}

	// The session is bound to no keyspace: statements name their tables
	// in full (see qualify), as Cassandra 4+ asks of prepared statements
	// (it warns about "USE <keyspace>" with prepared statements otherwise).
	sess, err := cluster.CreateSession()
	if err != nil {
		return nil, fmt.Errorf("store: connect %v: %w", cfg.Hosts, err)
	}
	if cfg.ReadOnly {
		// Readers (stocksys query) never create anything: a mistyped keyspace
		// is an error, not an empty result and a new schema.
		var name string
		err := sess.Query(`SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?`, cfg.Keyspace).
			WithContext(ctx).Scan(&name)
		if errors.Is(err, gocql.ErrNotFound) {
			sess.Close()
			return nil, fmt.Errorf("%w: %q (no node has written to it yet? see --keyspace)", ErrNoKeyspace, cfg.Keyspace)
		}
		if err != nil {
			sess.Close()
			return nil, fmt.Errorf("store: look up keyspace %s: %w", cfg.Keyspace, err)
		}
		return &Store{cfg: cfg, session: sess, cons: cons, serial: serial, log: cfg.Logger, now: time.Now}, nil
	}
	if err := sess.Query(createKeyspace(cfg)).WithContext(ctx).Exec(); err != nil {
		sess.Close()
		return nil, fmt.Errorf("store: create keyspace %s: %w", cfg.Keyspace, err)
	}
	for _, stmt := range schema {
		if err := sess.Query(qualify(cfg.Keyspace, stmt)).WithContext(ctx).Exec(); err != nil {
			sess.Close()
			return nil, fmt.Errorf("store: create table: %w (%s)", err, tableOf(stmt))
		}
	}
	return &Store{cfg: cfg, session: sess, cons: cons, serial: serial, log: cfg.Logger, now: time.Now}, nil
}

// secure sets cluster's TLS and login from cfg.TLS and cfg.Auth.
func (cfg Config) secure(cluster *gocql.ClusterConfig) {
	if cfg.TLS != nil {
		cluster.SslOpts = &gocql.SslOptions{Config: cfg.TLS.Clone(), EnableHostVerification: true}
	}
	if cfg.Auth != nil {
		cluster.Authenticator = gocql.PasswordAuthenticator{Username: cfg.Auth.User, Password: cfg.Auth.Password,
			AllowedAuthenticators: []string{"org.apache.cassandra.auth.PasswordAuthenticator"}}
	}
}

// CheckLogin opens one connection to the contact point addr (host:port)
// with cfg's TLS and login (cfg.Hosts is not used) and reads
// system.local's release_version, within cfg.ConnectTimeout and
// cfg.Timeout. It returns the gocql error as it is: a refused login
// (IsAuthError), a TLS error, or a dial error when addr does not answer.
func CheckLogin(ctx context.Context, cfg Config, addr string) error {
	cfg = cfg.withDefaults()
	cluster := gocql.NewCluster(addr)
	cluster.Timeout, cluster.ConnectTimeout = cfg.Timeout, cfg.ConnectTimeout
	cluster.DisableInitialHostLookup = true
	cluster.NumConns = 1
	cluster.Logger = nopLogger{}
	cfg.secure(cluster)
	sess, err := cluster.CreateSession()
	if err != nil {
		return err
	}
	defer sess.Close()
	var v string
	return sess.Query(`SELECT release_version FROM system.local`).WithContext(ctx).Scan(&v)
}

// IsAuthError reports whether err is a login Cassandra refused (CQL error
// 0x0100, bad credentials) or one it asked for and the client did not have.
func IsAuthError(err error) bool {
	var re gocql.RequestError
	if errors.As(err, &re) && re.Code() == gocql.ErrCodeCredentials {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "Provided username") || strings.Contains(s, "authentication") && strings.Contains(s, "required")
}

// nopLogger silences gocql's log lines (CheckLogin).
type nopLogger struct{}

func (nopLogger) Print(...any)          {}
func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

// tableOf returns the table a schema statement names (its "@" word).
func tableOf(stmt string) string {
	for _, f := range strings.Fields(stmt) {
		if strings.HasPrefix(f, "@") {
			return strings.TrimPrefix(f, "@")
		}
	}
	return "?"
}

func createKeyspace(cfg Config) string {
	repl := fmt.Sprintf("'class': '%s', 'replication_factor': %d", SimpleStrategy, cfg.ReplicationFactor)
	if cfg.ReplicationClass == NetworkTopologyStrategy {
		dcs := make([]string, 0, len(cfg.Datacenters))
		for dc := range cfg.Datacenters {
			dcs = append(dcs, dc)
		}
		sort.Strings(dcs)
		repl = "'class': '" + NetworkTopologyStrategy + "'"
		for _, dc := range dcs {
			repl += fmt.Sprintf(", '%s': %d", dc, cfg.Datacenters[dc])
		}
	}
	return "CREATE KEYSPACE IF NOT EXISTS " + cfg.Keyspace + " WITH replication = {" + repl + "}"
}

// Close closes the session. It is idempotent and safe for concurrent use;
// calls in flight fail with a gocql error afterwards.
func (s *Store) Close() {
	s.closeOnce.Do(s.session.Close)
}

// Config returns the effective config (defaults filled in).
func (s *Store) Config() Config { return s.cfg }

// qualify replaces each "@" in stmt with "<keyspace>.": statements write
// their tables as @quotes. No statement of this package has "@" otherwise
// (values are always bound, never inlined).
func qualify(keyspace, stmt string) string { return strings.ReplaceAll(stmt, "@", keyspace+".") }

// cql qualifies stmt with the Store's keyspace, memoized: it is called per
// batch entry on the write path.
func (s *Store) cql(stmt string) string {
	if q, ok := s.stmts.Load(stmt); ok {
		return q.(string)
	}
	q := qualify(s.cfg.Keyspace, stmt)
	s.stmts.Store(stmt, q)
	return q
}

// query builds a statement with ctx; idempotent marks it safe to retry.
func (s *Store) query(ctx context.Context, idempotent bool, stmt string, args ...any) *gocql.Query {
	return s.session.Query(s.cql(stmt), args...).WithContext(ctx).Idempotent(idempotent)
}

// idempotentOnly applies its policy only to statements marked idempotent:
// gocql v1.7 consults the cluster's RetryPolicy for every statement, so a
// non-idempotent one (a counter, an append) could otherwise be applied twice.
type idempotentOnly struct{ gocql.RetryPolicy }

func (p idempotentOnly) Attempt(q gocql.RetryableQuery) bool {
	if iq, ok := q.(interface{ IsIdempotent() bool }); !ok || !iq.IsIdempotent() {
		return false
	}
	return p.RetryPolicy.Attempt(q)
}
