package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
)

// TestIntegration_ReadCommandsCreateNothing: `symbols ls`, `symbols rm`,
// `task ls` and `status` on a cluster that does not exist (a mistyped
// --cluster) create no znode, and the listing commands say on stderr that
// nothing has run there, their stdout staying an empty list.
func TestIntegration_ReadCommandsCreateNothing(t *testing.T) {
	cluster := testenv.Name(t, "-")
	root := "/stocksys/" + cluster
	zc := testenv.ZKConn(t, 10*time.Second)
	t.Cleanup(func() { _ = testenv.DeleteRecursive(zc, root) })
	zk := "--zk=" + strings.Join(testenv.ZKServers(t), ",")
	for _, tc := range []struct {
		args    []string
		wantErr bool
		stderr  string
	}{
		{[]string{"symbols", "ls"}, false, `(no symbols: nothing has run in cluster "` + cluster + `" yet`},
		{[]string{"symbols", "rm", "SPY"}, true, ""},
		{[]string{"task", "ls"}, false, `(nothing has run in cluster "` + cluster + `" yet`},
		{[]string{"status"}, false, ""},
	} {
		cmd := newRootCmd()
		var out, errb bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errb)
		cmd.SetArgs(append(tc.args, zk, "--cluster", cluster))
		err := cmd.ExecuteContext(t.Context())
		if (err != nil) != tc.wantErr {
			t.Errorf("%v: error %v; want error %v", tc.args, err, tc.wantErr)
		}
		if !strings.Contains(errb.String(), tc.stderr) {
			t.Errorf("%v: stderr %q; want %q", tc.args, errb.String(), tc.stderr)
		}
		if ok, _, err := zc.Exists(root); err != nil || ok {
			t.Fatalf("after %v: %s exists %v (%v); want no znode created", tc.args, root, ok, err)
		}
	}
}
