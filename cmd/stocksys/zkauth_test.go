package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/zkapi"
)

// TestIntegration_NodeZooKeeperACLs (issue 13, ZooKeeper security): a node
// started with --zk-auth-file and --zk-read-auth-file creates the cluster's
// znodes (members, the election's, assignments, status) with digest ACLs:
// the cluster's identity writes, the read identity only reads, an
// anonymous client gets NoAuth for both; `stocksys status` reads with the
// read identity and fails naming --zk-auth-file without it; a command's
// znode (symbols add) gets the root's ACL; a node with a wrong password
// exits non-zero naming the server and the setting; no password is ever
// printed (--dry-run, errors, logs).
func TestIntegration_NodeZooKeeperACLs(t *testing.T) {
	bin := proctest.Binary(t)
	servers := testenv.ZKServers(t)
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const wPass, rPass, badPass = "pw-cluster-7f3a", "pw-reader-91c2", "pw-wrong-55d0"
	wFile, rFile, badFile := file("w", "stocksys:"+wPass), file("r", "operator:"+rPass), file("bad", "stocksys:"+badPass)
	secrets := []string{wPass, rPass, badPass}
	noSecret := func(what, s string) {
		t.Helper()
		for _, p := range secrets {
			if strings.Contains(s, p) {
				t.Errorf("%s shows a password:\n%s", what, s)
			}
		}
	}
	zkFlags := []string{"--zk", strings.Join(servers, ","), "--cluster", cluster}
	writer, err := zkapi.Dial(servers, 10*time.Second, 10*time.Second, zkapi.DialAuth(&zkapi.Credentials{User: "stocksys", Password: wPass}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close) // after the deletion below
	t.Cleanup(func() {
		if err := zkapi.DeleteAll(writer, root); err != nil {
			t.Logf("cleanup %s: %v", root, err)
		}
	})

	// --dry-run prints the settings (the files' paths), no secret.
	out, err := exec.Command(bin, append([]string{"node", "--id", "sec-1", "--dry-run", "--zk-auth-file", wFile, "--zk-read-auth-file", rFile}, zkFlags...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), wFile) || !strings.Contains(string(out), rFile) {
		t.Fatalf("node --dry-run: %v\n%s\nwant the auth files' paths", err, out)
	}
	noSecret("node --dry-run", string(out))

	start := func(id, authFile string) (*exec.Cmd, *bytes.Buffer) {
		t.Helper()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		var log bytes.Buffer
		cmd := exec.Command(bin, append([]string{"node", "--id", id, "--placeholder-tasks", "--http", addr, "--session-timeout", "4s",
			"--connect-timeout", "20s", "--log-format", "json", "--zk-auth-file", authFile, "--zk-read-auth-file", rFile}, zkFlags...)...)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &log
	}
	node, nodeLog := start("sec-1", wFile)
	defer func() {
		if node.ProcessState == nil {
			_ = node.Process.Kill()
			_ = node.Wait()
		}
	}()

	// The read identity sees the node as master.
	var rep status.Report
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := runCLI(t, append([]string{"status", "--json", "--zk-auth-file", rFile}, zkFlags...)...)
		if err == nil && json.Unmarshal([]byte(out), &rep) == nil && rep.Master != nil && rep.Master.ID == "sec-1" && len(rep.Members) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status as the read identity: %v\n%s\nnode log:\n%s", err, out, nodeLog)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Every znode the node created under the root has the cluster's ACL.
	want := fmt.Sprintf("[{31 digest stocksys:%s} {1 digest operator:%s}]", digest("stocksys", wPass), digest("operator", rPass))
	raw := writer.(interface {
		GetACL(string) ([]zkapi.ACL, *zkapi.Stat, error)
	})
	checked := 0
	var walk func(p string)
	walk = func(p string) {
		acl, _, err := raw.GetACL(p)
		if err != nil || fmt.Sprint(acl) != want {
			t.Errorf("ACL of %s = %v, %v; want %s", p, acl, err, want)
		}
		checked++
		kids, _, err := writer.Children(p)
		if err != nil {
			t.Fatalf("children %s: %v", p, err)
		}
		for _, k := range kids {
			walk(p + "/" + k)
		}
	}
	walk(root)
	if checked < 8 {
		t.Errorf("%d znodes under %s; want the cluster's layout (members, master, epoch, assignments, status, ...)", checked, root)
	}
	t.Logf("%d znodes under %s, each with ACL %s", checked, root, want)
	if acl, _, err := raw.GetACL("/stocksys"); err != nil || fmt.Sprint(acl) != fmt.Sprint(zkapi.OpenACL()) {
		t.Errorf("ACL of /stocksys (shared by clusters) = %v, %v; want open", acl, err)
	}

	// Anonymous: NoAuth reading and writing, and the CLI says what to set.
	anon := testenv.ZKConn(t, 10*time.Second)
	if _, _, err := anon.Get(root + "/members/sec-1"); !errors.Is(err, zkapi.ErrNoAuth) {
		t.Errorf("anonymous get of members/sec-1: %v; want NoAuth", err)
	}
	if _, err := anon.Create(root+"/members/intruder", nil, zkapi.FlagEphemeral, zkapi.OpenACL()); !errors.Is(err, zkapi.ErrNoAuth) {
		t.Errorf("anonymous create under members/: %v; want NoAuth", err)
	}
	if _, err := anon.Set(root+"/epoch", []byte("99"), -1); !errors.Is(err, zkapi.ErrNoAuth) {
		t.Errorf("anonymous set of the epoch: %v; want NoAuth", err)
	}
	_, err = runCLI(t, append([]string{"status"}, zkFlags...)...)
	if err == nil || !strings.Contains(err.Error(), "not authorised") || !strings.Contains(err.Error(), "--zk-auth-file") {
		t.Errorf("anonymous status: %v; want an error saying to give --zk-auth-file", err)
	}
	// The read identity cannot write.
	_, err = runCLI(t, append([]string{"symbols", "add", "SPY", "--zk-auth-file", rFile}, zkFlags...)...)
	if err == nil || !strings.Contains(err.Error(), "digest:operator is not allowed") || !strings.Contains(err.Error(), "--zk-auth-file") {
		t.Errorf("symbols add as the read identity: %v; want an error naming the identity and --zk-auth-file", err)
	}
	// The cluster's identity adds a symbol (no --zk-read-auth-file given):
	// its znode gets the root's ACL, not one of the command's own.
	if _, err := runCLI(t, append([]string{"symbols", "add", "SPY", "--zk-auth-file", wFile}, zkFlags...)...); err != nil {
		t.Fatalf("symbols add as the cluster: %v", err)
	}
	if acl, _, err := raw.GetACL(root + "/symbols/SPY"); err != nil || fmt.Sprint(acl) != want {
		t.Errorf("ACL of symbols/SPY = %v, %v; want the root's %s", acl, err, want)
	}

	// A node with a wrong password exits non-zero, naming the server and
	// the setting, and not the password.
	bad, badLog := start("sec-2", badFile)
	done := make(chan error, 1)
	go func() { done <- bad.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("node with a wrong password exited 0; want non-zero\n%s", badLog)
		}
	case <-time.After(25 * time.Second):
		_ = bad.Process.Kill()
		<-done
		t.Fatalf("node with a wrong password still running after 25 s\n%s", badLog)
	}
	for _, s := range []string{"--zk-auth-file", "digest:stocksys", servers[0], "not allowed"} {
		if !strings.Contains(badLog.String(), s) {
			t.Errorf("wrong-password node's output lacks %q:\n%s", s, badLog)
		}
	}
	noSecret("wrong-password node's output", badLog.String())
	lines := strings.Split(strings.TrimSpace(badLog.String()), "\n")
	t.Logf("wrong-password node: %s", lines[len(lines)-1])

	if err := node.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := node.Wait(); err != nil {
		t.Errorf("node after SIGTERM: %v\n%s", err, nodeLog)
	}
	noSecret("node's log", nodeLog.String())
}

// digest is ZooKeeper's digest of user:password (DigestAuthenticationProvider):
// base64(sha1("user:password")).
func digest(user, password string) string {
	sum := sha1.Sum([]byte(user + ":" + password))
	return base64.StdEncoding.EncodeToString(sum[:])
}
