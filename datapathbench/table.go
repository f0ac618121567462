package datapathbench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable prints r as a Markdown table.
func WriteTable(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "\ndatapath benchmark, run %s: %d %s trade ticks of %s, 2 nodes, %d CPUs, %.0f s in all\n\n",
		r.Run, r.Ticks, Symbol, TickDay, r.CPUs, r.TotalSecs)
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	row := func(measure, value, detail string) { fmt.Fprintf(tw, "| %s\t| %s\t| %s\t|\n", measure, value, detail) }
	row("measure", "value", "detail")
	row("---", "---", "---")
	rg := r.RawGocql
	row("raw gocql writes (raw_gocql_rows_per_s)", fmt.Sprintf("%.0f rows/s", r.RawGocqlRowsPerS),
		fmt.Sprintf("%d rows, %d UNLOGGED one-partition batches <= %d B est., %d in flight, ONE, %.2f s; COUNT %d; machine %.0f%% busy",
			rg.Rows, rg.Batches, StoreBatchMaxBytes, StoreWriteParallelism, rg.Seconds, rg.Stored, rg.MachineBusyPct))
	fk, fc := r.FloorKafka, r.FloorCassandra
	row("floor: raw sarama produce->consume p50 / p99", fmt.Sprintf("%.2f / %.2f ms", fk.P50Ms, fk.P99Ms),
		fmt.Sprintf("%d msgs at %d/s, SyncProducer idempotent acks=all, partition consumer; max %.2f ms", fk.N, fk.Rate, fk.MaxMs))
	row("floor: raw single-row Cassandra INSERT p50 / p99", fmt.Sprintf("%.2f / %.2f ms", fc.P50Ms, fc.P99Ms),
		fmt.Sprintf("%d inserts at %d/s, ONE; max %.2f ms", fc.N, fc.Rate, fc.MaxMs))
	p := r.Pipeline
	row("pipeline throughput (pipeline_rows_per_s)", fmt.Sprintf("%.0f rows/s", r.PipelineRowsPerS),
		fmt.Sprintf("speed=max; n_first %.0f, all %d %.2f s later (%d scrapes); fetch side %.0f rows/s; stored COUNT %d; ingest on %s, p50/p99 %.0f/%.0f ms at full speed",
			p.NFirst, p.Rows, p.Seconds, p.Scrapes, p.Produced, p.Stored, p.Ingester, p.P50Ms, p.P99Ms))
	row("pipeline CPU, symbol added -> all ingested", fmtCPU(p.NodeCPUSeconds), fmt.Sprintf("machine %.0f%% busy (servers included)", p.MachineBusyPct))
	for _, l := range r.Latency {
		pct := 100 * l.Share
		row(fmt.Sprintf("pipeline readable latency p50 / p99 at %.0f%%", pct), fmt.Sprintf("%.1f / %.1f ms", l.P50Ms, l.P99Ms),
			fmt.Sprintf("rate=%d rows/s for %.1f s: %.0f produced, %.0f ingested; summary of %s (n=%.0f, mean %.1f ms); per batch p99: produce %.0f ms, oldest msg -> offset commit %.0f ms",
				l.Rate, l.Seconds, l.Produced, l.Ingested, l.Node, l.Count, l.MeanMs, l.ProduceP99Ms, l.IngestBatchP99Ms))
		row(fmt.Sprintf("  readable split at %.0f%% p99: delivery / wait / write", pct),
			fmt.Sprintf("%.1f / %.1f / %.1f ms", l.Delivery.P99Ms, l.Wait.P99Ms, l.Write.P99Ms),
			fmt.Sprintf("per message, delivery + wait + write = readable; p50 %.1f / %.1f / %.1f ms, mean %.1f / %.1f / %.1f ms (delivery: Kafka ts or ingest free -> batch handed to ingest; wait: Kafka ts -> previous batch done; write: batch -> rows written)",
				l.Delivery.P50Ms, l.Wait.P50Ms, l.Write.P50Ms, l.Delivery.MeanMs, l.Wait.MeanMs, l.Write.MeanMs))
		fk, fc := l.FloorKafka, l.FloorCassandra
		row(fmt.Sprintf("  floor beside the %.0f%% load: raw sarama produce->consume p50 / p99 (floor_kafka_p50/p99_ms_at_%.0fpct)", pct, pct), fmt.Sprintf("%.2f / %.2f ms", fk.P50Ms, fk.P99Ms),
			fmt.Sprintf("%d msgs at %d/s for %.1f s during the load, as the idle floor (own topic); max %.2f ms", fk.N, fk.Rate, l.FloorSeconds, fk.MaxMs))
		row(fmt.Sprintf("  floor beside the %.0f%% load: raw single-row Cassandra INSERT p50 / p99 (floor_cassandra_p50/p99_ms_at_%.0fpct)", pct, pct), fmt.Sprintf("%.2f / %.2f ms", fc.P50Ms, fc.P99Ms),
			fmt.Sprintf("%d inserts at %d/s for %.1f s during the load, as the idle floor (own rows); max %.2f ms", fc.N, fc.Rate, l.FloorSeconds, fc.MaxMs))
	}
	row("throughput_ratio (pipeline / raw gocql)", fmt.Sprintf("%.3f", r.ThroughputRatio), "")
	row("latency_ratio (p99 at 50% / (Kafka p99 + Cassandra p99))", fmt.Sprintf("%.1f", r.LatencyRatio),
		fmt.Sprintf("%.1f / (%.2f + %.2f) ms, idle floors", r.PipelineP99MsAt50pct, r.FloorKafkaP99Ms, r.FloorCassandraP99Ms))
	row("latency_ratio_loaded (p99 at 50% / floors' p99 beside that load)", fmt.Sprintf("%.1f", r.LatencyRatioLoaded),
		fmt.Sprintf("%.1f / (%.2f + %.2f) ms", r.PipelineP99MsAt50pct, r.FloorKafkaP99MsAt50pct, r.FloorCassandraP99MsAt50pct))
	row("node RSS after the throughput phase (rss_mib)", fmtMiB(r.RSSMiB), "VmRSS")
	if m := r.Memory; m != nil {
		state := "all"
		if !m.Complete {
			state = "NOT all"
		}
		row(fmt.Sprintf("memory phase: %d symbols at once (memory_rss_mib_max)", len(m.Symbols)), fmt.Sprintf("%.0f MiB", r.MemoryRSSMiBMax),
			fmt.Sprintf("peak %s; final %s; %s rows ingested: %d of %d in %.1f s (%s)", fmtMiB(m.PeakMiB), fmtMiB(m.FinalMiB), state,
				m.Ingested, m.Expected, m.Seconds, strings.Join(m.Symbols, " ")))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	fmt.Fprintf(w, "node logs: %s\n", r.LogDir)
	return nil
}
