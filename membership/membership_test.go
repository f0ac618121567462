package membership

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stock-system/stocksys/tasks"
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
	"github.com/stock-system/stocksys/zkapi"
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

// members reads root/members as a reader of the cluster does: each
// member's document by id (the znode's name).
func members(t *testing.T, conn zkapi.Conn, root string) map[string]tasks.MemberDoc {
	t.Helper()
	dir := path.Join(root, "members")
	names, _, err := conn.Children(dir)
	if errors.Is(err, zkapi.ErrNoNode) {
		return map[string]tasks.MemberDoc{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]tasks.MemberDoc{}
	for _, n := range names {
		data, _, err := conn.Get(path.Join(dir, n))
		if errors.Is(err, zkapi.ErrNoNode) {
			continue // left between the listing and the read
		}
		if err != nil {
			t.Fatal(err)
		}
		var info tasks.MemberDoc
		if err := json.Unmarshal(data, &info); err != nil {
			t.Fatalf("members/%s: %v", n, err)
		}
		out[n] = info
	}
	return out
}

// waitMembers polls root/members every 5 ms until cond holds of them, and
// returns them; it fails after within, showing what it saw.
func waitMembers(t *testing.T, conn zkapi.Conn, root, what string, within time.Duration, cond func(map[string]tasks.MemberDoc) bool) map[string]tasks.MemberDoc {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		m := members(t, conn, root)
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("members %+v after %v; want %s", m, within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newConfig(t *testing.T, root, id, addr string, timeout time.Duration) Config {
	cfg := DefaultConfig(id, testenv.ZKServers(t)...)
	cfg.Root, cfg.Addr = root, addr
	cfg.Session.Timeout = timeout
	cfg.Logger = testLogger(t)
	return cfg
}

// 6. Membership: join, update, leave and crash seen in members/ with the right ids; a
// node restarted with the same id after kill -9 registers again once its old
// session expires; a duplicate live id is refused.
func TestIntegration_Membership(t *testing.T) {
	root := testenv.ZKRoot(t)
	const timeout = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin := testenv.ZKConn(t, 10*time.Second)

	// Join.
	alpha, err := New(newConfig(t, root, "alpha", "10.0.0.1:7000", timeout))
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithCancel(ctx)
	aerr := make(chan error, 1)
	go func() { aerr <- alpha.Run(actx) }()
	defer acancel()
	<-alpha.Registered()
	ai, _ := alpha.Info()
	j := waitMembers(t, admin, root, "alpha", 10*time.Second, func(m map[string]tasks.MemberDoc) bool { return m["alpha"].ID == "alpha" })["alpha"]
	if j.Addr != "10.0.0.1:7000" || j.Session != ai.Session || j.Session == 0 {
		t.Fatalf("join info %+v, want addr 10.0.0.1:7000 session 0x%x", j, ai.Session)
	}

	// Update.
	if err := alpha.SetCapacity(ctx, 8); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, admin, root, "alpha with capacity 8", 5*time.Second, func(m map[string]tasks.MemberDoc) bool {
		return m["alpha"].Capacity == 8 && m["alpha"].Session == ai.Session
	})

	// A duplicate live id is refused, naming the session that holds it.
	dup, err := New(newConfig(t, root, "alpha", "10.0.0.9:7000", timeout))
	if err != nil {
		t.Fatal(err)
	}
	err = dup.Run(ctx)
	if !errors.Is(err, ErrDuplicateID) || !strings.Contains(err.Error(), fmt.Sprintf("0x%x", ai.Session)) {
		t.Fatalf("duplicate: %v, want ErrDuplicateID naming session 0x%x", err, ai.Session)
	}
	time.Sleep(300 * time.Millisecond)
	if m := members(t, admin, root); len(m) != 1 || m["alpha"].Session != ai.Session || m["alpha"].Addr != "10.0.0.1:7000" {
		t.Fatalf("members after a refused duplicate: %+v; want alpha alone, unchanged", m)
	}

	// A node in another process; crash it with kill -9.
	beta := startChild(t, root, "beta", "10.0.0.2:7000", timeout)
	old := strings.Fields(beta.waitLine(t, "REGISTERED", 15*time.Second))[1]
	if j := waitMembers(t, admin, root, "beta", 5*time.Second, func(m map[string]tasks.MemberDoc) bool { return m["beta"].ID == "beta" })["beta"]; fmt.Sprintf("0x%x", j.Session) != old {
		t.Fatalf("beta joined with session 0x%x, child says %s", j.Session, old)
	}
	killed := time.Now()
	if err := beta.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	beta.kill()
	// Restart it at once with the same id and address: it must wait for the
	// old session to expire, then register under a new one.
	beta2 := startChild(t, root, "beta", "10.0.0.2:7000", timeout)
	// The old session's znode goes (the new one can only be created after).
	waitMembers(t, admin, root, "beta's old session gone", timeout+2*time.Second+5*time.Second, func(m map[string]tasks.MemberDoc) bool {
		b, ok := m["beta"]
		return !ok || fmt.Sprintf("0x%x", b.Session) != old
	})
	left := time.Since(killed)
	reg := strings.Fields(beta2.waitLine(t, "REGISTERED", 10*time.Second))[1]
	j2 := waitMembers(t, admin, root, "beta under its new session", 5*time.Second, func(m map[string]tasks.MemberDoc) bool {
		return fmt.Sprintf("0x%x", m["beta"].Session) == reg
	})["beta"]
	t.Logf("kill -9 -> leave %v; rejoined as %s (was %s)", left, reg, old)
	if reg == old || j2.Addr != "10.0.0.2:7000" {
		t.Fatalf("restarted beta: session %s (old %s), info %+v", reg, old, j2)
	}
	if left < timeout/2 {
		t.Fatalf("crash detected after %v, before the session could have expired", left)
	}

	// Graceful leave.
	acancel()
	if err := <-aerr; err != nil {
		t.Fatalf("alpha.Run: %v", err)
	}
	got := waitMembers(t, admin, root, "alpha gone", 5*time.Second, func(m map[string]tasks.MemberDoc) bool { _, ok := m["alpha"]; return !ok })
	if len(got) != 1 || got["beta"].Session != j2.Session {
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
