package membership

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/session/sessiontest"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	if os.Getenv("STOCKSYS_MEMBERSHIP_HELPER") != "" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m)
}

func testLogger(t testing.TB) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

// helperMain runs one Member in a child process and prints
// "REGISTERED <session>" each time it registers. It exits when stdin closes.
func helperMain() int {
	ms, _ := strconv.Atoi(os.Getenv("HELPER_TIMEOUT_MS"))
	cfg := DefaultConfig(os.Getenv("HELPER_ID"), strings.Split(os.Getenv("STOCKSYS_ZK"), ",")...)
	cfg.Session.Timeout = time.Duration(ms) * time.Millisecond
	cfg.Root = os.Getenv("HELPER_ROOT")
	cfg.Addr = os.Getenv("HELPER_ADDR")
	m, err := New(cfg)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); cancel() }()
	go func() {
		for ctx.Err() == nil {
			select {
			case <-m.Registered():
				info, _ := m.Info()
				fmt.Printf("REGISTERED 0x%x\n", info.Session)
				for { // wait for this registration to end
					if _, ok := m.Info(); !ok || ctx.Err() != nil {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
			case <-ctx.Done():
			}
		}
	}()
	if err := m.Run(ctx); err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	return 0
}

type child struct {
	cmd   *exec.Cmd
	lines chan string
	once  sync.Once
}

func startChild(t *testing.T, root, id, addr string, timeout time.Duration) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STOCKSYS_MEMBERSHIP_HELPER=1", "HELPER_ROOT="+root, "HELPER_ID="+id,
		"HELPER_ADDR="+addr, "HELPER_TIMEOUT_MS="+strconv.FormatInt(timeout.Milliseconds(), 10),
		"STOCKSYS_ZK="+strings.Join(testenv.ZKServers(t), ","))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(c.kill)
	return c
}

func (c *child) kill() {
	c.once.Do(func() { _ = c.cmd.Process.Kill(); _ = c.cmd.Wait() })
}

func (c *child) waitLine(t *testing.T, prefix string, within time.Duration) string {
	t.Helper()
	timer := time.After(within)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child exited before printing %q", prefix)
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-timer:
			t.Fatalf("child printed no %q within %v", prefix, within)
		}
	}
}

// events collects a Watcher's events.
type events struct {
	ch <-chan Event
}

func (e events) next(t *testing.T, within time.Duration) Event {
	t.Helper()
	select {
	case ev, ok := <-e.ch:
		if !ok {
			t.Fatal("watcher stopped")
		}
		return ev
	case <-time.After(within):
		t.Fatalf("no membership event within %v", within)
	}
	return Event{}
}

func (e events) expect(t *testing.T, typ EventType, id string, within time.Duration) Event {
	t.Helper()
	ev := e.next(t, within)
	if ev.Type != typ || ev.ID != id {
		t.Fatalf("event %v %s (%+v), want %v %s", ev.Type, ev.ID, ev.Info, typ, id)
	}
	return ev
}

func (e events) none(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case ev := <-e.ch:
		t.Fatalf("unexpected event %v %s", ev.Type, ev.ID)
	case <-time.After(within):
	}
}

func newConfig(t *testing.T, root, id, addr string, timeout time.Duration) Config {
	cfg := DefaultConfig(id, testenv.ZKServers(t)...)
	cfg.Root, cfg.Addr = root, addr
	cfg.Session.Timeout = timeout
	cfg.Logger = testLogger(t)
	return cfg
}

// 6. Membership: join, update, leave and crash events with the right ids; a
// node restarted with the same id after kill -9 registers again once its old
// session expires; a duplicate live id is refused.
func TestIntegration_Membership(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	const timeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	wcfg := session.DefaultConfig(servers...)
	wcfg.Logger = testLogger(t)
	ws, err := session.New(ctx, wcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	w, err := NewWatcher(ws, root, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithCancel(ctx)
	werr := make(chan error, 1)
	go func() { werr <- w.Run(wctx) }()
	defer func() {
		wcancel()
		if err := <-werr; err != nil {
			t.Errorf("watcher: %v", err)
		}
	}()
	ev := events{w.Events()}

	// Join.
	alpha, err := New(newConfig(t, root, "alpha", "10.0.0.1:7000", timeout))
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	aerr := make(chan error, 1)
	go func() { aerr <- alpha.Run(actx) }()
	defer acancel()
	j := ev.expect(t, Join, "alpha", 10*time.Second)
	<-alpha.Registered()
	ai, _ := alpha.Info()
	if j.Info.Addr != "10.0.0.1:7000" || j.Info.Session != ai.Session || j.Info.Session == 0 {
		t.Fatalf("join info %+v, want addr 10.0.0.1:7000 session 0x%x", j.Info, ai.Session)
	}

	// Update.
	if err := alpha.SetCapacity(ctx, 8); err != nil {
		t.Fatal(err)
	}
	if u := ev.expect(t, Update, "alpha", 5*time.Second); u.Info.Capacity != 8 {
		t.Fatalf("update info %+v, want capacity 8", u.Info)
	}

	// A duplicate live id is refused, naming the session that holds it.
	dup, err := New(newConfig(t, root, "alpha", "10.0.0.9:7000", timeout))
	if err != nil {
		t.Fatal(err)
	}
	err = dup.Run(ctx)
	if !errors.Is(err, ErrDuplicateID) || !strings.Contains(err.Error(), fmt.Sprintf("0x%x", ai.Session)) {
		t.Fatalf("duplicate: %v, want ErrDuplicateID naming session 0x%x", err, ai.Session)
	}
	ev.none(t, 300*time.Millisecond)

	// A node in another process; crash it with kill -9.
	beta := startChild(t, root, "beta", "10.0.0.2:7000", timeout)
	old := strings.Fields(beta.waitLine(t, "REGISTERED", 15*time.Second))[1]
	if j := ev.expect(t, Join, "beta", 5*time.Second); fmt.Sprintf("0x%x", j.Info.Session) != old {
		t.Fatalf("beta joined with session 0x%x, child says %s", j.Info.Session, old)
	}
	killed := time.Now()
	if err := beta.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	beta.kill()
	// Restart it at once with the same id and address: it must wait for the
	// old session to expire, then register under a new one.
	beta2 := startChild(t, root, "beta", "10.0.0.2:7000", timeout)
	l := ev.expect(t, Leave, "beta", timeout+2*time.Second+5*time.Second)
	left := time.Since(killed)
	if fmt.Sprintf("0x%x", l.Info.Session) != old {
		t.Fatalf("leave of session 0x%x, want %s", l.Info.Session, old)
	}
	j2 := ev.expect(t, Join, "beta", 10*time.Second)
	reg := strings.Fields(beta2.waitLine(t, "REGISTERED", 5*time.Second))[1]
	t.Logf("kill -9 -> leave %v; rejoined as %s (was %s)", left, reg, old)
	if reg == old || fmt.Sprintf("0x%x", j2.Info.Session) != reg {
		t.Fatalf("restarted beta: session %s (join says 0x%x), old %s", reg, j2.Info.Session, old)
	}
	if left < timeout/2 {
		t.Fatalf("crash detected after %v, before the session could have expired", left)
	}

	// Graceful leave.
	acancel()
	if err := <-aerr; err != nil {
		t.Fatalf("alpha.Run: %v", err)
	}
	ev.expect(t, Leave, "alpha", 5*time.Second)
	got := w.Members()
	if len(got) != 1 || got["beta"].Session != j2.Info.Session {
		t.Fatalf("members %+v, want only beta", got)
	}
}

// A Member whose session expires registers again under a new session.
func TestIntegration_MemberReRegistersAfterExpiry(t *testing.T) {
	// Expire the member's session by freezing its link in a proxy.
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	p := sessiontest.NewProxy(t, servers[0])
	cfg := newConfig(t, root, "gamma", "", 2*time.Second)
	cfg.Session.Servers = []string{p.Addr()}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() { cancel(); <-done }()
	select {
	case <-m.Registered():
	case <-time.After(10 * time.Second):
		t.Fatal("not registered")
	}
	first, _ := m.Info()
	p.Freeze()
	time.Sleep(2*time.Second + 2*time.Second + 500*time.Millisecond) // past expiry, tick-rounded
	p.Thaw()
	p.Cut()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if info, ok := m.Info(); ok && info.Session != first.Session {
			admin := testenv.ZKConn(t, 5*time.Second)
			_, st, err := admin.Get(path.Join(root, "members", "gamma"))
			if err != nil || st.EphemeralOwner != int64(info.Session) {
				t.Fatalf("members/gamma: %v, owner %v, want 0x%x", err, st, info.Session)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("not registered again under a new session")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// 7. Invalid node ids are rejected before any connection is made.
func TestIntegration_InvalidNodeID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	accepted := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			mu.Unlock()
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-done }()
	for _, id := range []string{"", ".", "..", "../etc", "a/b", "a b", strings.Repeat("x", 65), "ñ", "a\n"} {
		cfg := DefaultConfig(id, ln.Addr().String())
		m, err := New(cfg)
		if !errors.Is(err, session.ErrInvalidNodeID) || !errors.Is(err, ErrInvalidConfig) || m != nil {
			t.Errorf("New(%q) = %v, %v; want ErrInvalidConfig wrapping session.ErrInvalidNodeID", id, m, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if accepted != 0 {
		t.Fatalf("%d connections made for invalid ids", accepted)
	}
}
