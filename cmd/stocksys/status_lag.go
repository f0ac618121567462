package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// lagTimeout bounds one measurement of the ingest lag by `stocksys status`
// (connecting included), so that a server that does not answer (stopped,
// or paused: it accepts connections and never replies) delays each refresh
// by at most this much.
const lagTimeout = 2 * time.Second

// lagReader measures the ingest lag for `stocksys status`: the quotes
// topic's high-water marks from Kafka (--kafka), the offsets the ingest tasks
// committed from Cassandra (--cassandra, --keyspace). It connects on first
// use and again after a failed or timed-out measurement (each --watch
// refresh), and keeps its clients between refreshes. Not safe for
// concurrent use.
type lagReader struct {
	kafka, cassandra string // comma-separated host:port lists
	topic, keyspace  string
	// streamCfg and storeCfg carry the servers' TLS and logins (--kafka-*,
	// --cassandra-*); their addresses are kafka and cassandra.
	streamCfg stream.Config
	storeCfg  store.Config

	offsets *stream.OffsetReader
	store   *store.Store
}

// measure sets r's ingest lag by status.MeasureLag, or records in r why it
// could not (r.LagError, the reported lag kept). It never fails the command
// and returns within lagTimeout: the clients' own calls are not all bounded
// by a context (sarama connects and fetches metadata in NewClient), so the
// measurement runs on a copy of r in a goroutine, which is abandoned (and
// closes its clients when it ends) if it is late. With no ingest task in r
// it contacts no server.
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
	rc := *r
	rc.Tasks = slices.Clone(r.Tasks)
	rc.Stalled = slices.Clone(r.Stalled)
	offsets, st := l.offsets, l.store
	done := make(chan struct{})
	go func() {
		defer close(done)
		offsets, st = l.measureOn(ctx, &rc, offsets, st)
	}()
	select {
	case <-done:
		*r = rc
		l.offsets, l.store = offsets, st
	case <-ctx.Done():
		l.offsets, l.store = nil, nil // the late goroutine owns and closes them
		go func() {
			<-done
			if offsets != nil {
				_ = offsets.Close()
			}
			if st != nil {
				st.Close()
			}
		}()
		_ = r.NotMeasured(fmt.Errorf("kafka %s or cassandra %s did not answer within %v", l.kafka, l.cassandra, lagTimeout))
	}
}

// measureOn connects what is missing and measures into r; it returns the
// clients to keep.
func (l *lagReader) measureOn(ctx context.Context, r *status.Report, offsets *stream.OffsetReader, st *store.Store) (*stream.OffsetReader, *store.Store) {
	if offsets == nil {
		cfg := l.streamCfg
		cfg.Brokers, cfg.Topic = strings.Split(l.kafka, ","), l.topic
		cfg.SendTimeout = lagTimeout // dial timeout lagTimeout/2
		o, err := stream.NewOffsetReader(cfg)
		if err != nil {
			_ = r.NotMeasured(fmt.Errorf("kafka %s: %w", l.kafka, err))
			return nil, st
		}
		offsets = o
	}
	if st == nil {
		cfg := l.storeCfg
		cfg.Hosts, cfg.Keyspace, cfg.ReadOnly = strings.Split(l.cassandra, ","), l.keyspace, true
		cfg.Timeout, cfg.ConnectTimeout = lagTimeout, lagTimeout
		s, err := store.Open(ctx, cfg)
		if err != nil {
			_ = r.NotMeasured(fmt.Errorf("cassandra %s: %w", l.cassandra, err))
			return offsets, nil
		}
		st = s
	}
	if err := status.MeasureLag(ctx, r, l.topic, offsets, st); err != nil {
		if strings.HasPrefix(r.LagError, "kafka") {
			r.LagError += " (--kafka " + l.kafka + ")"
		} else {
			r.LagError += " (--cassandra " + l.cassandra + ", --keyspace " + l.keyspace + ")"
		}
	}
	return offsets, st
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
