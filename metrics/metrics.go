// Package metrics holds a node's Prometheus metrics (client_golang) and
// implements the counter interfaces of package pipeline.
//
// Metric names follow Prometheus conventions: the stocksys_ prefix, base
// units (seconds), _total for counters. Every metric lives in the Registry
// of one Metrics value, so several nodes in one process (tests) do not
// collide.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stock-system/stocksys/quote"
)

// Metrics is one node's metrics. Safe for concurrent use.
type Metrics struct {
	Registry *prometheus.Registry

	Role         *prometheus.GaugeVec // role{role="master|worker|starting"} = 1 for the current role
	Epoch        prometheus.Gauge     // epoch of the term this node holds, 0 when not master
	SessionState *prometheus.GaugeVec // session_state{state} = 1 for the current state
	SessionSafe  prometheus.Gauge     // 1 while the session is before its safe deadline
	TasksByState *prometheus.GaugeVec // tasks{type,state}
	Fetched      *prometheus.CounterVec
	// Flagged counts fetched quotes their source flagged, by symbol and
	// flag (quote.Quote.Flag: implausible, off_median, suspicious).
	Flagged        *prometheus.CounterVec
	Produced       *prometheus.CounterVec
	Ingested       *prometheus.CounterVec
	Rejected       *prometheus.CounterVec
	DeadLettered   *prometheus.CounterVec
	ProduceLatency prometheus.Histogram
	IngestLatency  prometheus.Histogram
	// ReadableLatency is the per-message source-emit-to-readable latency
	// (Kafka record timestamp to the message's rows and derived rows
	// written), as streaming quantiles over the last 10 minutes.
	ReadableLatency prometheus.Summary
	// IngestDelivery, IngestWait and IngestWrite split each message's
	// readable latency (ReadableLatency) into three parts that add up to
	// it, in seconds, as streaming quantiles over the last 10 minutes (see
	// pipeline.IngestStageCounters):
	//   - IngestDelivery: from the Kafka record timestamp, or from the end
	//     of the ingest's previous batch when that is later, to the
	//     message's batch being handed to the ingest, decoded (Kafka
	//     produce and fetch, the consumer's buffering and decoding);
	//   - IngestWait: from the Kafka record timestamp to the end of the
	//     ingest's previous batch, 0 when that ended first (time the ingest
	//     was busy with earlier batches; at most this much waiting, as the
	//     message's own delivery may overlap it);
	//   - IngestWrite: from the batch handed to the ingest to its rows and
	//     derived rows written in Cassandra (the same for every message of
	//     a batch, observed once per message).
	IngestDelivery prometheus.Summary
	IngestWait     prometheus.Summary
	IngestWrite    prometheus.Summary
	// FailoverSeconds is the duration of each phase of the last failover this
	// node won: phase="elected" (old term's end or its session's expiry to
	// election), "first_assignment" (election to its first fenced write).
	FailoverSeconds *prometheus.GaugeVec

	// BuildInfo is stocksys_build_info{version,goversion} = 1.
	BuildInfo *prometheus.GaugeVec
	// LastProduced is, per symbol, the Unix time (seconds) at which this
	// node last had a quote of it acknowledged by Kafka; absent for a
	// symbol it never produced. The stale-quote alert takes the max over
	// the nodes.
	LastProduced *prometheus.GaugeVec
	// IngestLag is, per partition of an ingest task running here, the
	// partition's high-water mark minus the next offset to consume
	// (messages), as the task last reported it.
	IngestLag *prometheus.GaugeVec
	// ClusterTasks counts the cluster's tasks by state (running, starting,
	// stopping, failed, unassigned, paused), exported by the master only
	// (absent on the other nodes), from its status read (every
	// ClusterEvery).
	ClusterTasks *prometheus.GaugeVec
	// SymbolTrading is, per registered symbol, 1 while quotes of it are
	// expected (its source has no trading hours: replay, synthetic; or its
	// session is open in its exchange zone, by the symbol's tz= and hours=
	// options, always for hours=24x7: quote.TradingNowOptions), else 0;
	// exported by the master only.
	SymbolTrading *prometheus.GaugeVec
	// ZKCacheReads counts the reads of cluster znodes through the node's
	// watched cache (zkapi.Cache, one per session), by result: "hit"
	// (served from memory: unchanged since it was last read) or "miss"
	// (sent to ZooKeeper).
	ZKCacheReads *prometheus.CounterVec
}

// ClusterEvery is how often the master refreshes ClusterTasks and
// SymbolTrading (a status read of the whole cluster).
const ClusterEvery = 5 * time.Second

// New returns a node's metrics in a fresh registry, with the Go and process
// collectors.
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry:     r,
		Role:         prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_role", Help: "1 for this node's current role (master, worker, starting)."}, []string{"role"}),
		Epoch:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "stocksys_epoch", Help: "Epoch of the master term this node holds; 0 when it is not master."}),
		SessionState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_session_state", Help: "1 for the ZooKeeper connection's current state."}, []string{"state"}),
		SessionSafe:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "stocksys_session_safe", Help: "1 while the session is before its safe deadline (2/3 of the session timeout since the server last answered)."}),
		TasksByState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_tasks", Help: "Tasks on this worker by type and state."}, []string{"type", "state"}),
		Fetched:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_quotes_fetched_total", Help: "Quotes returned by sources."}, []string{"symbol"}),
		Produced:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_quotes_produced_total", Help: "Quotes acknowledged by Kafka (acks=all)."}, []string{"symbol"}),
		Ingested:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_quotes_ingested_total", Help: "Quotes stored in Cassandra with their offsets committed."}, []string{"partition"}),
		Flagged: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_quotes_flagged_total",
			Help: "Quotes their source flagged (stored, left out of the bars), by symbol and flag."}, []string{"symbol", "flag"}),
		Rejected:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_quotes_rejected_total", Help: "Quotes refused by validation, by reason."}, []string{"symbol", "reason"}),
		DeadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_messages_dead_lettered_total", Help: "Messages the ingest could not decode, sent to the dead-letter topic."}, []string{"partition"}),
		ProduceLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "stocksys_produce_latency_seconds",
			Help: "Time for one Send of a batch to be acknowledged by Kafka.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		IngestLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "stocksys_ingest_latency_seconds",
			Help: "Kafka record timestamp (produced) to offset commit (readable in Cassandra), oldest quote of each batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}),
		ReadableLatency: prometheus.NewSummary(prometheus.SummaryOpts{Name: "stocksys_ingest_readable_seconds",
			Help:       "Per message: Kafka record timestamp (produced by the fetch task) to its tick or quote and every derived row written in Cassandra.",
			Objectives: map[float64]float64{0.5: 0.005, 0.9: 0.005, 0.99: 0.001, 0.999: 0.0005}, MaxAge: 10 * time.Minute, AgeBuckets: 5}),
		IngestDelivery: stageSummary("stocksys_ingest_delivery_seconds",
			"Per message: Kafka record timestamp, or the end of the ingest's previous batch if later, to its batch handed to the ingest (decoded): Kafka delivery."),
		IngestWait: stageSummary("stocksys_ingest_wait_seconds",
			"Per message: Kafka record timestamp to the end of the ingest's previous batch, 0 if that ended first: time the ingest was busy with earlier batches."),
		IngestWrite: stageSummary("stocksys_ingest_write_seconds",
			"Per message: its batch handed to the ingest to the batch's rows and derived rows written in Cassandra."),
		FailoverSeconds: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_last_failover_seconds",
			Help: "Phases of the last failover this node won as master."}, []string{"phase"}),
	}
	m.BuildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_build_info", Help: "1, labelled with the binary's version and Go version."}, []string{"version", "goversion"})
	m.LastProduced = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_last_quote_produced_timestamp_seconds",
		Help: "Unix time at which this node last had a quote of the symbol acknowledged by Kafka."}, []string{"symbol"})
	m.IngestLag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_ingest_lag_messages",
		Help: "Per partition ingested here: high-water mark minus the next offset to consume, as last reported."}, []string{"partition"})
	m.ClusterTasks = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_cluster_tasks",
		Help: "The cluster's tasks by state (running, starting, stopping, failed, unassigned, paused); exported by the master only."}, []string{"state"})
	m.SymbolTrading = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "stocksys_symbol_trading",
		Help: "1 while quotes of the symbol are expected now (a source without trading hours, or its exchange open); exported by the master only."}, []string{"symbol"})
	m.ZKCacheReads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "stocksys_zk_cache_reads_total",
		Help: "Reads of cluster znodes through the node's watched cache, by result: hit (from memory) or miss (sent to ZooKeeper)."}, []string{"result"})
	r.MustRegister(m.ZKCacheReads, m.Role, m.Epoch, m.SessionState, m.SessionSafe, m.TasksByState, m.Fetched, m.Flagged, m.Produced, m.Ingested,
		m.Rejected, m.DeadLettered, m.ProduceLatency, m.IngestLatency, m.ReadableLatency,
		m.IngestDelivery, m.IngestWait, m.IngestWrite, m.FailoverSeconds,
		m.BuildInfo, m.LastProduced, m.IngestLag, m.ClusterTasks, m.SymbolTrading)
	return m
}

// stageSummary is a per-message summary of the readable latency's split:
// the readable summary's objectives and 10-minute window.
func stageSummary(name, help string) prometheus.Summary {
	return prometheus.NewSummary(prometheus.SummaryOpts{Name: name, Help: help,
		Objectives: map[float64]float64{0.5: 0.005, 0.9: 0.005, 0.99: 0.001, 0.999: 0.0005}, MaxAge: 10 * time.Minute, AgeBuckets: 5})
}

// Fetcher returns the fetch runner's counters backed by m.
func (m *Metrics) Fetcher() *FetchCounters { return &FetchCounters{m} }

// Ingester returns the ingest runner's counters backed by m.
func (m *Metrics) Ingester() *IngestCounters { return &IngestCounters{m} }

// FetchCounters implements pipeline.Counters.
type FetchCounters struct{ m *Metrics }

// Fetched counts quotes returned by a source.
func (c *FetchCounters) Fetched(symbol string, n int) {
	c.m.Fetched.WithLabelValues(symbol).Add(float64(n))
}

// Produced counts quotes acknowledged by Kafka and observes the send latency.
func (c *FetchCounters) Produced(symbol string, n int, latency time.Duration) {
	c.m.Produced.WithLabelValues(symbol).Add(float64(n))
	c.m.LastProduced.WithLabelValues(symbol).Set(float64(time.Now().UnixNano()) / 1e9)
	c.m.ProduceLatency.Observe(latency.Seconds())
}

// Rejected counts a quote refused by validation.
func (c *FetchCounters) Rejected(symbol string, reason quote.RejectReason) {
	c.m.Rejected.WithLabelValues(symbol, string(reason)).Inc()
}

// Flagged counts a fetched quote its source flagged.
func (c *FetchCounters) Flagged(symbol, flag string) {
	c.m.Flagged.WithLabelValues(symbol, flag).Inc()
}

// IngestCounters implements pipeline.IngestCounters.
type IngestCounters struct{ m *Metrics }

// Ingested counts stored quotes and observes the end-to-end latency.
func (c *IngestCounters) Ingested(partition int32, n int, latency time.Duration) {
	c.m.Ingested.WithLabelValues(itoa(partition)).Add(float64(n))
	// The partition's dead-letter count from 0, so that increase() sees
	// its first dead letter (a series born at 1 shows no increase).
	c.m.DeadLettered.WithLabelValues(itoa(partition)).Add(0)
	c.m.IngestLatency.Observe(latency.Seconds())
}

// Readable observes the source-emit-to-readable latency of one message.
func (c *IngestCounters) Readable(partition int32, latency time.Duration) {
	c.m.ReadableLatency.Observe(latency.Seconds())
}

// IngestStages observes the split of one message's readable latency, in
// the summaries stocksys_ingest_{delivery,wait,write}_seconds; it
// implements pipeline.IngestStageCounters.
func (c *IngestCounters) IngestStages(partition int32, delivery, wait, write time.Duration) {
	c.m.IngestDelivery.Observe(delivery.Seconds())
	c.m.IngestWait.Observe(wait.Seconds())
	c.m.IngestWrite.Observe(write.Seconds())
}

// DeadLettered counts messages sent to the dead-letter topic
// (stocksys_messages_dead_lettered_total{partition}); the task's last error
// says the same per run (pipeline.DeadLetterError).
func (c *IngestCounters) DeadLettered(partition int32, n int) {
	c.m.DeadLettered.WithLabelValues(itoa(partition)).Add(float64(n))
}

func itoa(p int32) string { return strconv.Itoa(int(p)) }
