package master

import (
	"encoding/json"
	"fmt"
	"path"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// BenchmarkIntegration_RoundRead measures one steady round's read of a
// cluster of 100 members and 1,000 fetch tasks (members/, symbols/,
// assignments/ and status/ with one document per member, the control znode
// and intents/) on the real ZooKeeper, side by side:
//
//   - cached: the master's read through the session's watched cache
//     (zkapi.Cache), warm: nothing changed since the last round;
//   - uncached: the same read with every znode read from the server (how
//     every round read before the cache);
//   - raw: the same znodes read with go-zookeeper directly, 16 reads in
//     flight, as the master pipelines them.
//
// Run it with
//
//	go test -run '^$' -bench RoundRead -benchtime 20x ./master/
//
// and compare the ns/op (the ratios are what to report; the machine is
// shared).
func BenchmarkIntegration_RoundRead(b *testing.B) {
	const nMembers, nSymbols = 100, 1000
	root := testenv.ZKRoot(b)
	admin := testenv.ZKConn(b, 30*time.Second)
	p := tasks.NewPaths(root)
	if err := p.EnsureLayout(admin); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{p.Members, path.Join(root, "intents")} {
		if _, err := admin.Create(q, nil, 0, zkapi.OpenACL()); err != nil {
			b.Fatal(err)
		}
	}
	sess := tasks.SessionID(admin.SessionID())
	ids := make([]tasks.ID, nSymbols)
	for i := range nSymbols {
		s := tasks.Symbol(fmt.Sprintf("S%04d", i))
		js, _ := json.Marshal(tasks.SymbolSpec{Symbol: s})
		if _, err := admin.Create(p.Symbol(s), js, 0, zkapi.OpenACL()); err != nil {
			b.Fatal(err)
		}
		ids[i] = tasks.FetchTask(s).ID()
	}
	per := nSymbols / nMembers
	for i := range nMembers {
		id := fmt.Sprintf("node-%03d", i)
		js, _ := json.Marshal(tasks.MemberDoc{ID: id, Capacity: 1})
		if _, err := admin.Create(path.Join(p.Members, id), js, zkapi.FlagEphemeral, zkapi.OpenACL()); err != nil {
			b.Fatal(err)
		}
		doc := tasks.AssignmentDoc{Node: id, Session: sess, Epoch: 5, Tasks: ids[i*per : (i+1)*per]}
		head, _, err := tasks.EncodeAssignment(p, doc, nil, 1)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := admin.Create(p.Assignment(id), head, 0, zkapi.OpenACL()); err != nil {
			b.Fatal(err)
		}
		st := tasks.StatusDoc{Node: id, Session: sess, Epoch: 5, AppliedVersion: 0, Tasks: map[tasks.ID]tasks.TaskStatus{}}
		for _, t := range doc.Tasks {
			st.Tasks[t] = tasks.TaskStatus{State: tasks.StateRunning, Epoch: 5}
		}
		sj, _ := json.Marshal(st)
		if _, err := admin.Create(p.StatusOf(id), sj, zkapi.FlagEphemeral, zkapi.OpenACL()); err != nil {
			b.Fatal(err)
		}
	}
	reader := func(b *testing.B, cache *zkapi.Cache, unwatched bool) *Master {
		m, err := newMaster(admin, nil, 5, time.Now(), Config{Root: root, Cache: cache})
		if err != nil {
			b.Fatal(err)
		}
		m.firstDone, m.unwatched = true, unwatched
		b.Cleanup(m.closeWatched)
		return m
	}
	check := func(b *testing.B, v *view) {
		if len(v.members) != nMembers || len(v.tasks) != nSymbols || len(v.applied) != nMembers || len(v.running) != nSymbols {
			b.Fatalf("read %d members, %d tasks, %d statuses, %d running; want %d, %d, %d, %d",
				len(v.members), len(v.tasks), len(v.applied), len(v.running), nMembers, nSymbols, nMembers, nSymbols)
		}
	}
	b.Run("cached", func(b *testing.B) {
		cache := zkapi.NewCache(admin)
		defer cache.Close()
		m := reader(b, cache, false)
		v, err := m.read(b.Context()) // warm
		if err != nil {
			b.Fatal(err)
		}
		check(b, v)
		before := cache.Stats()
		b.ResetTimer()
		for range b.N {
			if v, err = m.read(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		check(b, v)
		st := cache.Stats()
		b.ReportMetric(float64(st.Misses-before.Misses)/float64(b.N), "zk-reads/op")
	})
	b.Run("uncached", func(b *testing.B) {
		m := reader(b, nil, true)
		var v *view
		var err error
		for range b.N {
			if v, err = m.read(b.Context()); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		check(b, v)
	})
	b.Run("raw", func(b *testing.B) {
		var n int
		for range b.N {
			n = rawRead(b, admin, p, root)
		}
		b.StopTimer()
		if want := 4 + 1 + 2*nMembers + 1 + nMembers; n != want {
			b.Fatalf("raw read %d znodes; want %d", n, want)
		}
		b.ReportMetric(float64(n), "zk-reads/op")
	})
}

// rawRead reads what a round reads with go-zookeeper directly, 16 reads in
// flight; it returns the number of reads.
func rawRead(b *testing.B, c zkapi.Conn, p tasks.Paths, root string) int {
	var mu sync.Mutex
	n := 0
	count := func() { mu.Lock(); n++; mu.Unlock() }
	list := func(q string) []string {
		names, _, err := c.Children(q)
		if err != nil {
			b.Fatal(err)
		}
		count()
		return names
	}
	getAll := func(dir string, names []string) {
		sem := make(chan struct{}, readParallelism)
		var wg sync.WaitGroup
		for _, name := range names {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if _, _, err := c.Get(path.Join(dir, name)); err != nil {
					b.Error(err)
				}
				count()
			})
		}
		wg.Wait()
	}
	getAll(p.Members, list(p.Members))
	list(p.Symbols)
	getAll(p.Assignments, list(p.Assignments))
	getAll(p.Status, list(p.Status))
	if _, _, err := c.Exists(path.Join(root, "control")); err != nil {
		b.Fatal(err)
	}
	count()
	list(path.Join(root, "intents"))
	return n
}
