package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// txTestCluster returns a cluster name unique to this run, so that the
// transactional ids of one run never meet those of another (the coordinator
// keeps them for transactional.id.expiration.ms, 7 days).
func txTestCluster(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("t%d", time.Now().UnixNano())
}

func newTestTxProducer(t *testing.T, cfg Config, cluster, task string) *TxProducer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := NewTxProducer(ctx, cfg, cluster, task)
	if err != nil {
		t.Fatalf("NewTxProducer(%s, %s): %v", cluster, task, err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// quoteReader consumes partition 0 of cfg.Topic from offset 0 with
// ConsumePartition and records every quote, in order.
type quoteReader struct {
	mu   sync.Mutex
	msgs []Message
	stop func() error
}

func readQuotes(t *testing.T, cfg Config, readCommitted bool) *quoteReader {
	t.Helper()
	cfg.ReadCommitted = readCommitted
	r := &quoteReader{}
	r.stop = startConsumer(t, cfg, 0, 0, func(_ context.Context, b Batch) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.msgs = append(r.msgs, b.Quotes...)
		return nil
	})
	return r
}

// waitFor waits until some consumed quote has symbol sym, and returns all
// consumed so far.
func (r *quoteReader) waitFor(t *testing.T, sym string, timeout time.Duration) []Message {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		for _, m := range r.msgs {
			if m.Quote.Symbol == sym {
				out := append([]Message(nil), r.msgs...)
				r.mu.Unlock()
				return out
			}
		}
		n := len(r.msgs)
		r.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s quote consumed within %v (%d quotes consumed)", sym, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *quoteReader) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

// countBySymbol counts msgs per symbol.
func countBySymbol(msgs []Message) map[string]int {
	out := map[string]int{}
	for _, m := range msgs {
		out[m.Quote.Symbol]++
	}
	return out
}

// sendSentinel writes one non-transactional END quote: once a read_committed
// consumer of the one-partition topic sees it, it has seen every committed
// record before it (and the last stable offset has passed every transaction
// begun before it).
func sendSentinel(t *testing.T, cfg Config) {
	t.Helper()
	p := newTestProducer(t, cfg)
	q := testQuotes(1, "END")
	if err := p.Send(context.Background(), 1, "test", "fetch/END", q); err != nil {
		t.Fatalf("sentinel: %v", err)
	}
}

// holdCommit makes p's next transaction stop before its commit: hold is
// closed when its records are acknowledged, and the commit goes on (nil) or
// aborts (an error) with what is sent on release. Cleanup releases it, so
// that a failed test does not hang in Close.
func holdCommit(t *testing.T, p *TxProducer) (hold chan struct{}, release chan error) {
	t.Helper()
	hold, release = make(chan struct{}), make(chan error)
	done := make(chan struct{})
	p.beforeCommit = func() error {
		close(hold)
		select {
		case err := <-release:
			return err
		case <-done:
			return errors.New("test cleanup")
		}
	}
	t.Cleanup(func() { close(done) })
	return hold, release
}

func mustReadCheckpoint(t *testing.T, cfg Config, task string) (Checkpoint, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cp, found, err := ReadCheckpoint(ctx, cfg, task)
	if err != nil {
		t.Fatalf("ReadCheckpoint(%s): %v", task, err)
	}
	return cp, found
}

// TestIntegration_TxSendCommitted: one transaction of N quotes and a
// checkpoint; a read_committed consumer sees exactly the N quotes, with the
// headers of Producer.Send; ReadCheckpoint returns the checkpoint; a second
// transaction moves it; a transaction with quotes only leaves it.
func TestIntegration_TxSendCommitted(t *testing.T) {
	cfg := testConfig(t, 1)
	cluster := txTestCluster(t)
	ctx := context.Background()
	if _, found := mustReadCheckpoint(t, cfg, "fetch/SPY"); found {
		t.Fatal("checkpoint found before any was written")
	}
	p := newTestTxProducer(t, cfg, cluster, "fetch/SPY")
	if want := "stocksys." + cluster + ".fetch.SPY"; p.TransactionalID() != want {
		t.Fatalf("TransactionalID = %q, want %q", p.TransactionalID(), want)
	}
	const n = 250
	qs := testQuotes(n, "SPY")
	pos := qs[n-1].Position()
	// o.Task is ignored: the producer's task is used.
	if err := p.SendFrom(ctx, Origin{Epoch: 7, Token: 4294967302, Node: "node-1", Task: "fetch/QQQ"}, qs, pos); err != nil {
		t.Fatalf("Send: %v", err)
	}
	cp, found := mustReadCheckpoint(t, cfg, "fetch/SPY")
	if !found || !cp.Position.Equal(pos) || cp.Task != "fetch/SPY" || cp.Epoch != 7 || cp.Token != 4294967302 || cp.Node != "node-1" ||
		cp.Written.IsZero() || cp.Position.Location() != time.UTC {
		t.Fatalf("ReadCheckpoint = %+v, %v; want position %v epoch 7 node-1", cp, found, pos)
	}

	sendSentinel(t, cfg)
	r := readQuotes(t, cfg, true)
	got := r.waitFor(t, "END", 30*time.Second)
	if c := countBySymbol(got); c["SPY"] != n || len(got) != n+1 {
		t.Fatalf("read_committed consumer saw %v (%d quotes); want %d SPY + END", c, len(got), n)
	}
	for i, m := range got[:n] {
		if !equalQuotes(m.Quote, qs[i]) || m.Epoch != 7 || m.Token != 4294967302 || m.Node != "node-1" || m.Task != "fetch/SPY" {
			t.Fatalf("quote %d = %+v (epoch %d token %d node %q task %q); want %+v epoch 7 token 4294967302 node-1 fetch/SPY",
				i, m.Quote, m.Epoch, m.Token, m.Node, m.Task, qs[i])
		}
	}

	// A second transaction moves the checkpoint (nanoseconds kept: Seq).
	more := testQuotes(2*n, "SPY")[n:]
	more[len(more)-1].Seq = 3
	pos2 := more[len(more)-1].Position()
	if err := p.Send(ctx, 8, "node-2", more, pos2); err != nil {
		t.Fatalf("Send 2: %v", err)
	}
	// Quotes without a checkpoint leave it where it is.
	if err := p.Send(ctx, 8, "node-2", testQuotes(3, "QQQ"), time.Time{}); err != nil {
		t.Fatalf("Send 3: %v", err)
	}
	cp2, found := mustReadCheckpoint(t, cfg, "fetch/SPY")
	if !found || !cp2.Position.Equal(pos2) || cp2.Epoch != 8 || cp2.Token != 0 || cp2.Node != "node-2" || cp2.Offset <= cp.Offset {
		t.Fatalf("ReadCheckpoint after the second send = %+v; want position %v epoch 8 node-2 after offset %d", cp2, pos2, cp.Offset)
	}
	if _, found := mustReadCheckpoint(t, cfg, "fetch/QQQ"); found {
		t.Fatal("checkpoint of another task found")
	}
}

// TestIntegration_TxUncommittedInvisible: the records of a transaction still
// open are written (a read_uncommitted consumer sees them) but invisible to
// read_committed, and stay invisible once it is aborted; its checkpoint is
// never returned; the producer goes on with the next transaction, of which
// read_committed sees exactly its quotes.
func TestIntegration_TxUncommittedInvisible(t *testing.T) {
	cfg := testConfig(t, 1)
	cluster := txTestCluster(t)
	ctx := context.Background()
	p := newTestTxProducer(t, cfg, cluster, "fetch/SPY")
	first := testQuotes(5, "SPY")
	if err := p.Send(ctx, 1, "node-1", first, first[4].Position()); err != nil {
		t.Fatal(err)
	}

	hold, release := holdCommit(t, p)
	const n = 40
	aborted := testQuotes(n, "ABRT")
	sendErr := make(chan error, 1)
	go func() { sendErr <- p.Send(ctx, 2, "node-1", aborted, aborted[n-1].Position()) }()
	<-hold // the records are acknowledged; the transaction is open

	uncommitted := readQuotes(t, cfg, false)
	committed := readQuotes(t, cfg, true)
	deadline := time.Now().Add(20 * time.Second)
	for countBySymbol(uncommitted.waitFor(t, "ABRT", 20*time.Second))["ABRT"] < n {
		if time.Now().After(deadline) {
			t.Fatal("read_uncommitted consumer did not see the open transaction's records")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Second) // give read_committed every chance to see them
	if c := committed.count(); c != 5 {
		t.Fatalf("read_committed consumer saw %d quotes while the transaction was open; want the 5 committed", c)
	}
	// ReadCheckpoint waits for the open transaction to be decided.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	cp, found, err := ReadCheckpoint(short, cfg, "fetch/SPY")
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadCheckpoint during the open transaction = %+v, %v, %v; want it to wait (DeadlineExceeded)", cp, found, err)
	}
	readErr := make(chan error, 1)
	go func() {
		cp, found, err := ReadCheckpoint(ctx, cfg, "fetch/SPY")
		if err == nil && (!found || !cp.Position.Equal(first[4].Position())) {
			err = fmt.Errorf("got %+v, %v; want the first checkpoint, %v", cp, found, first[4].Position())
		}
		readErr <- err
	}()

	release <- errors.New("test abort")
	if err := <-sendErr; !errors.Is(err, ErrTxAborted) || !strings.Contains(err.Error(), "test abort") {
		t.Fatalf("Send with an aborted transaction = %v; want ErrTxAborted", err)
	}
	if err := <-readErr; err != nil {
		t.Fatalf("ReadCheckpoint waiting through the aborted transaction: %v", err)
	}
	p.beforeCommit = nil
	next := testQuotes(7, "NEXT")
	if err := p.Send(ctx, 3, "node-1", next, next[6].Position()); err != nil {
		t.Fatalf("Send after an abort: %v", err)
	}
	sendSentinel(t, cfg)
	got := committed.waitFor(t, "END", 30*time.Second)
	if c := countBySymbol(got); c["SPY"] != 5 || c["ABRT"] != 0 || c["NEXT"] != 7 || len(got) != 13 {
		t.Fatalf("read_committed consumer saw %v; want 5 SPY, 0 ABRT, 7 NEXT, END", c)
	}
	cp, found = mustReadCheckpoint(t, cfg, "fetch/SPY")
	if !found || !cp.Position.Equal(next[6].Position()) || cp.Epoch != 3 {
		t.Fatalf("ReadCheckpoint after the abort = %+v, %v; want position %v epoch 3", cp, found, next[6].Position())
	}
}

// TestIntegration_TxZombieFenced: producer A (transactional id X) commits a
// transaction; producer B with the same id initialises (a new owner); A's
// next Send fails with ErrProducerFenced, and so does every later one. A
// zombie caught mid-transaction (its records written, not committed, when B
// initialises) fails to commit with ErrProducerFenced too. A read_committed
// consumer sees A's first transaction, none of A's records after B's
// initialisation, and all of B's; the checkpoint is B's.
func TestIntegration_TxZombieFenced(t *testing.T) {
	cfg := testConfig(t, 1)
	cluster := txTestCluster(t)
	ctx := context.Background()

	a := newTestTxProducer(t, cfg, cluster, "fetch/SPY")
	a1 := testQuotes(10, "AONE")
	if err := a.Send(ctx, 5, "node-a", a1, a1[9].Position()); err != nil {
		t.Fatal(err)
	}
	b := newTestTxProducer(t, cfg, cluster, "fetch/SPY")
	if err := a.Send(ctx, 5, "node-a", testQuotes(10, "ATWO"), time.Now()); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("zombie Send after the new owner's init = %v; want ErrProducerFenced", err)
	}
	if err := a.Send(ctx, 5, "node-a", testQuotes(1, "ATWO"), time.Time{}); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("second zombie Send = %v; want ErrProducerFenced again", err)
	}
	b1 := testQuotes(20, "BONE")
	if err := b.Send(ctx, 5, "node-b", b1, b1[19].Position()); err != nil {
		t.Fatalf("new owner's Send: %v", err)
	}

	// B becomes the zombie mid-transaction: C initialises while B's records
	// are written and its commit has not been sent.
	hold, release := holdCommit(t, b)
	bErr := make(chan error, 1)
	b2 := testQuotes(15, "BTWO")
	go func() { bErr <- b.Send(ctx, 5, "node-b", b2, b2[14].Position()) }()
	<-hold
	c := newTestTxProducer(t, cfg, cluster, "fetch/SPY") // aborts B's open transaction
	release <- nil
	if err := <-bErr; !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("mid-transaction zombie's commit = %v; want ErrProducerFenced", err)
	}
	c1 := testQuotes(8, "CONE")
	if err := c.Send(ctx, 6, "node-c", c1, c1[7].Position()); err != nil {
		t.Fatalf("third owner's Send: %v", err)
	}

	sendSentinel(t, cfg)
	got := readQuotes(t, cfg, true).waitFor(t, "END", 30*time.Second)
	want := map[string]int{"AONE": 10, "BONE": 20, "CONE": 8, "END": 1}
	if c := countBySymbol(got); fmt.Sprint(c) != fmt.Sprint(want) {
		t.Fatalf("read_committed consumer saw %v; want %v (no ATWO, no BTWO)", c, want)
	}
	cp, found := mustReadCheckpoint(t, cfg, "fetch/SPY")
	if !found || !cp.Position.Equal(c1[7].Position()) || cp.Node != "node-c" {
		t.Fatalf("checkpoint = %+v, %v; want the third owner's, %v", cp, found, c1[7].Position())
	}
}

// TestTxProducerBadInput: invalid cluster names and task ids are refused
// before any connection, with an error naming them; a bad TxTimeout too.
func TestTxProducerBadInput(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:1"} // never contacted
	for _, tt := range []struct{ cluster, task, want string }{
		{"default", "fetch/spy", `task id "fetch/spy"`},     // not canonical
		{"default", "fetch/SP Y", `task id "fetch/SP Y"`},   // bad symbol
		{"default", "SPY", `task id "SPY"`},                 // no type
		{"default", "", `task id ""`},                       // empty
		{"default", "fetch/", `task id "fetch/"`},           // no symbol
		{"default", "refetch/SPY", `task id "refetch/SPY"`}, // unknown type
		{"", "fetch/SPY", `cluster ""`},
		{"a/b", "fetch/SPY", `cluster "a/b"`},
		{strings.Repeat("c", 65), "fetch/SPY", `cluster "ccc`},
	} {
		_, err := TransactionalID(tt.cluster, tt.task)
		if !errors.Is(err, ErrInvalidTransactionalID) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("TransactionalID(%q, %q) = %v; want ErrInvalidTransactionalID naming %s", tt.cluster, tt.task, err, tt.want)
		}
		p, err := NewTxProducer(context.Background(), cfg, tt.cluster, tt.task)
		if p != nil || !errors.Is(err, ErrInvalidTransactionalID) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewTxProducer(%q, %q) = %v; want ErrInvalidTransactionalID naming %s", tt.cluster, tt.task, err, tt.want)
		}
	}
	for _, tt := range []struct{ cluster, task, want string }{
		{"default", "fetch/BRK-B", "stocksys.default.fetch.BRK-B"},
		{"p.demo-1", "fetch/^GSPC", "stocksys.p.demo-1.fetch.^GSPC"},
		{"x", "ingest/3", "stocksys.x.ingest.3"},
	} {
		if got, err := TransactionalID(tt.cluster, tt.task); err != nil || got != tt.want {
			t.Errorf("TransactionalID(%q, %q) = %q, %v; want %q", tt.cluster, tt.task, got, err, tt.want)
		}
	}
	cfg.TxTimeout = cfg.SendTimeout
	if _, err := NewTxProducer(context.Background(), cfg, "default", "fetch/SPY"); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("NewTxProducer with TxTimeout = SendTimeout: %v; want ErrInvalidConfig", err)
	}
}

// TestIntegration_ReadCommittedCountsWhatIsLeft: after two committed
// transactions of 5 quotes and one aborted (fenced) of 3, the high-water
// mark counts the commit markers and the aborted records too, while
// ReadCommitted returns exactly the 10 committed quotes, and none from the
// offset after the last of them: what a read_committed consumer there still
// has to read. A missing topic is ErrNoTopic.
func TestIntegration_ReadCommittedCountsWhatIsLeft(t *testing.T) {
	cfg := testConfig(t, 1)
	cluster := txTestCluster(t)
	ctx := context.Background()
	a := newTestTxProducer(t, cfg, cluster, "fetch/SPY")
	qs := testQuotes(13, "SPY")
	for i := range 2 {
		if err := a.SendFrom(ctx, Origin{Epoch: 1, Token: 10, Node: "a"}, qs[5*i:5*i+5], time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	_ = newTestTxProducer(t, cfg, cluster, "fetch/SPY") // fences a
	if err := a.SendFrom(ctx, Origin{Epoch: 1, Token: 10, Node: "a"}, qs[10:], time.Time{}); !errors.Is(err, ErrProducerFenced) {
		t.Fatalf("fenced send: %v", err)
	}
	var got []Record
	end, err := ReadCommitted(ctx, cfg, cfg.Topic, 0, -1, func(r Record) { got = append(got, r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 10 || end < 12 { // 10 quotes and 2 commit markers at least
		t.Fatalf("ReadCommitted: %d records, high-water mark %d; want 10 records below a mark of 12 or more", len(got), end)
	}
	for i, r := range got {
		q, err := Decode(r.Key, r.Value)
		if err != nil || !equalQuotes(q, qs[i]) || (i > 0 && r.Offset <= got[i-1].Offset) {
			t.Fatalf("record %d at offset %d: %+v, %v; want %+v in offset order", i, r.Offset, q, err, qs[i])
		}
	}
	n := 0
	end2, err := ReadCommitted(ctx, cfg, cfg.Topic, 0, got[9].Offset+1, func(Record) { n++ })
	if err != nil || n != 0 || end2 != end {
		t.Fatalf("from after the last quote: %d records, mark %d, %v; want 0, %d", n, end2, err, end)
	}
	if _, err := ReadCommitted(ctx, cfg, cfg.Topic+".missing", 0, 0, func(Record) {}); !errors.Is(err, ErrNoTopic) {
		t.Fatalf("missing topic: %v; want ErrNoTopic", err)
	}
	// OffsetReader.Pending (status's exact lag) counts the same.
	or, err := NewOffsetReader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer or.Close()
	for from, want := range map[int64]int64{0: 10, got[5].Offset: 5, got[9].Offset + 1: 0, end: 0} {
		if n, err := or.Pending(ctx, 0, from); err != nil || n != want {
			t.Errorf("Pending from %d = %d, %v; want %d", from, n, err, want)
		}
	}
}
