package zkapi_test

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stock-system/stocksys/zkapi"
)

// digestID is the ACL id of user:password as ZooKeeper's
// DigestAuthenticationProvider.generateDigest computes it, written here
// from its definition: user:base64(sha1(user:password)).
func digestID(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestReadCredentials(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "stocksys:s3cr:et\n")
	c, err := zkapi.ReadCredentials(good)
	if err != nil || c.User != "stocksys" || c.Password != "s3cr:et" {
		t.Fatalf("ReadCredentials(good) = %+v, %v; want stocksys / s3cr:et", c, err)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v %+v %#v", c, c, c)} {
		if strings.Contains(s, "s3cr") {
			t.Errorf("printed credentials %q show the password", s)
		}
	}
	for _, tc := range []struct{ name, content, want string }{
		{"nocolon", "stocksys\n", "found no ':'"},
		{"nopass", "stocksys:\n", "empty user or password"},
		{"nouser", ":secret-x\n", "empty user or password"},
		{"lines", "a:secret-x\nb:secret-y\n", "several lines"},
		{"blank", "sto cksys:secret-x", "the user holds blanks"},
	} {
		p := write(tc.name, tc.content)
		_, err := zkapi.ReadCredentials(p)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v; want an error naming %s and %q", tc.name, err, p, tc.want)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error %q shows the file's content", tc.name, err)
		}
	}
	if _, err := zkapi.ReadCredentials(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v; want an error naming it", err)
	}
}

func TestClusterACL(t *testing.T) {
	w, r := zkapi.Credentials{User: "cluster", Password: "pw-w"}, zkapi.Credentials{User: "reader", Password: "pw-r"}
	got := zkapi.ClusterACL(w, &r)
	want := []zkapi.ACL{{Perms: 31, Scheme: "digest", ID: digestID("cluster", "pw-w")}, {Perms: 1, Scheme: "digest", ID: digestID("reader", "pw-r")}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ClusterACL(w, r) = %v; want %v", got, want)
	}
	got = zkapi.ClusterACL(w, nil)
	want = []zkapi.ACL{want[0], {Perms: 1, Scheme: "world", ID: "anyone"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ClusterACL(w, nil) = %v; want %v", got, want)
	}
}

// recACL records the ACL of every create it is asked for (Create, and the
// CreateRequests of Multi), in order, and passes the calls on.
type recACL struct {
	zkapi.Conn
	acls [][]zkapi.ACL
}

func (r *recACL) Create(p string, data []byte, flags int32, acl []zkapi.ACL) (string, error) {
	r.acls = append(r.acls, acl)
	return r.Conn.Create(p, data, flags, acl)
}

func (r *recACL) Multi(ops ...any) ([]zkapi.MultiResponse, error) {
	for _, op := range ops {
		if c, ok := op.(*zkapi.CreateRequest); ok {
			r.acls = append(r.acls, c.Acl)
		}
	}
	return r.Conn.Multi(ops...)
}

func TestWithACL(t *testing.T) {
	mem := zkapi.NewMem()
	rec := &recACL{Conn: mem.Session()}
	acl := zkapi.ClusterACL(zkapi.Credentials{User: "cluster", Password: "pw"}, nil)
	if c := zkapi.WithACL(rec, "/a", nil); c != zkapi.Conn(rec) {
		t.Errorf("WithACL(c, root, nil) = %T; want c itself", c)
	}
	c := zkapi.WithACL(rec, "/a", acl)
	// Outside the root (its parent, a sibling with the root as prefix):
	// the caller's ACL.
	if _, err := c.Create("/ab", nil, 0, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multi(&zkapi.CreateRequest{Path: "/ab/x", Acl: zkapi.OpenACL()}); err != nil {
		t.Fatal(err)
	}
	if len(rec.acls) != 2 || fmt.Sprint(rec.acls[0]) != fmt.Sprint(zkapi.OpenACL()) || fmt.Sprint(rec.acls[1]) != fmt.Sprint(zkapi.OpenACL()) {
		t.Fatalf("creates outside the root went with %v; want the caller's open ACL twice", rec.acls)
	}
	rec.acls = nil
	if _, err := c.Create("/a", nil, 0, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	req := &zkapi.CreateRequest{Path: "/a/b", Acl: zkapi.OpenACL()}
	if _, err := c.Multi(req, &zkapi.SetDataRequest{Path: "/a", Version: -1}, &zkapi.CreateRequest{Path: "/a/c"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.acls) != 3 {
		t.Fatalf("%d creates recorded; want 3", len(rec.acls))
	}
	for i, got := range rec.acls {
		if fmt.Sprint(got) != fmt.Sprint(acl) {
			t.Errorf("create %d went with ACL %v; want %v", i, got, acl)
		}
	}
	if fmt.Sprint(req.Acl) != fmt.Sprint(zkapi.OpenACL()) {
		t.Errorf("the caller's request was changed: %v", req.Acl)
	}
	if ok, _, err := c.Exists("/a/c"); !ok || err != nil {
		t.Errorf("/a/c after the Multi: exists %v, %v", ok, err)
	}
}
