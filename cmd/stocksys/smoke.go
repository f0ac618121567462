package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/IBM/sarama"
	"github.com/gocql/gocql"
	"github.com/spf13/cobra"

	"github.com/stock-system/stocksys/quote"
)

// kafkaVersion is the protocol version given to sarama; Kafka 4 removed
// request versions older than 2.1.
var kafkaVersion = sarama.V4_0_0_0

type smokeOpts struct {
	data     string
	count    int
	topic    string
	keyspace string
	timeout  time.Duration
}

func newSmokeCmd(g *globals) *cobra.Command {
	o := &smokeOpts{}
	cmd := &cobra.Command{
		Use:   "smoke",
		Short: "Push a few real quotes through Kafka into Cassandra and read them back",
		Long: `smoke checks the data path end to end on the configured servers: it reads the first
--count regular-hours bars of SPY from the Lean minute files in --data (or, when that folder
is absent, makes synthetic bars and says so), produces them to --topic with the idempotent
producer (acks=all), consumes them back from the offsets the broker assigned, writes them to
<keyspace>.quotes in Cassandra and selects them back. It exits non-zero if any quote is
missing or differs at any step.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSmoke(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.data, "data", filepath.Join("..", "shared", "data"), "folder of the real data sets (env STOCKSYS_DATA)")
	f.IntVar(&o.count, "count", 10, "number of quotes to push (1-1000)")
	f.StringVar(&o.topic, "topic", "stocksys.smoke", "Kafka topic to use (created with 3 partitions if absent)")
	f.StringVar(&o.keyspace, "keyspace", "stocksys_smoke", "Cassandra keyspace to use (created if absent, replication factor 1)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "give up on any one step after this long")
	return cmd
}

func runSmoke(cmd *cobra.Command, g *globals, o *smokeOpts) error {
	out := cmd.OutOrStdout()
	if o.count < 1 || o.count > 1000 {
		return fmt.Errorf("--count %d: must be between 1 and 1000", o.count)
	}
	qs, origin, err := smokeQuotes(o)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "source: %s (%d quotes)\n", origin, len(qs))

	brokers := strings.Split(g.kafka, ",")
	sent, err := smokeProduce(brokers, o.topic, qs)
	if err != nil {
		return fmt.Errorf("kafka %s: %w", g.kafka, err)
	}
	fmt.Fprintf(out, "kafka %s: produced %d quotes to %s (idempotent, acks=all)\n", g.kafka, len(sent), o.topic)
	got, err := smokeConsume(brokers, o.topic, sent, o.timeout)
	if err != nil {
		return fmt.Errorf("kafka %s: %w", g.kafka, err)
	}
	fmt.Fprintf(out, "kafka %s: consumed %d quotes back\n", g.kafka, len(got))

	rows, err := smokeCassandra(g.cassandra, o.keyspace, got, o.timeout)
	if err != nil {
		return fmt.Errorf("cassandra %s: %w", g.cassandra, err)
	}
	fmt.Fprintf(out, "cassandra %s: wrote %d rows to %s.quotes and read %d back\n\n", g.cassandra, len(got), o.keyspace, len(rows))

	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "symbol\tbar start (US/Eastern)\topen\thigh\tlow\tclose\tvolume\tpartition/offset\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d/%d\t\n", r.q.Symbol, r.q.TS.In(quote.Eastern).Format("2006-01-02 15:04"),
			r.q.Open, r.q.High, r.q.Low, r.q.Close, r.q.Volume, r.partition, r.offset)
	}
	tw.Flush()
	for i := range qs {
		if i >= len(rows) || rows[i].q != qs[i] {
			return fmt.Errorf("quote %d read back from Cassandra differs from the one sent (%+v)", i, qs[i])
		}
	}
	fmt.Fprintln(out, "\nok: every quote came back unchanged")
	return nil
}

// smokeQuotes returns the regular-hours SPY bars of the first Lean trade file,
// or synthetic bars when the real data is absent.
func smokeQuotes(o *smokeOpts) ([]quote.Quote, string, error) {
	files, _ := filepath.Glob(filepath.Join(o.data, "lean-spy-minute", "*_trade.zip"))
	sort.Strings(files)
	if len(files) == 0 {
		fmt.Fprintf(os.Stderr, "*** no real data in %s: using SYNTHETIC quotes (set --data or STOCKSYS_DATA) ***\n", o.data)
		r := rand.New(rand.NewPCG(1, 2))
		start := time.Date(2024, 1, 2, 14, 30, 0, 0, time.UTC)
		price := 100.0
		qs := make([]quote.Quote, o.count)
		for i := range qs {
			open := price
			price *= 1 + (r.Float64()-0.5)/100
			qs[i] = quote.Quote{Symbol: "SYNTH", TS: start.Add(time.Duration(i) * time.Minute), Open: open,
				High: max(open, price) * 1.001, Low: min(open, price) * 0.999, Close: price,
				Volume: int64(r.IntN(10000)), Source: "synthetic"}
		}
		return qs, "synthetic random walk", nil
	}
	all, err := quote.ReadLeanTradeZip(files[0], "SPY")
	if err != nil {
		return nil, "", err
	}
	var qs []quote.Quote
	for _, q := range all {
		t := q.TS.In(quote.Eastern)
		if t.Hour()*60+t.Minute() >= 9*60+30 && len(qs) < o.count {
			qs = append(qs, q)
		}
	}
	return qs, files[0], nil
}

type sentQuote struct {
	q         quote.Quote
	partition int32
	offset    int64
}

func smokeProduce(brokers []string, topic string, qs []quote.Quote) ([]sentQuote, error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafkaVersion
	cfg.ClientID = "stocksys-smoke"
	admin, err := sarama.NewClusterAdmin(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false)
	var terr *sarama.TopicError
	if err != nil && !(errors.As(err, &terr) && terr.Err == sarama.ErrTopicAlreadyExists) {
		return nil, fmt.Errorf("create topic %s: %w", topic, err)
	}

	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Net.MaxOpenRequests = 1
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	sent := make([]sentQuote, len(qs))
	for i, q := range qs {
		v, err := json.Marshal(q)
		if err != nil {
			return nil, err
		}
		p, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(q.Symbol), Value: sarama.ByteEncoder(v)})
		if err != nil {
			return nil, fmt.Errorf("produce %s %s: %w", q.Symbol, q.TS.Format(time.RFC3339), err)
		}
		sent[i] = sentQuote{q, p, off}
	}
	return sent, nil
}

func smokeConsume(brokers []string, topic string, sent []sentQuote, timeout time.Duration) ([]sentQuote, error) {
	cfg := sarama.NewConfig()
	cfg.Version = kafkaVersion
	cfg.ClientID = "stocksys-smoke"
	c, err := sarama.NewConsumer(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var got []sentQuote
	for i, s := range sent {
		pc, err := c.ConsumePartition(topic, s.partition, s.offset)
		if err != nil {
			return nil, fmt.Errorf("consume %s/%d at %d: %w", topic, s.partition, s.offset, err)
		}
		select {
		case m := <-pc.Messages():
			var q quote.Quote
			if err := json.Unmarshal(m.Value, &q); err != nil {
				pc.Close()
				return nil, fmt.Errorf("message %s/%d@%d: bad JSON: %w", topic, m.Partition, m.Offset, err)
			}
			if string(m.Key) != q.Symbol || m.Offset != s.offset {
				pc.Close()
				return nil, fmt.Errorf("message %s/%d@%d: key %q offset %d, want %q at %d", topic, m.Partition, m.Offset, m.Key, m.Offset, q.Symbol, s.offset)
			}
			got = append(got, sentQuote{q, m.Partition, m.Offset})
		case err := <-pc.Errors():
			pc.Close()
			return nil, err
		case <-time.After(timeout):
			pc.Close()
			return nil, fmt.Errorf("quote %d not read back from %s/%d@%d within %v", i, topic, s.partition, s.offset, timeout)
		}
		pc.Close()
	}
	return got, nil
}

func cassandraCluster(hosts string, timeout time.Duration) (*gocql.ClusterConfig, error) {
	c := gocql.NewCluster()
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			return nil, fmt.Errorf("--cassandra %q: %w", hosts, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return nil, fmt.Errorf("--cassandra %q: bad port %q", hosts, port)
		}
		c.Hosts = append(c.Hosts, host)
		c.Port = p
	}
	c.Consistency = gocql.One
	c.Timeout = timeout
	c.ConnectTimeout = timeout
	return c, nil
}

func smokeCassandra(hosts, keyspace string, qs []sentQuote, timeout time.Duration) ([]sentQuote, error) {
	c, err := cassandraCluster(hosts, timeout)
	if err != nil {
		return nil, err
	}
	s, err := c.CreateSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	for _, stmt := range []string{
		`CREATE KEYSPACE IF NOT EXISTS ` + keyspace + ` WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`,
		`CREATE TABLE IF NOT EXISTS ` + keyspace + `.quotes (symbol text, day date, ts timestamp,
			open double, high double, low double, close double, volume bigint, source text,
			kafka_partition int, kafka_offset bigint, PRIMARY KEY ((symbol, day), ts))`,
	} {
		if err := s.Query(stmt).Exec(); err != nil {
			return nil, err
		}
	}
	ins := `INSERT INTO ` + keyspace + `.quotes (symbol, day, ts, open, high, low, close, volume, source, kafka_partition, kafka_offset)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	for _, x := range qs {
		q := x.q
		if err := s.Query(ins, q.Symbol, q.Day(), q.TS, q.Open, q.High, q.Low, q.Close, q.Volume, q.Source, x.partition, x.offset).Exec(); err != nil {
			return nil, err
		}
	}
	var rows []sentQuote
	sel := `SELECT open, high, low, close, volume, source, kafka_partition, kafka_offset FROM ` + keyspace +
		`.quotes WHERE symbol = ? AND day = ? AND ts = ?`
	for _, x := range qs {
		r := sentQuote{q: quote.Quote{Symbol: x.q.Symbol, TS: x.q.TS}}
		if err := s.Query(sel, x.q.Symbol, x.q.Day(), x.q.TS).Scan(&r.q.Open, &r.q.High, &r.q.Low, &r.q.Close,
			&r.q.Volume, &r.q.Source, &r.partition, &r.offset); err != nil {
			return nil, fmt.Errorf("select %s %s: %w", x.q.Symbol, x.q.TS.Format(time.RFC3339), err)
		}
		r.q.TS = r.q.TS.UTC()
		rows = append(rows, r)
	}
	return rows, nil
}
