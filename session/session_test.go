package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/session/sessiontest"
	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSession(t *testing.T, servers []string, timeout time.Duration) *session.Session {
	t.Helper()
	cfg := session.DefaultConfig(servers...)
	cfg.Timeout = timeout
	cfg.Logger = zaptest.NewLogger(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := session.New(ctx, cfg)
	if err != nil {
		t.Fatalf("session.New: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestIntegration_SessionBasics(t *testing.T) {
	servers := testenv.ZKServers(t)
	start := time.Now()
	s := newSession(t, servers, 2*time.Second)
	if s.ID() == 0 {
		t.Fatal("session id is 0")
	}
	if got := s.Timeout(); got != 2*time.Second {
		t.Fatalf("negotiated timeout %v, want 2s", got)
	}
	if !s.Safe() {
		t.Fatal("new session is not safe")
	}
	dl := s.SafeDeadline()
	if dl.Before(start.Add(2*time.Second*2/3)) || dl.After(time.Now().Add(2*time.Second*2/3)) {
		t.Fatalf("safe deadline %v not within [start, now] + 4/3s", dl)
	}
	// Heartbeats keep it safe well past one deadline.
	time.Sleep(2 * time.Second)
	if !s.Safe() {
		t.Fatalf("session unsafe after 2s of heartbeats (deadline %v, now %v)", s.SafeDeadline(), time.Now())
	}
	if ok, _, err := s.Conn().Exists("/"); err != nil || !ok {
		t.Fatalf("Exists(/) = %v, %v", ok, err)
	}
	s.Close()
	s.Close() // idempotent
	select {
	case <-s.Done():
	default:
		t.Fatal("Done not closed after Close")
	}
	if !errors.Is(s.Err(), session.ErrClosed) {
		t.Fatalf("Err = %v, want ErrClosed", s.Err())
	}
	if s.Safe() {
		t.Fatal("closed session still safe")
	}
}

func TestIntegration_TimeoutOutOfRange(t *testing.T) {
	servers := testenv.ZKServers(t)
	for _, d := range []time.Duration{500 * time.Millisecond, 60 * time.Second} {
		cfg := session.DefaultConfig(servers...)
		cfg.Timeout = d
		s, err := session.New(context.Background(), cfg)
		if err == nil {
			s.Close()
			t.Fatalf("timeout %v accepted", d)
		}
		if !errors.Is(err, session.ErrTimeoutOutOfRange) {
			t.Fatalf("timeout %v: err %v, want ErrTimeoutOutOfRange", d, err)
		}
		// The test server allows 1000..40000 ms (scripts/infra.sh).
		if !strings.Contains(err.Error(), "1s..40s") {
			t.Fatalf("timeout %v: error %q does not give the server's range 1s..40s", d, err)
		}
	}
}

// A frozen link: the session turns unsafe at its safe deadline, long before
// the server can expire it, then expires; the Conn never opens a new session.
func TestIntegration_FreezeUnsafeThenExpired(t *testing.T) {
	servers := testenv.ZKServers(t)
	p := sessiontest.NewProxy(t, servers[0])
	const timeout = 2 * time.Second
	s := newSession(t, []string{p.Addr()}, timeout)
	unsafe := s.Unsafe()
	frozeAt := time.Now()
	p.Freeze()
	deadline := s.SafeDeadline()
	if d := deadline.Sub(frozeAt); d > timeout*2/3 || d < 0 {
		t.Fatalf("deadline %v after freeze, want within (0, 2/3 T]", d)
	}
	select {
	case <-unsafe:
		late := time.Since(deadline)
		if late < 0 {
			t.Fatalf("unsafe %v before the deadline", -late)
		}
		if late > 300*time.Millisecond {
			t.Fatalf("unsafe %v after the deadline, want <= 300ms", late)
		}
		if s.Safe() {
			t.Fatal("Safe() true after Unsafe closed")
		}
	case <-time.After(timeout):
		t.Fatal("not unsafe within one session timeout of the freeze")
	}
	select {
	case <-s.Done():
		t.Fatalf("Done closed during the freeze: %v", s.Err())
	default:
	}
	// Stay frozen past the latest instant the server may expire the session
	// (timeout rounded up to the next tick of 2 s), then let the client back.
	time.Sleep(time.Until(frozeAt.Add(timeout + 2*time.Second + 500*time.Millisecond)))
	p.Thaw()
	p.Cut()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("session not reported expired 10s after the link came back")
	}
	if !errors.Is(s.Err(), session.ErrExpired) {
		t.Fatalf("Err = %v, want ErrExpired", s.Err())
	}
	n := p.Accepted()
	time.Sleep(1500 * time.Millisecond)
	if p.Accepted() != n {
		t.Fatalf("client dialled again after expiry (%d -> %d connections)", n, p.Accepted())
	}
}

func TestValidateNodeID(t *testing.T) {
	long := strings.Repeat("a", 64)
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"node-1", true}, {"A.b_c-9", true}, {long, true}, {"...", true},
		{"", false}, {".", false}, {"..", false}, {long + "a", false},
		{"a/b", false}, {"a b", false}, {"é", false}, {"a\x00", false}, {"/", false},
	} {
		err := session.ValidateNodeID(tc.id)
		if tc.ok && err != nil {
			t.Errorf("ValidateNodeID(%q) = %v, want nil", tc.id, err)
		}
		if !tc.ok && !errors.Is(err, session.ErrInvalidNodeID) {
			t.Errorf("ValidateNodeID(%q) = %v, want ErrInvalidNodeID", tc.id, err)
		}
	}
}
