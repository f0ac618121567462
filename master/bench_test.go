package master_test

import (
	"github.com/stock-system/stocksys/zkapi"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/stock-system/stocksys/election"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/master"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/tasks"
)

// BenchmarkIntegration_Assign10000x100 measures the master planning and
// writing a full assignment of 10,000 fetch tasks over 100 workers (100 real
// ZooKeeper sessions, each with its member znode), then the rebalance after
// one worker leaves. Run it once:
//
//	go test -run '^$' -bench Assign10000x100 -benchtime 1x ./master/
func BenchmarkIntegration_Assign10000x100(b *testing.B) {
	const nSymbols, nWorkers = 10000, 100
	servers := testenv.ZKServers(b)
	root := testenv.ZKRoot(b)
	admin := testenv.ZKConn(b, 30*time.Second)
	p := tasks.NewPaths(root)
	if err := p.EnsureLayout(admin); err != nil {
		b.Fatal(err)
	}
	if _, err := admin.Create(p.Members, nil, 0, zkapi.OpenACL()); err != nil {
		b.Fatal(err)
	}
	parallel(b, nSymbols, func(i int) error {
		_, err := admin.Create(p.Symbol(tasks.Symbol(fmt.Sprintf("S%05d", i))), []byte(`{}`), 0, zkapi.OpenACL())
		return err
	})
	sessions := make([]*session.Session, nWorkers)
	parallel(b, nWorkers, func(i int) error {
		cfg := session.DefaultConfig(servers...)
		cfg.Timeout = 10 * time.Second
		s, err := session.New(context.Background(), cfg)
		if err != nil {
			return err
		}
		sessions[i] = s
		id := fmt.Sprintf("w%03d", i)
		data, _ := json.Marshal(map[string]any{"id": id, "capacity": 1})
		_, err = s.Conn().Create(path.Join(p.Members, id), data, zkapi.FlagEphemeral, zkapi.OpenACL())
		return err
	})
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.Close()
			}
		}
	}()

	ms, err := session.New(context.Background(), session.DefaultConfig(servers...))
	if err != nil {
		b.Fatal(err)
	}
	defer ms.Close()
	ecfg := election.DefaultConfig("master")
	ecfg.Root = root
	cand, err := election.NewCandidate(ms, ecfg)
	if err != nil {
		b.Fatal(err)
	}
	defer cand.Close()

	b.ResetTimer()
	for range b.N {
		term, err := cand.Campaign(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		m, err := master.New(ms, term, master.Config{Root: root})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- m.Run(ctx) }()
		waitAssigned(b, admin, p, nWorkers, nSymbols, term.Epoch, "")
		full := time.Since(start)
		s0 := m.Stats()

		current := readAssignment(b, admin, p)
		members := make([]tasks.Member, 0, nWorkers-1)
		for i := 1; i < nWorkers; i++ {
			members = append(members, tasks.Member{ID: fmt.Sprintf("w%03d", i)})
		}
		var all []tasks.Task
		for id := range current {
			t, _ := tasks.ParseID(string(id))
			all = append(all, t)
		}
		// The leaver's tasks must move; MinimalMoves counts moves away from
		// live owners on top of that.
		minMoves := len(current.TasksOf("w000")) + tasks.MinimalMoves(members, all, current)
		start = time.Now()
		sessions[0].Close() // worker w000 leaves
		waitAssigned(b, admin, p, nWorkers-1, nSymbols, term.Epoch, "w000")
		rebalance := time.Since(start)
		s1 := m.Stats()
		after := readAssignment(b, admin, p)
		moved := 0
		for id, o := range after {
			if current[id] != o {
				moved++
			}
		}
		cancel()
		<-done
		b.ReportMetric(float64(full.Milliseconds()), "full_ms")
		b.ReportMetric(float64(s0.Writes), "full_zk_writes")
		b.ReportMetric(float64(s0.BytesWrote), "full_bytes")
		b.ReportMetric(float64(s0.Multis), "full_multis")
		b.ReportMetric(float64(rebalance.Milliseconds()), "rebalance_ms")
		b.ReportMetric(float64(s1.Writes-s0.Writes), "rebalance_zk_writes")
		b.ReportMetric(float64(s1.BytesWrote-s0.BytesWrote), "rebalance_bytes")
		b.ReportMetric(float64(moved), "moved")
		b.ReportMetric(float64(minMoves), "min_moves")
		if moved != minMoves {
			b.Errorf("moved %d tasks; minimum %d", moved, minMoves)
		}
	}
}

func parallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func readAssignment(b *testing.B, c zkapi.Conn, p tasks.Paths) tasks.Assignment {
	b.Helper()
	names, _, err := c.Children(p.Assignments)
	if err != nil {
		b.Fatal(err)
	}
	out := tasks.Assignment{}
	for _, n := range names {
		d, _, err := p.ReadAssignment(c, n)
		if err != nil {
			b.Fatal(err)
		}
		for _, id := range d.Tasks {
			out[id] = n
		}
	}
	return out
}

// waitAssigned waits until nDocs assignment documents of epoch hold nTasks
// tasks in all, and gone has no document.
func waitAssigned(b *testing.B, c zkapi.Conn, p tasks.Paths, nDocs, nTasks int, epoch int64, gone string) {
	b.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		names, _, err := c.Children(p.Assignments)
		if err != nil {
			b.Fatal(err)
		}
		total, ok := 0, len(names) == nDocs
		for _, n := range names {
			if n == gone {
				ok = false
				break
			}
			d, _, err := p.ReadAssignment(c, n)
			if err != nil || d.Epoch != epoch {
				ok = false
				break
			}
			total += len(d.Tasks)
		}
		if ok && total == nTasks {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.Fatalf("assignment not complete within 60s")
}

// BenchmarkIntegration_Assign100000x10 (issue 15, defect 3) shows the
// documented limits: 100,000 fetch tasks over 10 nodes, each a real worker
// with its own ZooKeeper session running placeholder tasks, one of them the
// elected master. It measures the time from the nodes' start until every
// task runs exactly once and balanced, the sizes of the assignment and
// status documents (heads and parts), the ZooKeeper server's znode count and
// data size (mntr), and the rebalance after one node leaves. Run it once:
//
//	go test -run '^$' -bench Assign100000x10 -benchtime 1x -timeout 30m ./master/
func BenchmarkIntegration_Assign100000x10(b *testing.B) {
	const nSymbols, nNodes = 100000, 10
	servers := testenv.ZKServers(b)
	admin := testenv.ZKConn(b, 30*time.Second)
	for range b.N {
		c := &cluster{t: b, servers: servers, root: testenv.ZKRoot(b), tr: newTracker(), quiet: true,
			timeout: 10 * time.Second, log: zap.NewNop()}
		p := tasks.NewPaths(c.root)
		if err := p.EnsureLayout(admin); err != nil {
			b.Fatal(err)
		}
		want := make([]tasks.ID, nSymbols)
		parallel(b, nSymbols, func(i int) error {
			s := tasks.Symbol(fmt.Sprintf("S%06d", i))
			want[i] = tasks.FetchTask(s).ID()
			_, err := admin.Create(p.Symbol(s), []byte(`{}`), 0, zkapi.OpenACL())
			return err
		})
		b.ResetTimer()
		nodes := make([]*testNode, nNodes)
		for i := range nodes {
			nodes[i] = c.start(fmt.Sprintf("node-%02d", i), false)
		}
		full := c.waitConverged("100,000 tasks on 10 nodes", nodes, want, 10*time.Minute)
		b.StopTimer()

		var aHead, aParts, aBytes, sHead, sParts, sBytes int
		for _, n := range nodes {
			h, _, err := admin.Get(p.Assignment(n.id))
			if err != nil {
				b.Fatal(err)
			}
			var d struct{ Parts []string }
			_ = json.Unmarshal(h, &d)
			aHead, aParts = max(aHead, len(h)), max(aParts, len(d.Parts))
			aBytes += len(h)
			for _, q := range d.Parts {
				data, _, _ := admin.Get(path.Join(p.AssignmentParts, q))
				aBytes += len(data)
			}
			h, _, err = admin.Get(p.StatusOf(n.id))
			if err != nil {
				b.Fatal(err)
			}
			d.Parts = nil
			_ = json.Unmarshal(h, &d)
			sHead, sParts = max(sHead, len(h)), max(sParts, len(d.Parts))
			sBytes += len(h)
			for _, q := range d.Parts {
				data, _, _ := admin.Get(path.Join(p.StatusParts, q))
				sBytes += len(data)
			}
		}
		mntr := zkMntr(b, servers[0])
		b.ReportMetric(float64(full.Milliseconds()), "converge_ms")
		b.ReportMetric(float64(aHead), "assign_head_max_bytes")
		b.ReportMetric(float64(aParts), "assign_parts_max")
		b.ReportMetric(float64(aBytes/nNodes), "assign_bytes_per_node")
		b.ReportMetric(float64(sHead), "status_head_max_bytes")
		b.ReportMetric(float64(sParts), "status_parts_max")
		b.ReportMetric(float64(sBytes/nNodes), "status_bytes_per_node")
		b.ReportMetric(mntr["zk_znode_count"], "zk_znodes")
		b.ReportMetric(mntr["zk_approximate_data_size"]/(1<<20), "zk_data_MiB")

		start := time.Now()
		nodes[0].stop()
		rebalance := c.waitConverged("one node left", nodes[1:], want, 5*time.Minute)
		b.ReportMetric(float64(rebalance.Milliseconds()), "rebalance_ms")
		b.Logf("converged in %v from the nodes' start; rebalance after a leave %v (%v with the stop)", full, rebalance, time.Since(start))
		if v := c.tr.Violations(); len(v) > 0 {
			b.Fatalf("%d tasks ran twice at once, e.g. %s", len(v), v[0])
		}
		for _, n := range nodes[1:] {
			n.stop()
		}
		_ = testenv.DeleteRecursive(admin, c.root)
	}
}

// zkMntr returns the numeric lines of ZooKeeper's mntr four-letter command.
func zkMntr(b *testing.B, server string) map[string]float64 {
	b.Helper()
	conn, err := net.DialTimeout("tcp", server, 5*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("mntr")); err != nil {
		b.Fatal(err)
	}
	data, err := io.ReadAll(conn)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, "\t")
		if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); ok && err == nil {
			out[k] = f
		}
	}
	if len(out) == 0 {
		b.Fatalf("mntr on %s: %q", server, data)
	}
	return out
}
