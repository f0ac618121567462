package election

import (
	"context"
	"math"
	"path"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/internal/testenv"
)

const benchTrials = 20

// BenchmarkIntegration_Handover measures, over benchTrials trials each:
//
//   - graceful: Resign -> the new master's epoch write visible to a third
//     session (its watch on epoch fires and the read shows epoch+1);
//   - crash: kill -9 of the master process -> the new master's first fenced
//     write done;
//   - raw: close of a ZooKeeper session -> another session's watch event on
//     its ephemeral znode (the floor under a graceful handover);
//
// and reports p50/p99 in ms, with the session timeout used. Run it once:
//
//	go test -run '^$' -bench Handover -benchtime 1x ./election/
func BenchmarkIntegration_Handover(b *testing.B) {
	servers := testenv.ZKServers(b)
	const timeout = 2 * time.Second
	for range b.N {
		root := testenv.ZKRoot(b)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		obs := newSession(b, servers, 10*time.Second).Conn()

		// Raw ZooKeeper: close session -> watch event.
		var raw []time.Duration
		if err := ensureLayout(obs, newPaths(root)); err != nil {
			b.Fatal(err)
		}
		for i := range benchTrials {
			s := newSession(b, servers, timeout)
			p := path.Join(root, "raw")
			if _, err := s.Conn().Create(p, nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
				b.Fatalf("trial %d: %v", i, err)
			}
			_, _, ch, err := obs.ExistsW(p)
			if err != nil {
				b.Fatal(err)
			}
			t0 := time.Now()
			s.Close()
			<-ch
			raw = append(raw, time.Since(t0))
		}

		// Graceful: resign -> new epoch visible.
		var graceful []time.Duration
		sa, sb := newSession(b, servers, timeout), newSession(b, servers, timeout)
		ca, cb := newCandidate(b, sa, root, "a"), newCandidate(b, sb, root, "b")
		master := waitTerm(b, campaignAsync(b, ctx, ca), 10*time.Second).term
		cur, next := ca, cb
		pending := campaignAsync(b, ctx, cb)
		for i := range benchTrials {
			data, _, ch, err := obs.GetW(path.Join(root, "epoch"))
			if err != nil {
				b.Fatal(err)
			}
			if string(data) != itoa(master.Epoch) {
				b.Fatalf("trial %d: epoch %s, master has %d", i, data, master.Epoch)
			}
			t0 := time.Now()
			if err := cur.Resign(ctx); err != nil {
				b.Fatal(err)
			}
			<-ch
			e, _, err := Epoch(obs, root)
			d := time.Since(t0)
			if err != nil || e != master.Epoch+1 {
				b.Fatalf("trial %d: epoch %d (%v), want %d", i, e, err, master.Epoch+1)
			}
			graceful = append(graceful, d)
			master = waitTerm(b, pending, 10*time.Second).term
			pending = campaignAsync(b, ctx, cur)
			cur, next = next, cur
		}
		_ = next
		cancel()
		<-pending
		sa.Close()
		sb.Close()

		// Crash: kill -9 -> new master acting.
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Minute)
		var crash []time.Duration
		sc := newSession(b, servers, timeout)
		survivor := newCandidate(b, sc, root, "survivor")
		for i := range benchTrials {
			ch := startChild(b, "master", root, "victim", timeout)
			ch.waitLine(b, "MASTER", 15*time.Second)
			res := campaignAsync(b, ctx, survivor)
			time.Sleep(100 * time.Millisecond) // let the survivor settle on its watch
			t0 := time.Now()
			if err := ch.signal(syscall.SIGKILL); err != nil {
				b.Fatal(err)
			}
			r := waitTerm(b, res, timeout+10*time.Second)
			if _, err := r.term.Fenced(ctx, &zk.CreateRequest{Path: path.Join(root, "acted-"), Data: []byte(itoa(r.term.Epoch)),
				Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence}); err != nil {
				b.Fatalf("trial %d: new master's write: %v", i, err)
			}
			crash = append(crash, time.Since(t0))
			ch.kill()
			if err := survivor.Resign(ctx); err != nil {
				b.Fatal(err)
			}
		}
		cancel()

		b.ReportMetric(float64(timeout.Milliseconds()), "session-timeout-ms")
		b.ReportMetric(float64(zkTickTime(b, servers[0]).Milliseconds()), "server-tick-ms")
		report(b, "raw-close-watch", raw)
		report(b, "graceful", graceful)
		report(b, "crash", crash)
	}
}

func report(b *testing.B, name string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	pct := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return float64(ds[max(i, 0)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), name+"-p50-ms")
	b.ReportMetric(pct(0.99), name+"-p99-ms")
	b.Logf("%s (ms, n=%d): min %.2f p50 %.2f p99 %.2f max %.2f", name, len(ds),
		float64(ds[0].Microseconds())/1000, pct(0.5), pct(0.99), float64(ds[len(ds)-1].Microseconds())/1000)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
