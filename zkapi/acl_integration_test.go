package zkapi_test

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

// TestIntegration_ClusterACL on the real ZooKeeper: znodes a writer creates
// through WithACL (Create and Multi) carry ClusterACL; a client without the
// cluster's identity gets ErrNoAuth writing them and, with a read identity
// in the ACL, reading them; the read identity reads and cannot write; a
// wrong password is another identity; DialACLFrom copies the root's ACL.
func TestIntegration_ClusterACL(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t) + "/acl"
	w := zkapi.Credentials{User: "cluster", Password: "pw-w"}
	r := zkapi.Credentials{User: "reader", Password: "pw-r"}
	bad := zkapi.Credentials{User: "cluster", Password: "pw-bad"}
	acl := zkapi.ClusterACL(w, &r)
	dial := func(opts ...zkapi.DialOption) zkapi.Client {
		t.Helper()
		c, err := zkapi.Dial(servers, 10*time.Second, 10*time.Second, opts...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		return c
	}
	raw := testenv.ZKConn(t, 10*time.Second) // anonymous
	writer := dial(zkapi.DialAuth(&w), zkapi.DialACL(root, acl))
	t.Cleanup(func() {
		if err := zkapi.DeleteAll(writer, root); err != nil {
			t.Logf("cleanup %s: %v", root, err)
		}
	})
	if err := session.EnsurePath(writer, root, nil); err != nil {
		t.Fatal(err)
	}
	// The parents outside the root stay open (other clusters live there).
	if got, _, err := raw.GetACL(path.Dir(root)); err != nil || fmt.Sprint(got) != fmt.Sprint(zkapi.OpenACL()) {
		t.Errorf("ACL of the root's parent %s = %v, %v; want open", path.Dir(root), got, err)
	}
	if _, err := writer.Multi(&zkapi.CreateRequest{Path: root + "/members", Acl: zkapi.OpenACL()},
		&zkapi.CreateRequest{Path: root + "/members/n1", Data: []byte("{}"), Acl: zkapi.OpenACL()}); err != nil {
		t.Fatal(err)
	}
	w2 := testenv.ZKConn(t, 10*time.Second)
	if err := zkapi.Authenticate(w2, w); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("[{31 digest %s} {1 digest %s}]", digestID("cluster", "pw-w"), digestID("reader", "pw-r"))
	for _, p := range []string{root, root + "/members", root + "/members/n1"} {
		got, _, err := w2.GetACL(p)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("ACL of %s = %v, %v; want %s", p, got, err, want)
		}
	}

	reader := dial(zkapi.DialAuth(&r))
	wrong := dial(zkapi.DialAuth(&bad))
	noAuth := func(who, op string, err error) {
		t.Helper()
		if !errors.Is(err, zkapi.ErrNoAuth) {
			t.Errorf("%s %s: %v; want ErrNoAuth", who, op, err)
		}
	}
	for who, c := range map[string]zkapi.Conn{"anonymous": raw, "wrong password": wrong} {
		_, _, err := c.Get(root + "/members/n1")
		noAuth(who, "get", err)
		_, err = c.Create(root+"/members/n2", nil, zkapi.FlagEphemeral, zkapi.OpenACL())
		noAuth(who, "create", err)
		_, err = c.Set(root+"/members/n1", []byte("x"), -1)
		noAuth(who, "set", err)
		noAuth(who, "delete", c.Delete(root+"/members/n1", -1))
	}
	if data, _, err := reader.Get(root + "/members/n1"); err != nil || string(data) != "{}" {
		t.Errorf("reader get: %q, %v; want {}", data, err)
	}
	if names, _, err := reader.Children(root + "/members"); err != nil || strings.Join(names, ",") != "n1" {
		t.Errorf("reader children: %v, %v; want [n1]", names, err)
	}
	_, err := reader.Create(root+"/members/n2", nil, 0, zkapi.OpenACL())
	noAuth("reader", "create", err)
	_, err = reader.Set(root+"/members/n1", []byte("x"), -1)
	noAuth("reader", "set", err)

	// A command's connection with the cluster's identity copies the
	// root's ACL, whatever ACL it would have made itself.
	cmd := dial(zkapi.DialAuth(&w), zkapi.DialACL(root, zkapi.ClusterACL(w, nil)), zkapi.DialACLFromRoot())
	if _, err := cmd.Create(root+"/symbols", nil, 0, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	if got, _, err := w2.GetACL(root + "/symbols"); err != nil || fmt.Sprint(got) != want {
		t.Errorf("ACL of a command's znode = %v, %v; want the root's %s", got, err, want)
	}
	// Without a read identity anyone reads, and only the cluster writes.
	open := root + "/open"
	ow := dial(zkapi.DialAuth(&w), zkapi.DialACL(open, zkapi.ClusterACL(w, nil)))
	if _, err := ow.Create(open, []byte("v"), 0, nil); err != nil {
		t.Fatal(err)
	}
	if data, _, err := raw.Get(open); err != nil || string(data) != "v" {
		t.Errorf("anonymous get without a read identity: %q, %v; want v", data, err)
	}
	_, err = raw.Set(open, []byte("x"), -1)
	noAuth("anonymous", "set without a read identity", err)
	// A command with a wrong password cannot read a reader-only root's
	// ACL: Dial says which znode, and never the password.
	_, err = zkapi.Dial(servers, 10*time.Second, 10*time.Second, zkapi.DialAuth(&bad), zkapi.DialACL(root, acl), zkapi.DialACLFromRoot())
	if !errors.Is(err, zkapi.ErrNoAuth) || !strings.Contains(err.Error(), root) || strings.Contains(err.Error(), "pw-bad") {
		t.Errorf("Dial with a wrong password and DialACLFrom: %v; want ErrNoAuth naming %s, no password", err, root)
	}
}
