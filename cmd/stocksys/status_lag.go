package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// lagTimeout bounds one measurement of the ingest lag by `stocksys status`
// (connecting included), so that a server that does not answer delays each
// refresh by at most this much.
const lagTimeout = 5 * time.Second

// lagReader measures the ingest lag for `stocksys status`: the quotes
// topic's high-water marks from Kafka (--kafka), the offsets the ingest tasks
// committed from Cassandra (--cassandra, --keyspace). It connects on first
// use and again after a failed connection (each --watch refresh), and keeps
// its clients between refreshes. Not safe for concurrent use.
type lagReader struct {
	kafka, cassandra string // comma-separated host:port lists
	topic, keyspace  string

	offsets *stream.OffsetReader
	store   *store.Store
}

// measure sets r's ingest lag by status.MeasureLag, or records in r why it
// could not (r.LagError, the reported lag kept). It never fails the command.
// With no ingest task in r it contacts no server.
func (l *lagReader) measure(ctx context.Context, r *status.Report) {
	ingest := false
	for _, t := range r.Tasks {
		ingest = ingest || t.Type == "ingest"
	}
	if !ingest {
		return // nothing to measure: no server contacted
	}
	ctx, cancel := context.WithTimeout(ctx, lagTimeout)
	defer cancel()
	if l.offsets == nil {
		cfg := stream.DefaultConfig()
		cfg.Brokers, cfg.Topic = strings.Split(l.kafka, ","), l.topic
		cfg.SendTimeout = lagTimeout // dial timeout lagTimeout/2
		o, err := stream.NewOffsetReader(cfg)
		if err != nil {
			_ = r.NotMeasured(fmt.Errorf("kafka %s: %w", l.kafka, err))
			return
		}
		l.offsets = o
	}
	if l.store == nil {
		cfg := store.DefaultConfig()
		cfg.Hosts, cfg.Keyspace, cfg.ReadOnly = strings.Split(l.cassandra, ","), l.keyspace, true
		cfg.Timeout, cfg.ConnectTimeout = lagTimeout, lagTimeout
		s, err := store.Open(ctx, cfg)
		if err != nil {
			_ = r.NotMeasured(fmt.Errorf("cassandra %s: %w", l.cassandra, err))
			return
		}
		l.store = s
	}
	if err := status.MeasureLag(ctx, r, l.topic, l.offsets, l.store); err != nil {
		if strings.HasPrefix(r.LagError, "kafka") {
			r.LagError += " (--kafka " + l.kafka + ")"
		} else {
			r.LagError += " (--cassandra " + l.cassandra + ", --keyspace " + l.keyspace + ")"
		}
	}
}

// close closes the clients that were opened.
func (l *lagReader) close() {
	if l.offsets != nil {
		_ = l.offsets.Close()
	}
	if l.store != nil {
		l.store.Close()
	}
}
