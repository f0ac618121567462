package verify

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/stock-system/stocksys/audit"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
)

// CommitSummary describes the commits check's findings: the Cassandra
// commits (offsets and checkpoints) the nodes' audit trails record.
type CommitSummary struct {
	Commits  int `json:"commits"`  // commit records in the trails
	Accepted int `json:"accepted"` // result ok
	// Refused commits carried a stale token: a higher one had committed
	// (result fenced). Each is a zombie write the token fence stopped.
	Refused int `json:"refused"`
	Failed  int `json:"failed"` // result error (retried by the runner)
	Tasks   int `json:"tasks"`  // tasks with at least one commit
	// Stored counts the tasks whose row in Cassandra was compared with the
	// trail (CheckStoredTokens).
	Stored int `json:"stored,omitempty"`
}

// CheckCommits checks that no Cassandra commit with a stale task token was
// accepted: for each task, an accepted commit with token b sent after an
// accepted commit with a higher token a had been answered is a violation
// (the store's lightweight transaction, `IF epoch <= token`, should have
// refused it). Commits in flight at the same time are not ordered by the
// clocks and are not compared. O(n log n) in the commits of a task.
func CheckCommits(tr *Trail) (CommitSummary, []Violation) {
	var sum CommitSummary
	var vs []Violation
	byTask := map[string][]audit.Record{}
	for _, c := range tr.Commits {
		sum.Commits++
		switch c.Result {
		case audit.ResultOK:
			sum.Accepted++
			byTask[c.Task] = append(byTask[c.Task], c)
		case audit.ResultFenced:
			sum.Refused++
		default:
			sum.Failed++
		}
	}
	tasksSeen := map[string]bool{}
	for _, c := range tr.Commits {
		tasksSeen[c.Task] = true
	}
	sum.Tasks = len(tasksSeen)
	names := make([]string, 0, len(byTask))
	for task := range byTask {
		names = append(names, task)
	}
	sort.Strings(names)
	for _, task := range names {
		cs := byTask[task]
		bySent := append([]audit.Record(nil), cs...)
		sort.Slice(bySent, func(i, j int) bool { return bySent[i].TSent.Before(bySent[j].TSent) })
		byDone := cs
		sort.Slice(byDone, func(i, j int) bool { return byDone[i].TDone.Before(byDone[j].TDone) })
		var top audit.Record // the accepted commit with the highest token answered so far
		j := 0
		for _, c := range bySent {
			for ; j < len(byDone) && byDone[j].TDone.Before(c.TSent); j++ {
				if byDone[j].Token > top.Token {
					top = byDone[j]
				}
			}
			if c.Token < top.Token {
				vs = append(vs, Violation{"commits", fmt.Sprintf(
					"%s: a commit with stale token %d by %s (pid %d) sent %s was accepted after token %d by %s (pid %d) had committed at %s",
					task, c.Token, c.Node, c.PID, ts3(c.TSent), top.Token, top.Node, top.PID, ts3(top.TDone))})
			}
		}
	}
	return sum, vs
}

// TokenStore reads the token of a task's committed row (store.Store).
type TokenStore interface {
	LoadOffset(ctx context.Context, topic string, partition int32) (next, token int64, found bool, err error)
	LoadCheckpoint(ctx context.Context, symbol string) (ts time.Time, token int64, found bool, err error)
}

// CheckStoredTokens checks each task's committed row in Cassandra (the
// ingest offset of topic, or the fetch checkpoint) against the trail: its
// token must not be below the highest token the trail shows accepted for
// the task (else a stale commit overwrote a newer one). It adds the number
// of rows compared to sum.Stored.
func CheckStoredTokens(ctx context.Context, st TokenStore, topic string, tr *Trail, sum *CommitSummary) ([]Violation, error) {
	top := map[string]audit.Record{}
	for _, c := range tr.Commits {
		if c.Result == audit.ResultOK && c.Token > top[c.Task].Token {
			top[c.Task] = c
		}
	}
	names := make([]string, 0, len(top))
	for task := range top {
		names = append(names, task)
	}
	sort.Strings(names)
	var vs []Violation
	for _, task := range names {
		want := top[task]
		tk, err := tasks.ParseID(task)
		if err != nil {
			return nil, fmt.Errorf("verify: commit of task %q in the trail: %w", task, err)
		}
		var token int64
		var found bool
		switch tk.Type() {
		case tasks.TypeIngest:
			_, token, found, err = st.LoadOffset(ctx, topic, tk.Partition())
		case tasks.TypeFetch:
			_, token, found, err = st.LoadCheckpoint(ctx, string(tk.Symbol()))
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("verify: committed row of %s: %w", task, err)
		}
		sum.Stored++
		if !found || token < want.Token {
			vs = append(vs, Violation{"commits", fmt.Sprintf(
				"%s: the committed row has token %d (found %v); the trail shows token %d accepted (%s, pid %d, at %s)",
				task, token, found, want.Token, want.Node, want.PID, ts3(want.TDone))})
		}
	}
	return vs, nil
}

// LogRecord is one record of a task in a Kafka log, as CheckRecordOrder
// reads it.
type LogRecord struct {
	Partition int32
	Offset    int64
	Task      string
	Node      string
	Token     int64
}

// RecordSummary describes the records check's findings.
type RecordSummary struct {
	Topics  []string `json:"topics"`
	Records int      `json:"records"` // read (read_committed)
	// WithToken counts records with a token header; older records (and
	// those of senders that name none) are not ordered.
	WithToken int `json:"with_token"`
	Tasks     int `json:"tasks"`
	// Owners counts the (task, token) pairs seen: one per run that produced.
	Owners int `json:"owners"`
	// Tails counts the records after a successor's that the check
	// tolerated: without Kafka transactions only those of a node that was
	// SIGSTOPped (what its producer had buffered goes out at SIGCONT, and a
	// plain produce cannot be fenced). Never tolerated with transactions.
	Tails int `json:"tails,omitempty"`
}

// CheckRecordOrder checks that no record of a fenced producer is visible
// after its successor's: in each partition's log (recs in offset order per
// partition), a record of task T with token t that follows a record of T
// with a higher token is a violation. A task's records all go to one
// partition (keyed by symbol), and a new owner's token is higher than every
// earlier owner's (tasks.Paths: the zxid of the assignment write), so the
// tokens of a task only grow along its partition unless an earlier owner
// wrote after a later one had started writing. Checkpoint records (the
// checkpoint topic, keyed by task) obey the same rule. A stale record for
// which tolerate (nil: none) returns true is counted in sum.Tails instead.
func CheckRecordOrder(topic string, recs []LogRecord, sum *RecordSummary, tolerate func(LogRecord) bool) []Violation {
	var vs []Violation
	type key struct {
		part int32
		task string
	}
	top := map[key]LogRecord{}
	owners := map[string]bool{}
	tasksSeen := map[string]bool{}
	const maxReported = 20
	stale := 0
	for _, r := range recs {
		sum.Records++
		if r.Token == 0 || r.Task == "" {
			continue
		}
		sum.WithToken++
		tasksSeen[r.Task] = true
		owners[r.Task+"\x00"+strconv.FormatInt(r.Token, 10)] = true
		k := key{r.Partition, r.Task}
		t, ok := top[k]
		if !ok || r.Token > t.Token {
			top[k] = r
			continue
		}
		if r.Token < t.Token {
			if tolerate != nil && tolerate(r) {
				sum.Tails++
				continue
			}
			stale++
			if stale <= maxReported {
				vs = append(vs, Violation{"records", fmt.Sprintf(
					"%s/%d offset %d: a record of %s with token %d (%s) is visible after offset %d with token %d (%s): a fenced owner's record after its successor's",
					topic, r.Partition, r.Offset, r.Task, r.Token, r.Node, t.Offset, t.Token, t.Node)})
			}
		}
	}
	if stale > maxReported {
		vs = append(vs, Violation{"records", fmt.Sprintf("%s: %d more stale records not listed", topic, stale-maxReported)})
	}
	sum.Tasks += len(tasksSeen)
	sum.Owners += len(owners)
	return vs
}

// ReadLog reads every record of topic visible to a read_committed
// consumer, from the oldest offset to the high-water mark at the call
// (stream.ReadCommitted: aborted records and commit markers skipped, open
// transactions waited for), and returns its task, node and token headers in
// offset order per partition. A topic that does not exist returns (nil,
// false, nil). Bounded by ctx.
func ReadLog(ctx context.Context, brokers []string, topic string) ([]LogRecord, bool, error) {
	cfg := stream.DefaultConfig()
	cfg.Brokers, cfg.Topic, cfg.DLQTopic = brokers, topic, topic+".dlq"
	sc := sarama.NewConfig()
	sc.Net.DialTimeout = 5 * time.Second
	sc.Metadata.Retry.Max = 1
	c, err := sarama.NewClient(brokers, sc)
	if err != nil {
		return nil, false, fmt.Errorf("verify: kafka %s: %w", strings.Join(brokers, ","), err)
	}
	parts, err := c.Partitions(topic)
	c.Close()
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("verify: partitions of %s: %w", topic, err)
	}
	var out []LogRecord
	for _, p := range parts {
		_, err := stream.ReadCommitted(ctx, cfg, topic, p, -1, func(m stream.Record) {
			r := LogRecord{Partition: p, Offset: m.Offset}
			for _, h := range m.Headers {
				switch string(h.Key) {
				case stream.HeaderTask:
					r.Task = string(h.Value)
				case stream.HeaderNode:
					r.Node = string(h.Value)
				case stream.HeaderToken:
					r.Token, _ = strconv.ParseInt(string(h.Value), 10, 64)
				}
			}
			out = append(out, r)
		})
		if err != nil {
			return nil, false, fmt.Errorf("verify: read %s/%d: %w", topic, p, err)
		}
	}
	return out, true, nil
}

// CheckRecords reads the quotes topic and the checkpoint topic of a run
// (ReadLog) and checks their order (CheckRecordOrder).
func CheckRecords(ctx context.Context, brokers []string, topic string, tolerate func(LogRecord) bool) (RecordSummary, []Violation, error) {
	var sum RecordSummary
	var vs []Violation
	for _, t := range []string{topic, stream.Config{Topic: topic}.CheckpointTopicName()} {
		recs, found, err := ReadLog(ctx, brokers, t)
		if err != nil {
			return sum, nil, err
		}
		if !found {
			continue
		}
		sum.Topics = append(sum.Topics, t)
		vs = append(vs, CheckRecordOrder(t, recs, &sum, tolerate)...)
	}
	return sum, vs, nil
}
