package testenv

import (
	"path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/zkapi"
)

// ZKTestRoot is the znode under which every test's own root lives.
const ZKTestRoot = "/stocksys-test"

// ZKConn opens a ZooKeeper session to ZKServers with the given session
// timeout and closes it on cleanup. It waits (up to 10 s) until the session
// is established, failing the test otherwise.
func ZKConn(t testing.TB, sessionTimeout time.Duration) *zk.Conn {
	t.Helper()
	c, ev, err := zk.Connect(ZKServers(t), sessionTimeout, zk.WithLogInfo(false))
	if err != nil {
		t.Fatalf("testenv: zk connect: %v", err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() { // keep draining: go-zookeeper drops events on a full channel
					for range ev {
					}
				}()
				return c
			}
		case <-deadline:
			t.Fatalf("testenv: no ZooKeeper session within 10s (state %v)", c.State())
		}
	}
}

// ZKRoot returns a fresh znode path, /stocksys-test/<name>, for the test's own
// use as its root (go-zookeeper has no chroot support, so code under test takes
// a root path). The path is not created. Everything under it is deleted on
// cleanup.
func ZKRoot(t testing.TB) string {
	t.Helper()
	root := path.Join(ZKTestRoot, Name(t, "-"))
	servers := ZKServers(t)
	t.Cleanup(func() {
		c, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			t.Logf("testenv: cleanup of %s: %v", root, err)
			return
		}
		defer c.Close()
		if err := DeleteRecursive(c, root); err != nil {
			t.Logf("testenv: cleanup of %s: %v", root, err)
		}
	})
	return root
}

// DeleteRecursive deletes p and all its descendants (zkapi.DeleteAll).
func DeleteRecursive(c zkapi.Conn, p string) error { return zkapi.DeleteAll(c, p) }
