package worker_test

import (
	"github.com/stock-system/stocksys/zkapi"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/master"
	"github.com/stock-system/stocksys/pipeline"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/session/sessiontest"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/worker"
)

// TestIntegration_ZombieFencedWithinTerm (issue 16, "Done when"): three
// in-process nodes on the real servers (M, the master, and workers W and B),
// three symbols fetched with Kafka transactions (pipeline.Fetch.Tx) into
// three partitions (one symbol each), one ingest task per partition into
// Cassandra. W runs one fetch and one ingest task. W is then cut off from
// ZooKeeper only (a frozen TCP proxy; Kafka and Cassandra stay reachable)
// with its safe-deadline guard off (worker.IgnoreSafeDeadlineForTest), so
// its runners go on as zombies. The master stays healthy: once W's session
// expires, W's tasks move in the same term (the epoch znode unchanged, the
// new runs on the same epoch with higher tokens). The fences alone must stop
// W:
//   - Kafka: W's next transaction after the new owner's producer
//     initialisation fails with stream.ErrProducerFenced (one of W's that
//     started before that Open returned may have committed just before), W
//     sends nothing after it, and its fetch runner ends with it;
//   - Cassandra: every offset commit W starts after the new owner's first
//     commit returned fails with store.ErrFenced, the last one W tried
//     failed with it, its ingest runner ends with it, and the offset row
//     holds the new owner's token;
//   - a read_committed consumer sees no record of W's fetch task from W
//     after the new owner's first record of it (offset order per
//     partition, node and task headers), and every bar exactly once;
//   - Cassandra holds every bar the test generated, with its values, once
//     each, and the 1m, 5m and 1h bars recomputed here from them (no
//     zombie write of its stale aggregates survives).
func TestIntegration_ZombieFencedWithinTerm(t *testing.T) {
	const (
		T       = 3 * time.Second // session timeout
		nBars   = 600
		perCall = 10 // bars per source call (one transaction each)
		pace    = 50 * time.Millisecond
		rate    = 60 // bars per second per symbol until released
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	p := tasks.NewPaths(root)
	admin := testenv.ZKConn(t, 10*time.Second)
	if err := p.EnsureLayout(admin); err != nil {
		t.Fatal(err)
	}

	scfg := stream.DefaultConfig()
	scfg.Brokers = testenv.KafkaBrokers(t)
	prefix := testenv.KafkaTopicPrefix(t)
	scfg.Topic, scfg.DLQTopic, scfg.Partitions = prefix+"quotes", prefix+"quotes.dlq", 3
	if err := stream.EnsureTopics(ctx, scfg); err != nil {
		t.Fatal(err)
	}
	ks, cql := testenv.CassandraKeyspace(t)
	ccfg := store.DefaultConfig()
	ccfg.Hosts, ccfg.Keyspace, ccfg.Consistency = testenv.CassandraHosts(t), ks, "ONE"
	st, err := store.Open(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// One symbol per partition (sarama's hash partitioner on the key, as
	// the producers use), so every ingest task has records to commit.
	syms := make([]string, 3)
	hp := sarama.NewHashPartitioner(scfg.Topic)
	for c := 'A'; c <= 'Z' && (syms[0] == "" || syms[1] == "" || syms[2] == ""); c++ {
		s := "Z" + string(c)
		part, err := hp.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(s)}, 3)
		if err != nil {
			t.Fatal(err)
		}
		if syms[part] == "" {
			syms[part] = s
		}
	}
	partOf := map[string]int32{}
	for i, s := range syms {
		if s == "" {
			t.Fatalf("no symbol Z? for partition %d", i)
		}
		partOf[s] = int32(i)
	}
	// The source bars, generated here: 10-second bars of one day.
	day := time.Date(2013, 10, 7, 0, 0, 0, 0, time.UTC)
	bars := map[string][]quote.Quote{}
	for k, s := range syms {
		for i := range nBars {
			px := 50 + 10*float64(k) + float64(i)/100
			bars[s] = append(bars[s], quote.Quote{Symbol: s, TS: day.Add(13*time.Hour + 30*time.Minute + time.Duration(i)*10*time.Second),
				Open: px, High: px + 0.05, Low: px - 0.05, Close: px + 0.01, Volume: int64(1000*(k+1) + i), Source: "test"})
		}
	}
	src := &pacedSource{bars: bars, perCall: perCall, pace: pace, rate: rate, hold: nBars - 60}

	rec := &recorder{}
	env := &zombieEnv{t: t, servers: servers, root: root, scfg: scfg, st: st, rec: rec,
		tx:     pipeline.StreamTransactions{Config: scfg, Cluster: "zf-" + strings.Trim(prefix[len(prefix)-9:], ".")},
		source: func(context.Context, string) (quote.Source, error) { return src, nil },
		log:    zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), timeout: T}

	mNode := env.start("node-m", false, false)
	waitFor(t, 10*time.Second, "node-m elected", func() string {
		if tm := mNode.term(); tm == nil || tm.Err() != nil {
			return "no live term"
		}
		return ""
	})
	wNode := env.start("node-w", true, true) // cut-off-able, guard off
	defer wNode.proxy.Thaw()                 // before the nodes stop (cleanups run after)
	env.start("node-b", false, false)
	env.partitions.Store(true)
	src.start.Store(time.Now().UnixNano())
	for _, s := range syms {
		if _, err := admin.Create(p.Symbol(tasks.Symbol(s)), []byte(`{}`), 0, zkapi.OpenACL()); err != nil {
			t.Fatal(err)
		}
	}
	var all []tasks.ID
	for i, s := range syms {
		all = append(all, tasks.FetchTask(tasks.Symbol(s)).ID(), tasks.IngestTask(int32(i)).ID())
	}
	// Converged: each task runs once, W runs one fetch and one ingest task,
	// and W has committed a transaction and an offset.
	var wFetch, wIngest tasks.ID
	waitFor(t, 20*time.Second, "converged with W working", func() string {
		run := rec.running()
		wFetch, wIngest = "", ""
		for _, id := range all {
			if len(run[id]) != 1 {
				return fmt.Sprintf("%s runs on %v", id, run[id])
			}
			if run[id][0] == wNode.id {
				if strings.HasPrefix(string(id), "fetch/") {
					wFetch = id
				} else {
					wIngest = id
				}
			}
		}
		if wFetch == "" || wIngest == "" {
			return fmt.Sprintf("W runs %v", rec.runningOn(wNode.id))
		}
		if len(rec.find(func(e event) bool { return e.kind == "send" && e.node == wNode.id && e.err == nil && e.task == wFetch })) == 0 ||
			len(rec.find(func(e event) bool {
				return e.kind == "commit" && e.node == wNode.id && e.err == nil && e.task == wIngest
			})) == 0 {
			return "W has not committed a transaction and an offset yet"
		}
		return ""
	})
	wFetchStart := rec.last(func(e event) bool { return e.kind == "start" && e.node == wNode.id && e.task == wFetch })
	wIngestStart := rec.last(func(e event) bool { return e.kind == "start" && e.node == wNode.id && e.task == wIngest })
	epoch0 := readEpoch(t, admin, root)
	term0 := mNode.term()
	t.Logf("W (%s) runs %s (token %d) and %s (token %d); epoch %d", tasks.SessionString(wNode.s.ID()), wFetch, wFetchStart.token, wIngest, wIngestStart.token, epoch0)

	wNode.proxy.Freeze()
	cut := time.Now()
	since := func(at time.Time) string { return at.Sub(cut).Round(time.Millisecond).String() }

	// W's tasks move; the zombie's fetch is fenced by the new producer, its
	// ingest by the new owner's commit; both zombie runners end with it.
	movedTo := map[tasks.ID]event{}
	waitFor(t, 25*time.Second, "W's tasks moved and W fenced", func() string {
		for _, id := range []tasks.ID{wFetch, wIngest} {
			e, ok := rec.first(func(e event) bool {
				return e.kind == "start" && e.task == id && e.node != wNode.id && e.start.After(cut)
			})
			if !ok {
				return fmt.Sprintf("%s not started elsewhere", id)
			}
			movedTo[id] = e
		}
		if _, ok := rec.first(func(e event) bool {
			return e.kind == "end" && e.node == wNode.id && e.task == wFetch && e.start.After(cut)
		}); !ok {
			return "W's fetch runner still running"
		}
		if _, ok := rec.first(func(e event) bool {
			return e.kind == "end" && e.node == wNode.id && e.task == wIngest && e.start.After(cut)
		}); !ok {
			return "W's ingest runner still running"
		}
		return ""
	})

	src.released.Store(true) // the rest of the bars, as fast as the new owners go
	released := time.Now()

	// Every bar in Cassandra (then production is over).
	stored := func() (map[string]map[int64]quote.Quote, int, error) {
		out := map[string]map[int64]quote.Quote{}
		rows := 0
		for _, s := range syms {
			out[s] = map[int64]quote.Quote{}
			it := cql.Query(`SELECT ts, open, high, low, close, volume FROM quotes WHERE symbol = ? AND day = ?`, s, day).WithContext(ctx).Iter()
			var q quote.Quote
			for it.Scan(&q.TS, &q.Open, &q.High, &q.Low, &q.Close, &q.Volume) {
				rows++
				out[s][q.TS.UnixNano()] = q
			}
			if err := it.Close(); err != nil {
				return nil, 0, err
			}
		}
		return out, rows, nil
	}
	waitFor(t, 40*time.Second, "every bar in Cassandra", func() string {
		time.Sleep(200 * time.Millisecond) // a light poll: the nodes share the 2 cores
		n := 0
		for _, s := range syms {
			var k int
			if err := cql.Query(`SELECT COUNT(*) FROM quotes WHERE symbol = ? AND day = ?`, s, day).WithContext(ctx).Scan(&k); err != nil {
				return err.Error()
			}
			n += k
		}
		if n < len(syms)*nBars {
			return fmt.Sprintf("%d of %d rows", n, len(syms)*nBars)
		}
		return ""
	})
	doneAt := time.Now()
	rows, nRows, err := stored()
	if err != nil {
		t.Fatal(err)
	}

	// Same term: the epoch znode unchanged, the master's term live, the new
	// runs on the same epoch with higher tokens.
	if e := readEpoch(t, admin, root); e != epoch0 {
		t.Errorf("epoch znode %d after the move; was %d: the tasks moved across terms", e, epoch0)
	}
	if tm := mNode.term(); tm != term0 || tm.Err() != nil {
		t.Errorf("the master's term changed or ended: %v", tm.Err())
	}
	for id, e := range movedTo {
		old := wFetchStart
		if id == wIngest {
			old = wIngestStart
		}
		if e.epoch != epoch0 || e.token <= old.token {
			t.Errorf("%s on %s: epoch %d token %d; want epoch %d and a token above W's %d", id, e.node, e.epoch, e.token, epoch0, old.token)
		}
		t.Logf("%s moved to %s %s after the cut (token %d > %d, epoch %d)", id, e.node, since(e.start), e.token, old.token, e.epoch)
	}

	// Kafka: W's sends after the new owner's producer initialisation all
	// fail with ErrProducerFenced, and the zombie fetch runner ends with it.
	newOwnerF := movedTo[wFetch].node
	open, ok := rec.first(func(e event) bool {
		return e.kind == "open" && e.task == wFetch && e.node == newOwnerF && e.err == nil && e.start.After(cut)
	})
	if !ok {
		t.Fatalf("no Open of %s by %s", wFetch, newOwnerF)
	}
	wSends := rec.find(func(e event) bool { return e.kind == "send" && e.node == wNode.id && e.task == wFetch })
	// The new producer's initialisation fences W's at some instant during
	// its Open: a send of W's that ended after the Open began may have
	// committed just before (it started before the Open returned). W's next
	// send fails with ErrProducerFenced, and W sends nothing after it.
	zombieOK, concurrentOK := 0, 0
	var wFenced event
	for _, e := range wSends {
		if e.start.After(cut) && e.err == nil {
			zombieOK++
		}
		switch {
		case !e.end.After(open.start):
		case wFenced.node != "":
			t.Errorf("W sent again (%s, %v) after its send was fenced at %s", since(e.start), e.err, since(wFenced.end))
		case e.err == nil && !e.start.After(open.end):
			concurrentOK++ // committed before the fence
		case errors.Is(e.err, stream.ErrProducerFenced):
			wFenced = e
		default:
			t.Errorf("W's send of %d quotes at %s (%s's Open %s..%s): %v; want ErrProducerFenced", e.n, since(e.start), newOwnerF, since(open.start), since(open.end), e.err)
		}
	}
	if wFenced.node == "" {
		t.Errorf("no send of W's failed with ErrProducerFenced after %s's Open began", newOwnerF)
	}
	if zombieOK == 0 {
		t.Errorf("W committed no transaction after the cut: it was no zombie")
	}
	fEnd := rec.last(func(e event) bool { return e.kind == "end" && e.node == wNode.id && e.task == wFetch })
	if !errors.Is(fEnd.err, stream.ErrProducerFenced) {
		t.Errorf("W's fetch runner ended with %v; want ErrProducerFenced", fEnd.err)
	}
	t.Logf("fetch: W committed %d transactions after the cut (%d concurrent with the new Open); %s's Open %s..%s after the cut; W's next send (started %s) failed %s after the cut: %v",
		zombieOK, concurrentOK, newOwnerF, since(open.start), since(open.end), since(wFenced.start), since(wFenced.end), wFenced.err)

	// Cassandra: W's offset commits after the new owner's first commit all
	// fail with ErrFenced, and the zombie ingest runner ends with it.
	newOwnerI := movedTo[wIngest].node
	part := int32(0)
	fmt.Sscanf(string(wIngest), "ingest/%d", &part)
	first, ok := rec.first(func(e event) bool {
		return e.kind == "commit" && e.task == wIngest && e.node == newOwnerI && e.err == nil && e.start.After(cut)
	})
	if !ok {
		t.Fatalf("no commit of %s by %s", wIngest, newOwnerI)
	}
	wCommits := rec.find(func(e event) bool { return e.kind == "commit" && e.node == wNode.id && e.task == wIngest })
	zombieCommits, overlapping := 0, 0
	var wFencedC, lastAfter event
	for _, e := range wCommits {
		if e.start.After(cut) && e.err == nil && !e.end.After(first.start) {
			zombieCommits++
		}
		if !e.end.After(first.end) {
			continue
		}
		lastAfter = e
		if !e.start.After(first.end) { // concurrent with the new owner's first commit: either order
			overlapping++
			continue
		}
		if !errors.Is(e.err, store.ErrFenced) {
			t.Errorf("W's offset commit (next %d) at %s, after %s's first commit returned at %s: %v; want ErrFenced", e.n, since(e.start), newOwnerI, since(first.end), e.err)
		}
	}
	for _, e := range wCommits {
		if errors.Is(e.err, store.ErrFenced) {
			wFencedC = e
			break
		}
	}
	if lastAfter.node == "" || !errors.Is(lastAfter.err, store.ErrFenced) || wFencedC.node == "" {
		t.Errorf("W's commits after %s's first commit: last %v; want at least one, the last failing with ErrFenced", newOwnerI, lastAfter.err)
	}
	iEnd := rec.last(func(e event) bool { return e.kind == "end" && e.node == wNode.id && e.task == wIngest })
	if !errors.Is(iEnd.err, store.ErrFenced) {
		t.Errorf("W's ingest runner ended with %v; want ErrFenced", iEnd.err)
	}
	if next, tok, _, err := st.LoadOffset(ctx, scfg.Topic, part); err != nil || tok == wIngestStart.token {
		t.Errorf("offset row of %s: next %d token %d (%v); want a newer owner's token, not W's %d", wIngest, next, tok, err, wIngestStart.token)
	}
	t.Logf("ingest: W committed %d offsets after the cut; %s's first commit returned %s after the cut; W's next commit failed %s after the cut (%d concurrent with it): %v",
		zombieCommits, newOwnerI, since(first.end), since(wFencedC.end), overlapping, wFencedC.err)
	t.Logf("all %d bars in Cassandra %s after the cut (the source held back the last ones until %s)", nRows, since(doneAt), since(released))

	// read_committed: every bar once; no record of W's fetch task from W
	// after the new owner's first record of it.
	seen := map[string]map[int64]int{}
	type hdr struct {
		off        int64
		node, task string
	}
	perPart := map[int32][]hdr{}
	var cmu sync.Mutex // guards seen and perPart
	var cwg sync.WaitGroup
	for pi := range int32(3) {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			cctx, ccancel := context.WithCancel(ctx)
			defer ccancel()
			var last atomic.Int64 // the last batch, unix nanoseconds
			last.Store(time.Now().UnixNano())
			go func() { // stop once the partition has been idle for a second
				for cctx.Err() == nil {
					time.Sleep(100 * time.Millisecond)
					if time.Since(time.Unix(0, last.Load())) > time.Second {
						ccancel()
					}
				}
			}()
			err := stream.ConsumePartition(cctx, scfg, pi, 0, func(_ context.Context, b stream.Batch) error {
				last.Store(time.Now().UnixNano())
				cmu.Lock()
				defer cmu.Unlock()
				if len(b.DeadLetters) > 0 {
					t.Errorf("partition %d: %d dead letters", pi, len(b.DeadLetters))
				}
				for _, m := range b.Quotes {
					perPart[pi] = append(perPart[pi], hdr{m.Offset, m.Node, m.Task})
					if seen[m.Quote.Symbol] == nil {
						seen[m.Quote.Symbol] = map[int64]int{}
					}
					seen[m.Quote.Symbol][m.Quote.TS.UnixNano()]++
					if partOf[m.Quote.Symbol] != pi || m.Task != "fetch/"+m.Quote.Symbol || m.Node == "" {
						t.Errorf("partition %d offset %d: %s by %q task %q", pi, m.Offset, m.Quote.Symbol, m.Node, m.Task)
					}
				}
				return nil
			})
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("consume partition %d: %v", pi, err)
			}
		}()
	}
	cwg.Wait()
	fp := partOf[strings.TrimPrefix(string(wFetch), "fetch/")]
	firstNew, wAfter, wAfterCut := int64(-1), 0, 0
	var prev int64 = -1
	for _, h := range perPart[fp] {
		if h.off <= prev {
			t.Fatalf("partition %d: offset %d after %d", fp, h.off, prev)
		}
		prev = h.off
		if h.task != string(wFetch) {
			continue
		}
		switch {
		case h.node == newOwnerF && firstNew < 0:
			firstNew = h.off
		case h.node == wNode.id && firstNew >= 0:
			wAfter++
		}
	}
	if firstNew < 0 {
		t.Errorf("partition %d holds no record of %s from %s", fp, wFetch, newOwnerF)
	}
	if wAfter > 0 {
		t.Errorf("partition %d: %d records of %s from W after %s's first (offset %d)", fp, wAfter, wFetch, newOwnerF, firstNew)
	}
	for _, e := range wSends {
		if e.start.After(cut) && e.err == nil {
			wAfterCut += int(e.n)
		}
	}
	t.Logf("read_committed partition %d: %s's first record of %s at offset %d, none of W's after it (W's %d zombie quotes before it)", fp, newOwnerF, wFetch, firstNew, wAfterCut)

	// Exactly once, in Kafka and in Cassandra, against the generated bars.
	for _, s := range syms {
		var missK, dupK, missC, badC []string
		for _, q := range bars[s] {
			switch n := seen[s][q.TS.UnixNano()]; {
			case n == 0:
				missK = append(missK, q.TS.Format("15:04:05"))
			case n > 1:
				dupK = append(dupK, fmt.Sprintf("%s×%d", q.TS.Format("15:04:05"), n))
			}
			got, ok := rows[s][q.TS.UnixNano()]
			switch {
			case !ok:
				missC = append(missC, q.TS.Format("15:04:05"))
			case got.Open != q.Open || got.High != q.High || got.Low != q.Low || got.Close != q.Close || got.Volume != q.Volume:
				badC = append(badC, fmt.Sprintf("%s: %v/%v/%v/%v/%d, want %v/%v/%v/%v/%d", q.TS.Format("15:04:05"),
					got.Open, got.High, got.Low, got.Close, got.Volume, q.Open, q.High, q.Low, q.Close, q.Volume))
			}
		}
		if len(missK)+len(dupK) > 0 || len(seen[s]) != nBars {
			t.Errorf("%s in Kafka (read_committed): %d distinct bars; missing %v; duplicated %v", s, len(seen[s]), head(missK), head(dupK))
		}
		if len(missC)+len(badC) > 0 || len(rows[s]) != nBars {
			t.Errorf("%s in Cassandra: %d rows; missing %v; wrong %v", s, len(rows[s]), head(missC), head(badC))
		}
	}
	// Derived bars (1m, 5m, 1h), recomputed here from the generated bars:
	// a zombie's late writes of its in-memory aggregates must not have
	// overwritten the new owner's.
	for _, s := range syms {
		for _, iv := range []struct {
			name string
			d    time.Duration
		}{{"1m", time.Minute}, {"5m", 5 * time.Minute}, {"1h", time.Hour}} {
			want := map[int64]quote.Quote{}
			var order []int64
			for _, q := range bars[s] {
				k := q.TS.Truncate(iv.d).UnixNano()
				w, ok := want[k]
				if !ok {
					w = quote.Quote{Open: q.Open, High: q.High, Low: q.Low}
					order = append(order, k)
				}
				w.High, w.Low = math.Max(w.High, q.High), math.Min(w.Low, q.Low)
				w.Close, w.Volume = q.Close, w.Volume+q.Volume
				want[k] = w
			}
			it := cql.Query(`SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = ? AND interval = ? AND day = ?`, s, iv.name, day).WithContext(ctx).Iter()
			got := map[int64]quote.Quote{}
			var q quote.Quote
			for it.Scan(&q.TS, &q.Open, &q.High, &q.Low, &q.Close, &q.Volume) {
				got[q.TS.UnixNano()] = q
			}
			if err := it.Close(); err != nil {
				t.Fatal(err)
			}
			var bad []string
			for _, k := range order {
				w, g := want[k], got[k]
				if g.Open != w.Open || g.High != w.High || g.Low != w.Low || g.Close != w.Close || g.Volume != w.Volume {
					bad = append(bad, fmt.Sprintf("%s: %v/%v/%v/%v/%d, want %v/%v/%v/%v/%d", time.Unix(0, k).UTC().Format("15:04"),
						g.Open, g.High, g.Low, g.Close, g.Volume, w.Open, w.High, w.Low, w.Close, w.Volume))
				}
			}
			if len(bad) > 0 || len(got) != len(want) {
				t.Errorf("%s %s bars: %d stored, want %d; wrong %v", s, iv.name, len(got), len(want), head(bad))
			}
		}
	}
	if nRows != len(syms)*nBars {
		t.Errorf("Cassandra holds %d quote rows; want %d", nRows, len(syms)*nBars)
	}
}

func head(xs []string) []string {
	if len(xs) > 5 {
		return append(xs[:5:5], fmt.Sprintf("... %d more", len(xs)-5))
	}
	return xs
}

func readEpoch(t *testing.T, c zkapi.Conn, root string) int64 {
	t.Helper()
	data, _, err := c.Get(path.Join(root, "epoch"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		t.Fatalf("epoch znode %q: %v", data, err)
	}
	return e
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() string) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		msg := cond()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %s", what, limit, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pacedSource serves each symbol's bars, at most perCall per call and one
// call every pace. Until released, bars become available at rate per second
// from start, and never more than hold of them: a fetch task can neither
// run ahead of the test's phases nor reach the end before the test says so.
// An empty answer means nothing new yet (the fetch runner asks again after
// its Idle); ErrExhausted comes after the last bar.
type pacedSource struct {
	bars     map[string][]quote.Quote
	perCall  int
	pace     time.Duration
	rate     float64
	hold     int
	start    atomic.Int64 // unix nanoseconds; 0: not started (nothing available)
	released atomic.Bool
}

func (s *pacedSource) Fetch(ctx context.Context, sym string, after time.Time) ([]quote.Quote, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(s.pace):
	}
	bars := s.bars[sym]
	avail := len(bars)
	if !s.released.Load() {
		avail = 0
		if t0 := s.start.Load(); t0 != 0 {
			avail = min(s.hold, int(s.rate*time.Since(time.Unix(0, t0)).Seconds()))
		}
	}
	if len(bars) > 0 && !bars[len(bars)-1].Position().After(after) {
		return nil, quote.ErrExhausted
	}
	var out []quote.Quote
	for _, q := range bars[:avail] {
		if q.Position().After(after) && len(out) < s.perCall {
			out = append(out, q)
		}
	}
	return out, nil
}

// event is one thing a node did, as the test's wrappers saw it: a runner
// started or ended, a transactional producer opened, a transaction sent, an
// offset committed.
type event struct {
	kind         string // start, end, open, send, commit
	node         string
	task         tasks.ID
	start, end   time.Time
	epoch, token int64
	n            int64 // quotes sent; offset committed
	err          error
}

type recorder struct {
	mu  sync.Mutex
	evs []event
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	r.evs = append(r.evs, e)
	r.mu.Unlock()
}

func (r *recorder) find(pred func(event) bool) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event
	for _, e := range r.evs {
		if pred(e) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].start.Before(out[j].start) })
	return out
}

func (r *recorder) first(pred func(event) bool) (event, bool) {
	es := r.find(pred)
	if len(es) == 0 {
		return event{}, false
	}
	return es[0], true
}

func (r *recorder) last(pred func(event) bool) event {
	es := r.find(pred)
	if len(es) == 0 {
		return event{}
	}
	return es[len(es)-1]
}

// running returns task -> nodes whose runner started and has not ended.
func (r *recorder) running() map[tasks.ID][]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := map[tasks.ID]map[string]int{}
	for _, e := range r.evs {
		if n[e.task] == nil {
			n[e.task] = map[string]int{}
		}
		switch e.kind {
		case "start":
			n[e.task][e.node]++
		case "end":
			n[e.task][e.node]--
		}
	}
	out := map[tasks.ID][]string{}
	for id, m := range n {
		for node, k := range m {
			if k > 0 {
				out[id] = append(out[id], node)
			}
		}
		sort.Strings(out[id])
	}
	return out
}

func (r *recorder) runningOn(node string) []tasks.ID {
	var out []tasks.ID
	for id, ns := range r.running() {
		for _, n := range ns {
			if n == node {
				out = append(out, id)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// recRunner records each run's start (epoch, token) and end (error).
func recRunner(rec *recorder, inner worker.Runner) worker.Runner {
	return worker.RunnerFunc(func(ctx context.Context, r *worker.Run) error {
		start := time.Now()
		rec.add(event{kind: "start", node: r.Node, task: r.Task.ID(), start: start, end: start, epoch: r.Epoch(), token: r.Token()})
		err := inner.Run(ctx, r)
		end := time.Now()
		rec.add(event{kind: "end", node: r.Node, task: r.Task.ID(), start: end, end: end, token: r.Token(), err: err})
		return err
	})
}

// recTransactions records each Open and each Send of a node's fetch runs.
type recTransactions struct {
	inner pipeline.Transactions
	node  string
	rec   *recorder
}

func (x recTransactions) Open(ctx context.Context, task string) (pipeline.TxSender, error) {
	start := time.Now()
	s, err := x.inner.Open(ctx, task)
	x.rec.add(event{kind: "open", node: x.node, task: tasks.ID(task), start: start, end: time.Now(), err: err})
	if err != nil {
		return nil, err
	}
	return &recSender{TxSender: s, node: x.node, task: tasks.ID(task), rec: x.rec}, nil
}

func (x recTransactions) ReadCheckpoint(ctx context.Context, task string) (time.Time, bool, error) {
	return x.inner.ReadCheckpoint(ctx, task)
}

type recSender struct {
	pipeline.TxSender
	node string
	task tasks.ID
	rec  *recorder
}

func (s *recSender) SendFrom(ctx context.Context, o stream.Origin, qs []quote.Quote, pos time.Time) error {
	start := time.Now()
	err := s.TxSender.SendFrom(ctx, o, qs, pos)
	s.rec.add(event{kind: "send", node: s.node, task: s.task, start: start, end: time.Now(), epoch: o.Epoch, token: o.Token, n: int64(len(qs)), err: err})
	return err
}

// recSink records each offset commit of a node's ingest runs.
type recSink struct {
	pipeline.Sink
	node string
	rec  *recorder
}

func (s recSink) CommitOffset(ctx context.Context, topic string, partition int32, next, token int64, node string) error {
	start := time.Now()
	err := s.Sink.CommitOffset(ctx, topic, partition, next, token, node)
	s.rec.add(event{kind: "commit", node: s.node, task: tasks.IngestTask(partition).ID(), start: start, end: time.Now(), token: token, n: next, err: err})
	return err
}

// zombieEnv starts in-process nodes: a session, a member znode, a worker
// with the real fetch (transactional) and ingest runners, and an election
// candidate running the master loop while elected.
type zombieEnv struct {
	t          *testing.T
	servers    []string
	root       string
	scfg       stream.Config
	st         *store.Store
	tx         pipeline.Transactions
	source     pipeline.SourceFunc
	rec        *recorder
	log        *zap.Logger
	timeout    time.Duration
	partitions atomic.Bool // the master plans ingest tasks once set
}

type zombieNode struct {
	id    string
	s     *session.Session
	proxy *sessiontest.Proxy

	mu    sync.Mutex
	terms []*election.Term
}

func (n *zombieNode) term() *election.Term {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.terms) == 0 {
		return nil
	}
	return n.terms[len(n.terms)-1]
}

func (e *zombieEnv) start(id string, viaProxy, noGuard bool) *zombieNode {
	t := e.t
	t.Helper()
	n := &zombieNode{id: id}
	servers := e.servers
	if viaProxy {
		n.proxy = sessiontest.NewProxy(t, e.servers[0])
		servers = []string{n.proxy.Addr()}
	}
	log := e.log.Named(id)
	cfg := session.DefaultConfig(servers...)
	cfg.Timeout, cfg.Logger = e.timeout, log
	ctx, cancel := context.WithCancel(context.Background())
	s, err := session.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("session for %s: %v", id, err)
	}
	n.s = s
	members := path.Join(e.root, "members")
	if _, err := s.Conn().Create(members, nil, 0, zkapi.OpenACL()); err != nil && !errors.Is(err, zkapi.ErrNodeExists) {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"id": id, "session": tasks.SessionString(s.ID()), "capacity": 1})
	if _, err := s.Conn().Create(path.Join(members, id), data, zkapi.FlagEphemeral, zkapi.OpenACL()); err != nil {
		t.Fatalf("register %s: %v", id, err)
	}
	fetch := &pipeline.Fetch{Tx: recTransactions{inner: e.tx, node: id, rec: e.rec}, Checkpoints: e.st, Source: e.source, Logger: log,
		Idle: 20 * time.Millisecond}
	ingest := &pipeline.Ingest{Stream: e.scfg, Sink: recSink{Sink: pipeline.StoreSink{Store: e.st}, node: id, rec: e.rec}, Logger: log}
	wcfg := worker.Config{NodeID: id, Root: e.root, Logger: log, RetryDelay: 500 * time.Millisecond,
		Runners: map[tasks.Type]worker.Runner{tasks.TypeFetch: recRunner(e.rec, fetch), tasks.TypeIngest: recRunner(e.rec, ingest)}}
	if noGuard {
		worker.IgnoreSafeDeadlineForTest(&wcfg)
	}
	w, err := worker.New(s, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	ecfg := election.DefaultConfig(id)
	ecfg.Root, ecfg.Logger = e.root, log
	cand, err := election.NewCandidate(s, ecfg)
	if err != nil {
		t.Fatal(err)
	}
	parts := func(context.Context) ([]int32, error) {
		if e.partitions.Load() {
			return []int32{0, 1, 2}, nil
		}
		return nil, nil
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = w.Run(ctx) }()
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			term, err := cand.Campaign(ctx)
			if err != nil {
				return
			}
			m, err := master.New(s, term, master.Config{Root: e.root, NodeID: id, Logger: log, Partitions: parts})
			if err != nil {
				t.Error(err)
				return
			}
			n.mu.Lock()
			n.terms = append(n.terms, term)
			n.mu.Unlock()
			_ = m.Run(ctx)
		}
	}()
	t.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20 s", id)
		}
		cand.Close()
		s.Close()
	})
	return n
}
