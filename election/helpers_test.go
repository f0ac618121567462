package election

import (
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"

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

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) {
	if os.Getenv("STOCKSYS_ELECTION_HELPER") != "" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m)
}

func newSession(t testing.TB, servers []string, timeout time.Duration) *session.Session {
	t.Helper()
	cfg := session.DefaultConfig(servers...)
	cfg.Timeout = timeout
	cfg.Logger = testLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := session.New(ctx, cfg)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func testLogger(t testing.TB) *zap.Logger {
	if testing.Verbose() {
		return zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))
	}
	return zap.NewNop()
}

func newCandidate(t testing.TB, s *session.Session, root, id string) *Candidate {
	t.Helper()
	cfg := DefaultConfig(id)
	cfg.Root = root
	cfg.Addr = id + ".local:7000"
	cfg.Logger = testLogger(t)
	c, err := NewCandidate(s, cfg)
	if err != nil {
		t.Fatalf("NewCandidate(%s): %v", id, err)
	}
	t.Cleanup(c.Close)
	return c
}

// campaignResult is what a background Campaign returned.
type campaignResult struct {
	term *Term
	err  error
	at   time.Time
}

// campaignAsync starts c.Campaign in a goroutine; the result arrives on the
// returned channel. It waits until the candidate znode exists, so that calls
// in sequence queue candidates in that order.
func campaignAsync(t testing.TB, ctx context.Context, c *Candidate) <-chan campaignResult {
	t.Helper()
	ch := make(chan campaignResult, 1)
	go func() {
		term, err := c.Campaign(ctx)
		ch <- campaignResult{term, err, time.Now()}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for c.Znode() == "" {
		if time.Now().After(deadline) {
			t.Fatalf("candidate %s created no znode within 10s", c.cfg.NodeID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return ch
}

func waitTerm(t testing.TB, ch <-chan campaignResult, within time.Duration) campaignResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("Campaign: %v", r.err)
		}
		return r
	case <-time.After(within):
		t.Fatalf("no term within %v", within)
	}
	return campaignResult{}
}

func mustEpoch(t testing.TB, c zkapi.Conn, root string) int64 {
	t.Helper()
	e, _, err := Epoch(c, root)
	if err != nil {
		t.Fatalf("Epoch: %v", err)
	}
	return e
}

func mustMaster(t testing.TB, c zkapi.Conn, root string) tasks.MasterDoc {
	t.Helper()
	m, err := Current(c, root)
	if err != nil {
		t.Fatalf("Current: %v", err)
	}
	return m
}

// zkTickTime reads tickTime from the server's conf four-letter word.
func zkTickTime(t testing.TB, addr string) time.Duration {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("conf: %v", err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	_, _ = c.Write([]byte("conf"))
	b, _ := io.ReadAll(c)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "tickTime="); ok {
			ms, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return time.Duration(ms) * time.Millisecond
			}
		}
	}
	t.Fatalf("conf of %s has no tickTime", addr)
	return 0
}

// ---------------------------------------------------------------- child process

// child is a node run as a separate process (the test binary re-executed),
// so that it can be killed with SIGKILL or paused with SIGSTOP.
type child struct {
	cmd   *exec.Cmd
	lines chan line
	stdin io.WriteCloser
	once  sync.Once
}

type line struct {
	text string
	at   time.Time
}

// startChild runs helperMain in a new process. mode: "master" (campaign and
// hold) or "writer" (campaign, then a fenced create every 50 ms).
func startChild(t testing.TB, mode, root, id string, timeout time.Duration, extraEnv ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		"STOCKSYS_ELECTION_HELPER="+mode,
		"HELPER_ROOT="+root, "HELPER_ID="+id,
		"HELPER_TIMEOUT_MS="+strconv.FormatInt(timeout.Milliseconds(), 10),
		"STOCKSYS_ZK="+strings.Join(testenv.ZKServers(t), ","))
	cmd.Env = append(cmd.Env, extraEnv...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	ch := &child{cmd: cmd, lines: make(chan line, 4096), stdin: in}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch.lines <- line{sc.Text(), time.Now()}
		}
		close(ch.lines)
	}()
	t.Cleanup(ch.kill)
	return ch
}

func (c *child) signal(sig syscall.Signal) error { return c.cmd.Process.Signal(sig) }

func (c *child) kill() {
	c.once.Do(func() {
		_ = c.cmd.Process.Signal(syscall.SIGCONT)
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	})
}

// waitLine returns the first line starting with prefix, failing after within.
func (c *child) waitLine(t testing.TB, prefix string, within time.Duration) line {
	t.Helper()
	timer := time.After(within)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child exited before printing %q", prefix)
			}
			if strings.HasPrefix(l.text, prefix) {
				return l
			}
		case <-timer:
			t.Fatalf("child printed no %q line within %v", prefix, within)
		}
	}
}

// helperMain is the child's main. It prints:
//
//	MASTER <epoch> <session>     on winning
//	WROTE <epoch> <n>            after each successful fenced write (writer)
//	FENCED <err>                 when a write fails with ErrFenced
//	ERR <err>                    when a write fails otherwise
//	ENDED <cause>                when it stops writing for good
//
// It exits when its stdin closes.
func helperMain() int {
	mode := os.Getenv("STOCKSYS_ELECTION_HELPER")
	root, id := os.Getenv("HELPER_ROOT"), os.Getenv("HELPER_ID")
	ms, _ := strconv.Atoi(os.Getenv("HELPER_TIMEOUT_MS"))
	go func() { // exit when the parent goes away
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	scfg := session.DefaultConfig(strings.Split(os.Getenv("STOCKSYS_ZK"), ",")...)
	scfg.Timeout = time.Duration(ms) * time.Millisecond
	ctx := context.Background()
	s, err := session.New(ctx, scfg)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	cfg := DefaultConfig(id)
	cfg.Root = root
	c, err := NewCandidate(s, cfg)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	c.noDeadline = os.Getenv("HELPER_NO_DEADLINE") != ""
	term, err := c.Campaign(ctx)
	if err != nil {
		fmt.Println("ERR", err)
		return 1
	}
	fmt.Printf("MASTER %d 0x%x\n", term.Epoch, s.ID())
	if mode == "writer" {
		for n := 0; ; n++ {
			_, err := term.Fenced(ctx, &zk.CreateRequest{Path: path.Join(root, "work", "w-"),
				Data: []byte(fmt.Sprintf("%s %d %d", id, term.Epoch, n)), Acl: zk.WorldACL(zk.PermAll), Flags: zk.FlagSequence})
			switch {
			case err == nil:
				fmt.Printf("WROTE %d %d\n", term.Epoch, n)
			case errors.Is(err, ErrFenced):
				fmt.Println("FENCED", err)
			default:
				fmt.Println("ERR", err)
			}
			if errors.Is(err, ErrFenced) {
				fmt.Println("ENDED", term.Err())
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	select {} // hold until killed or stdin closes
}

// counter is a TCP listener that counts the connections made to it.
type counter struct {
	ln net.Listener
	mu sync.Mutex
	n  int
}

func countingListener(t testing.TB) *counter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &counter{ln: ln}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.mu.Lock()
			c.n++
			c.mu.Unlock()
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return c
}

func (c *counter) addr() string { return c.ln.Addr().String() }

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
