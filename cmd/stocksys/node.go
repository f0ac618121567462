package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/stock-system/stocksys/audit"
	"github.com/stock-system/stocksys/internal/ports"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

type nodeOpts struct {
	id             string
	http           string
	sessionTimeout time.Duration
	connectTimeout time.Duration
	source         string
	capacity       int
	maxMoves       int
	apiTokenFile   string
	yahooURL       string
	avURL          string
	avKeyFile      string
	flapLosses     int
	flapWindow     time.Duration
	flapCordon     time.Duration
	topic          string
	dlqTopic       string
	partitions     int
	replication    int
	keyspace       string
	cassReplicas   int
	consistency    string
	logFormat      string
	logLevel       string
	placeholder    bool
	fetchTx        bool
	audit          string
	dryRun         bool
}

func newNodeCmd(g *globals) *cobra.Command {
	o := &nodeOpts{}
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run one node: election candidate, master while elected, and worker",
		Long: `node runs one Stock-System node until SIGTERM or SIGINT. It registers under
/stocksys/<cluster>/members/<id>, campaigns for master (and runs the master loop while it holds
a term), and runs the fetch and ingest tasks the master assigns to it.

On SIGTERM/SIGINT it resigns (the next node takes over at once), stops its tasks (the
producer flushes, stored batches have their offsets committed), closes its session and
exits 0.

HTTP (--http): /metrics (Prometheus), /healthz, /readyz, /status (this node's view), /ui/ (the web
console), /v1/... (the REST API: reads open, POSTs need the token of --api-token-file; see the README).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNode(cmd, g, o) },
	}
	// Defaults from the packages' DefaultConfig, stated once there.
	nd, sd, std := node.DefaultConfig(""), stream.DefaultConfig(), store.DefaultConfig()
	f := cmd.Flags()
	f.StringVar(&o.id, "id", "", "node id, 1-64 characters of [A-Za-z0-9._-] (required; env STOCKSYS_ID)")
	f.StringVar(&o.http, "http", "", "HTTP listen address (default 127.0.0.1:<8080+N> for an id ending in N, else 127.0.0.1:8080)")
	f.DurationVar(&o.sessionTimeout, "session-timeout", nd.SessionTimeout, "ZooKeeper session timeout: crash detection time (1s..40s on scripts/infra.sh's ZooKeeper)")
	f.DurationVar(&o.connectTimeout, "connect-timeout", nd.ConnectTimeout, "exit non-zero if no ZooKeeper session (and registration) within this time of starting; 0 waits for ever")
	f.StringVar(&o.source, "source", "synthetic", "default quote source for symbols without one: replay:<path>[?speed=N], yahoo, alphavantage, synthetic[?seed=S&rate=R]")
	f.IntVar(&o.capacity, "capacity", nd.Capacity, "this node's weight in task assignment (>= 1)")
	f.StringVar(&o.yahooURL, "yahoo-url", quote.DefaultYahooBaseURL, "base URL (scheme, host, optional path prefix) of the yahoo source: a proxy or a test server")
	f.StringVar(&o.avURL, "alphavantage-url", quote.DefaultAVBaseURL, "base URL of the alphavantage source")
	f.StringVar(&o.avKeyFile, "alphavantage-key-file", "", "file holding the Alpha Vantage API key (default: $"+quote.EnvAlphaVantageKey+"); the key is never printed")
	f.StringVar(&o.apiTokenFile, "api-token-file", "", "file holding the bearer token the REST API's mutating requests (/v1/..., POST) must carry; none: they are refused")
	f.IntVar(&o.flapLosses, "flap-losses", nd.FlapLosses, "while master: cordon a node whose session was lost this many times within --flap-window; -1 disables flap damping")
	f.DurationVar(&o.flapWindow, "flap-window", nd.FlapWindow, "while master: the window of --flap-losses")
	f.DurationVar(&o.flapCordon, "flap-cordon", nd.FlapCordon, "while master: how long a flapping node stays cordoned (an uncordon lifts it sooner)")
	f.IntVar(&o.maxMoves, "max-moves-in-flight", nd.MaxMovesInFlight, "while master: at most this many task moves in flight (revoked, not yet granted); 0: a quarter of the tasks, at least 32; -1: no bound")
	f.StringVar(&o.topic, "topic", sd.Topic, "Kafka topic of quotes")
	f.StringVar(&o.dlqTopic, "dlq-topic", sd.DLQTopic, "Kafka dead-letter topic")
	f.IntVar(&o.partitions, "partitions", int(sd.Partitions), "partitions of the quotes topic when this node creates it (one ingest task each)")
	f.IntVar(&o.replication, "replication", int(sd.ReplicationFactor), "replication factor of the Kafka topics when this node creates them")
	f.StringVar(&o.keyspace, "keyspace", std.Keyspace, "Cassandra keyspace (created if absent)")
	f.IntVar(&o.cassReplicas, "cassandra-replication", std.ReplicationFactor, "replication factor of the keyspace when this node creates it (SimpleStrategy)")
	f.StringVar(&o.consistency, "consistency", std.Consistency, "Cassandra consistency: ONE, LOCAL_ONE, LOCAL_QUORUM, QUORUM, ALL ...")
	f.StringVar(&o.logFormat, "log-format", "auto", "log format: auto (console on a terminal, JSON otherwise), console, json")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	f.StringVar(&o.audit, "audit", "", "append this node's audit trail (terms, fenced writes, task runs; JSON lines) to this file, for stocksys verify")
	f.BoolVar(&o.placeholder, "placeholder-tasks", false, "run placeholder tasks instead of the data path (no Kafka or Cassandra needed)")
	f.BoolVar(&o.fetchTx, "fetch-transactions", false, "fetch tasks produce each batch and its checkpoint in one Kafka transaction (transactional.id stocksys.<cluster>.fetch.<SYMBOL>; a new owner fences the old one); checkpoints move from Cassandra to the <topic>.checkpoints topic")
	f.BoolVar(&o.dryRun, "dry-run", false, "check the configuration, print the effective settings (after flags, environment and config file) as JSON, and exit")
	addNodeControlCmds(cmd, g) // node cordon | uncordon | drain | stoppable (control.go)
	return cmd
}

var trailingNumber = regexp.MustCompile(`(\d+)$`)

// defaultHTTP is 127.0.0.1:8080+N for an id ending in N (node-3: 8083).
func defaultHTTP(id string) string {
	port := 8080
	if m := trailingNumber.FindString(id); m != "" {
		if n, err := strconv.Atoi(m); err == nil && n < 1000 {
			port += n
		}
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// ephemeralRange is ports.Ephemeral; tests replace it.
var ephemeralRange = ports.Ephemeral

// checkHTTPPort checks the port of the HTTP listen address addr against the
// kernel's ephemeral port range eph, where an outgoing connection can hold
// the port when the node binds it ("bind: address already in use"). A
// computed default (computed: no --http given) in the range is an error
// naming --http; a configured port there only returns a warning, since it
// may be chosen deliberately. Port 0 (any free port) passes.
func checkHTTPPort(addr string, computed bool, eph ports.Range) (warning string, err error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--http %q: want host:port: %w", addr, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", fmt.Errorf("--http %q: port %q is not 0..65535", addr, p)
	}
	if port == 0 || !eph.Contains(port) {
		return "", nil
	}
	if computed {
		return "", fmt.Errorf("--http not given and its default %s (127.0.0.1:<8080+N> for an id ending in N) is in the kernel's "+
			"ephemeral port range %v (%s), where outgoing connections can take it: set --http to a port outside it", addr, eph, ports.RangeFile)
	}
	return fmt.Sprintf("--http %s is in the kernel's ephemeral port range %v (%s): an outgoing connection can hold the port "+
		"and the bind fail with \"address already in use\"; choose a port outside it", addr, eph, ports.RangeFile), nil
}

func newLogger(format, level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	var cfg zap.Config
	switch format {
	case "auto":
		if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			cfg = zap.NewDevelopmentConfig()
		} else {
			cfg = zap.NewProductionConfig()
		}
	case "console":
		cfg = zap.NewDevelopmentConfig()
	case "json":
		cfg = zap.NewProductionConfig()
	default:
		return nil, fmt.Errorf("--log-format %q: want auto, console or json", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.DisableStacktrace = true
	cfg.Sampling = nil
	return cfg.Build()
}

func (o *nodeOpts) validate() error {
	if o.id == "" {
		return errors.New("--id is required (or STOCKSYS_ID): 1-64 characters of [A-Za-z0-9._-]")
	}
	if err := session.ValidateNodeID(o.id); err != nil {
		return fmt.Errorf("--id: %w", err)
	}
	if o.sessionTimeout < time.Second || o.sessionTimeout > 40*time.Second {
		return fmt.Errorf("--session-timeout %v: want 1s..40s", o.sessionTimeout)
	}
	if o.connectTimeout < 0 {
		return fmt.Errorf("--connect-timeout %v: want >= 0 (0 waits for ever)", o.connectTimeout)
	}
	if _, err := quote.ParseSpec(o.source); err != nil {
		return fmt.Errorf("--source: %w", err)
	}
	if o.capacity < 1 {
		return fmt.Errorf("--capacity %d: want >= 1", o.capacity)
	}
	if o.flapLosses == 0 || o.flapLosses < -1 {
		return fmt.Errorf("--flap-losses %d: want >= 1, or -1 to disable flap damping", o.flapLosses)
	}
	if o.flapWindow <= 0 || o.flapCordon <= 0 {
		return fmt.Errorf("--flap-window %v / --flap-cordon %v: want positive durations", o.flapWindow, o.flapCordon)
	}
	if o.maxMoves < -1 {
		return fmt.Errorf("--max-moves-in-flight %d: want >= 1, 0 (a quarter of the tasks) or -1 for no bound", o.maxMoves)
	}
	if o.partitions < 1 || o.partitions > 10000 {
		return fmt.Errorf("--partitions %d: want 1..10000", o.partitions)
	}
	if o.replication < 1 || o.replication > 32767 {
		return fmt.Errorf("--replication %d: want >= 1", o.replication)
	}
	if o.cassReplicas < 1 {
		return fmt.Errorf("--cassandra-replication %d: want >= 1", o.cassReplicas)
	}
	if _, err := store.ParseConsistency(o.consistency); err != nil {
		return fmt.Errorf("--consistency: %w", err)
	}
	if o.http != "" {
		if _, _, err := net.SplitHostPort(o.http); err != nil {
			return fmt.Errorf("--http %q: want host:port: %w", o.http, err)
		}
	}
	for flag, t := range map[string]string{"--topic": o.topic, "--dlq-topic": o.dlqTopic} {
		if !kafkaTopicRE.MatchString(t) || t == "." || t == ".." {
			return fmt.Errorf("%s %q: a Kafka topic is 1-249 characters of [A-Za-z0-9._-]", flag, t)
		}
	}
	if o.topic == o.dlqTopic {
		return fmt.Errorf("--dlq-topic %q: must differ from --topic", o.dlqTopic)
	}
	sc := store.DefaultConfig()
	sc.Keyspace, sc.Consistency = o.keyspace, o.consistency
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("--keyspace/--consistency: %w", err)
	}
	if _, err := newLogger(o.logFormat, o.logLevel); err != nil {
		return err
	}
	return nil
}

var kafkaTopicRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,249}$`)

// hostPorts checks a comma-separated host:port list given to flag.
func hostPorts(flag, list string) error {
	for _, a := range strings.Split(list, ",") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(a))
		if err != nil || host == "" {
			return fmt.Errorf("--%s %q: want host:port[,host:port...]", flag, list)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("--%s %q: port %q is not 1..65535", flag, list, port)
		}
	}
	return nil
}

func runNode(cmd *cobra.Command, g *globals, o *nodeOpts) error {
	if err := o.validate(); err != nil {
		return err
	}
	if _, err := g.root(); err != nil {
		return err
	}
	for flag, v := range map[string]string{"zk": g.zk, "kafka": g.kafka, "cassandra": g.cassandra} {
		if err := hostPorts(flag, v); err != nil {
			return err
		}
	}
	zkAuth, zkACL, err := g.zkIdentity()
	if err != nil {
		return err
	}
	scfg, err := g.streamConfig()
	if err != nil {
		return err
	}
	cc, err := g.storeConfig()
	if err != nil {
		return err
	}
	srcOpts, err := sourceOptions(o)
	if err != nil {
		return err
	}
	computed := o.http == ""
	if computed {
		o.http = defaultHTTP(o.id)
	}
	eph, _ := ephemeralRange() // LinuxDefault if unreadable
	httpWarning, err := checkHTTPPort(o.http, computed, eph)
	if err != nil {
		return err
	}
	if o.dryRun {
		if httpWarning != "" {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+httpWarning)
		}
		settings := map[string]string{}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name != "help" && f.Name != "dry-run" {
				settings[f.Name] = f.Value.String()
			}
		})
		return writeJSON(cmd.OutOrStdout(), settings)
	}
	log, err := newLogger(o.logFormat, o.logLevel)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	if httpWarning != "" {
		log.Warn("node: "+httpWarning, zap.String("node", o.id), zap.String("http", o.http))
	}
	var apiToken string
	if o.apiTokenFile != "" {
		b, err := os.ReadFile(o.apiTokenFile)
		if err != nil {
			return fmt.Errorf("--api-token-file: %w", err)
		}
		if apiToken = strings.TrimSpace(string(b)); apiToken == "" || strings.ContainsAny(apiToken, " \t\r\n") {
			return fmt.Errorf("--api-token-file %s: want one token (no blanks) in the file", o.apiTokenFile)
		}
	}
	if !o.placeholder {
		// A reachable server that refuses the TLS handshake or the login
		// is a setting error: exit now, naming it, instead of retrying
		// for ever. A server that is down or slow is retried as before.
		ctx, cancel := context.WithTimeout(context.Background(), 2*loginCheckTimeout)
		for _, check := range []func() (bool, error){
			func() (bool, error) { return g.checkKafkaLogin(scfg) },
			func() (bool, error) { return g.checkCassandraLogin(ctx, cc) },
		} {
			if fatal, err := check(); fatal {
				cancel()
				return err
			} else if err != nil {
				log.Warn("node: login check at start: "+err.Error(), zap.String("node", o.id))
			}
		}
		cancel()
	}
	ln, err := net.Listen("tcp", o.http)
	if err != nil {
		return fmt.Errorf("--http %s: %w", o.http, err)
	}

	// The data path: Kafka producer (connects lazily) and Cassandra store
	// (opened in the background, retried until it answers).
	var data *node.DataConfig
	if !o.placeholder {
		scfg.Topic, scfg.DLQTopic = o.topic, o.dlqTopic
		scfg.Partitions, scfg.ReplicationFactor = int32(o.partitions), int16(o.replication)
		scfg.ClientID = "stocksys-" + o.id
		// Ingest applies the fetch side's checks again: the topic may hold
		// other producers' messages (README, "Checks at ingest").
		scfg.CheckQuote = func(q quote.Quote) error { return quote.Validate(q, time.Now()) }
		cc.Keyspace, cc.ReplicationFactor, cc.Consistency = o.keyspace, o.cassReplicas, o.consistency
		data = &node.DataConfig{Stream: scfg, Store: cc, Sources: srcOpts, FetchTransactions: o.fetchTx, TransactionCluster: g.cluster}
	}
	var trail *audit.Writer
	if o.audit != "" {
		if trail, err = audit.Open(audit.Config{Path: o.audit, Node: o.id}); err != nil {
			_ = ln.Close()
			return fmt.Errorf("--audit: %w", err)
		}
		defer trail.Close() // after the process: its last commits are recorded
	}
	proc, err := node.NewProcess(node.ProcessConfig{Listener: ln, Data: data, Node: node.Config{Audit: trail, ID: o.id, Cluster: g.cluster,
		ZK: strings.Split(g.zk, ","), ZKAuth: zkAuth, ZKACL: zkACL, SessionTimeout: o.sessionTimeout,
		ConnectTimeout: o.connectTimeout, Addr: ln.Addr().String(), Version: version, Capacity: o.capacity, MaxMovesInFlight: o.maxMoves,
		APIToken: apiToken, DefaultSource: o.source, FlapLosses: o.flapLosses, FlapWindow: o.flapWindow, FlapCordon: o.flapCordon, Logger: log}})
	if err != nil {
		_ = ln.Close()
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	log.Info("node: starting", zap.String("node", o.id), zap.String("http", ln.Addr().String()),
		zap.String("zk", g.zk), zap.String("cluster", g.cluster), zap.Duration("session_timeout", o.sessionTimeout))
	// Every goroutine of the node process is started and waited for by
	// proc.Run (package node, Process).
	if err := proc.Run(ctx); err != nil {
		return err
	}
	log.Info("node: exiting", zap.String("node", o.id))
	return nil
}

// sourceOptions returns the HTTP sources' settings of the node's flags:
// the Yahoo and Alpha Vantage base URLs (http or https, with a host; a
// trailing slash dropped) and the Alpha Vantage key read from
// --alphavantage-key-file (one key, no blanks; unset: the environment's).
// Errors name the flag and the value (never the key).
func sourceOptions(o *nodeOpts) (quote.Options, error) {
	var so quote.Options
	for _, u := range []struct {
		flag, v string
		dst     *string
	}{{"yahoo-url", o.yahooURL, &so.YahooBaseURL}, {"alphavantage-url", o.avURL, &so.AlphaVantageBaseURL}} {
		pu, err := url.Parse(u.v)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" {
			return so, fmt.Errorf("--%s %q: want an http or https URL with a host and no query, e.g. %s", u.flag, u.v, map[string]string{
				"yahoo-url": quote.DefaultYahooBaseURL, "alphavantage-url": quote.DefaultAVBaseURL}[u.flag])
		}
		*u.dst = strings.TrimRight(u.v, "/")
	}
	if o.avKeyFile != "" {
		b, err := os.ReadFile(o.avKeyFile)
		if err != nil {
			return so, fmt.Errorf("--alphavantage-key-file: %w", err)
		}
		if so.AlphaVantageKey = strings.TrimSpace(string(b)); so.AlphaVantageKey == "" || strings.ContainsAny(so.AlphaVantageKey, " \t\r\n") {
			return so, fmt.Errorf("--alphavantage-key-file %s: want one key (no blanks) in the file", o.avKeyFile)
		}
	}
	return so, nil
}
