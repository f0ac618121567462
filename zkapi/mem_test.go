package zkapi_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/go-zookeeper/zk"

	"github.com/stock-system/stocksys/zkapi"
)

// What only the twin can show without a server: an expiry ends the
// session's watches and deletes its ephemerals; calls after Close fail.
func TestMemExpireAndClose(t *testing.T) {
	m := zkapi.NewMem()
	a, b := m.Session(), m.Session()
	if _, err := a.Create("/g", nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create("/g/a", []byte("x"), zk.FlagEphemeral, nil); err != nil {
		t.Fatal(err)
	}
	_, _, own, err := a.ExistsW("/g/none")
	if err != nil {
		t.Fatal(err)
	}
	_, _, other, err := b.ChildrenW("/g")
	if err != nil {
		t.Fatal(err)
	}
	a.Expire()
	if ev := <-own; ev.Type != zk.EventNotWatching || !errors.Is(ev.Err, zk.ErrSessionExpired) || ev.State != zk.StateExpired {
		t.Errorf("expired session's watch got %+v", ev)
	}
	if _, ok := <-own; ok {
		t.Error("expired session's watch channel not closed")
	}
	if ev := <-other; ev.Type != zk.EventNodeChildrenChanged || ev.Path != "/g" {
		t.Errorf("other session's child watch got %+v", ev)
	}
	if names, _, _ := b.Children("/g"); len(names) != 0 {
		t.Errorf("children after the owner's expiry: %v", names)
	}
	if _, _, err := a.Get("/g"); !errors.Is(err, zk.ErrSessionExpired) {
		t.Errorf("Get after Expire: %v", err)
	}
	b.Close()
	b.Close() // idempotent
	if _, err := b.Create("/h", nil, 0, nil); !errors.Is(err, zk.ErrClosing) {
		t.Errorf("Create after Close: %v", err)
	}
	if _, err := m.Session().Create("/h", nil, 7, nil); err == nil {
		t.Error("Create with flags 7 succeeded")
	}
	if _, err := m.Session().Multi("not an op"); err == nil {
		t.Error("Multi with an unknown op succeeded")
	}
}

// Many sessions creating sequential znodes under one parent at once (run
// with -race): every name distinct, numbered 0..n-1.
func TestMemConcurrentSequential(t *testing.T) {
	m := zkapi.NewMem()
	if _, err := m.Session().Create("/q", nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 50
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		names []string
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := m.Session()
			for i := 0; i < each; i++ {
				p, err := s.Create("/q/n-", nil, zk.FlagSequence, nil)
				if err != nil {
					t.Error(err)
					return
				}
				_, _, _ = s.Get(p)
				mu.Lock()
				names = append(names, p)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(names)
	if len(names) != workers*each {
		t.Fatalf("%d names, want %d", len(names), workers*each)
	}
	for i, n := range names {
		if want := fmt.Sprintf("/q/n-%010d", i); n != want {
			t.Fatalf("name %d is %s, want %s", i, n, want)
		}
	}
	_, st, err := m.Session().Exists("/q")
	if err != nil || st.NumChildren != workers*each || st.Cversion != workers*each {
		t.Fatalf("parent stat %+v, %v", st, err)
	}
}
