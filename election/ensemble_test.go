package election

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
)

// ensemble is a 3-server ZooKeeper ensemble of this test's own, run by
// scripts/infra.sh on ports of its own.
type ensemble struct {
	t       testing.TB
	script  string
	env     []string
	servers []string
}

const (
	ensembleClientPort = 22181 // 22181..22183
	ensemblePeerPort   = 22888 // 22889..22891, 23889..23891
)

func startEnsemble(t *testing.T) *ensemble {
	t.Helper()
	testenv.ZKServers(t) // skips (or fails under CI) where no ZooKeeper runs at all
	_, file, _, _ := runtime.Caller(0)
	e := &ensemble{
		t:      t,
		script: filepath.Join(filepath.Dir(file), "..", "scripts", "infra.sh"),
		env: append(os.Environ(),
			"STOCKSYS_INFRA_DIR="+t.TempDir(),
			fmt.Sprintf("STOCKSYS_ZK_PORT=%d", ensembleClientPort),
			fmt.Sprintf("STOCKSYS_ZK_PEER_PORT=%d", ensemblePeerPort)),
	}
	for i := range 3 {
		e.servers = append(e.servers, fmt.Sprintf("127.0.0.1:%d", ensembleClientPort+i))
	}
	t.Cleanup(func() { e.run("down", "--purge") })
	e.startOrWait("up", "--zk-ensemble", "3", "--only", "zookeeper")
	return e
}

// startOrWait runs an infra.sh command that starts servers. infra.sh can
// exit 1 right after launching a server when it checks the new process
// before java has exec'd (pid_of reads /proc/PID/cmdline); so on failure
// it waits for the servers to answer `ruok` before giving up.
func (e *ensemble) startOrWait(args ...string) {
	e.t.Helper()
	out, err := e.run(args...)
	if err == nil {
		return
	}
	e.t.Logf("infra.sh %s: %v (waiting for the servers to answer)\n%s", strings.Join(args, " "), err, out)
	deadline := time.Now().Add(60 * time.Second)
	for _, addr := range e.servers {
		for !ruok(addr) {
			if time.Now().After(deadline) {
				e.t.Fatalf("infra.sh %s: %v, and %s does not answer ruok\n%s", strings.Join(args, " "), err, addr, out)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
}

func ruok(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false
	}
	b, _ := io.ReadAll(c)
	return string(b) == "imok"
}

func (e *ensemble) run(args ...string) (string, error) {
	cmd := exec.Command("bash", append([]string{e.script}, args...)...)
	cmd.Env = e.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (e *ensemble) must(args ...string) {
	e.t.Helper()
	if out, err := e.run(args...); err != nil {
		e.t.Fatalf("infra.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// termLog records the terms nodes hold, with this process's clock.
type termLog struct {
	mu    sync.Mutex
	terms []*termSpan
}

type termSpan struct {
	node       string
	epoch      int64
	start, end time.Time
	deadline   time.Time // the session's safe deadline when the term ended
	cause      error
}

func (l *termLog) lead(node string) func(*Term) {
	return func(t *Term) {
		sp := &termSpan{node: node, epoch: t.Epoch, start: time.Now()}
		l.mu.Lock()
		l.terms = append(l.terms, sp)
		l.mu.Unlock()
		<-t.Done()
		end := time.Now()
		l.mu.Lock()
		sp.end, sp.deadline, sp.cause = end, t.c.s.SafeDeadline(), t.Err()
		l.mu.Unlock()
	}
}

func (l *termLog) snapshot() []termSpan {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]termSpan, len(l.terms))
	for i, sp := range l.terms {
		out[i] = *sp
	}
	return out
}

func (l *termLog) live() []termSpan {
	var out []termSpan
	for _, sp := range l.snapshot() {
		if sp.end.IsZero() {
			out = append(out, sp)
		}
	}
	return out
}

// check asserts that epochs are distinct and that no two nodes' terms
// overlap in time.
func (l *termLog) check(t *testing.T) {
	t.Helper()
	all := l.snapshot()
	seen := map[int64]string{}
	for i, a := range all {
		if n, dup := seen[a.epoch]; dup {
			t.Fatalf("epoch %d held by %s and %s", a.epoch, n, a.node)
		}
		seen[a.epoch] = a.node
		for _, b := range all[i+1:] {
			aEnd, bEnd := a.end, b.end
			if aEnd.IsZero() {
				aEnd = time.Now()
			}
			if bEnd.IsZero() {
				bEnd = time.Now()
			}
			if a.node != b.node && a.start.Before(bEnd) && b.start.Before(aEnd) {
				t.Fatalf("terms overlap: %s epoch %d [%v, %v] and %s epoch %d [%v, %v]",
					a.node, a.epoch, a.start, a.end, b.node, b.epoch, b.start, b.end)
			}
		}
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// 4. Quorum loss: with 2 of 3 servers stopped, the master stops acting by
// its safe deadline; once they are back there is exactly one master, with a
// higher epoch.
func TestIntegration_QuorumLoss(t *testing.T) {
	e := startEnsemble(t)
	const timeout = 3 * time.Second
	root := "/stocksys-test/quorum-loss"
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()

	var log termLog
	for _, node := range []string{"a", "b", "c"} {
		scfg := session.DefaultConfig(e.servers...)
		scfg.Timeout = timeout
		scfg.Logger = testLogger(t)
		cfg := DefaultConfig(node)
		cfg.Root = root
		cfg.Logger = testLogger(t)
		wg.Add(1)
		go func() { defer wg.Done(); _ = Run(ctx, scfg, cfg, log.lead(node)) }()
	}
	waitFor(t, 20*time.Second, "one master", func() bool { return len(log.live()) == 1 })
	time.Sleep(time.Second)
	first := log.live()
	if len(first) != 1 {
		t.Fatalf("live terms %+v, want exactly 1", first)
	}
	e1 := first[0].epoch

	e.must("stop", "zk2")
	lost := time.Now()
	e.must("stop", "zk3")
	stopped := time.Now()
	t.Logf("stopped zk2 and zk3 in %v", stopped.Sub(lost))
	waitFor(t, timeout+15*time.Second, "the master stopping", func() bool { return len(log.live()) == 0 })
	var ended termSpan
	for _, sp := range log.snapshot() {
		if sp.epoch == e1 {
			ended = sp
		}
	}
	t.Logf("quorum lost -> master %s stopped after %v (%v past its safe deadline; cause %v)",
		ended.node, ended.end.Sub(lost), ended.end.Sub(ended.deadline), ended.cause)
	if late := ended.end.Sub(ended.deadline); late > 500*time.Millisecond {
		t.Fatalf("master stopped %v after its safe deadline, want <= 500ms", late)
	}
	// Nobody may become master without a quorum.
	time.Sleep(2 * time.Second)
	if live := log.live(); len(live) != 0 {
		t.Fatalf("a master without quorum: %+v", live)
	}

	e.startOrWait("start", "zk2") // zk1 and zk2 form a quorum again
	restarted := time.Now()
	e.startOrWait("start", "zk3")
	waitFor(t, 60*time.Second, "a new master", func() bool { return len(log.live()) == 1 })
	time.Sleep(2 * timeout)
	live := log.live()
	if len(live) != 1 || live[0].epoch <= e1 {
		t.Fatalf("after the restart: live terms %+v, want exactly one with epoch > %d", live, e1)
	}
	t.Logf("servers back -> master %s epoch %d after %v", live[0].node, live[0].epoch, live[0].start.Sub(restarted))
	s := newSession(t, e.servers, 10*time.Second)
	m := mustMaster(t, s.Conn(), root)
	if m.ID != live[0].node || m.Epoch != live[0].epoch {
		t.Fatalf("master znode %+v, live term %+v", m, live[0])
	}
	if ep := mustEpoch(t, s.Conn(), root); ep != live[0].epoch {
		t.Fatalf("epoch znode %d, live term %d", ep, live[0].epoch)
	}
	log.check(t)
}
