package status_test

import (
	"encoding/json"
	"github.com/stock-system/stocksys/tasks"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/zkapi"
)

// TestIntegration_FencedMasterNotShown (issue 14): when the epoch znode has
// moved past the epoch in the master znode (bumped by an operator, or a
// newer winner not yet written), status shows no master, names the fenced
// one, and says why; with equal epochs it shows the master.
func TestIntegration_FencedMasterNotShown(t *testing.T) {
	root := testenv.ZKRoot(t)
	c := testenv.ZKConn(t, 10*time.Second)
	if _, err := c.Create(root, nil, 0, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(tasks.MasterDoc{ID: "node-7", Epoch: 3, Session: 42, Since: time.Now()})
	for _, z := range []struct{ p, v string }{{"epoch", "3"}, {"master", string(data)}} {
		if _, err := c.Create(path.Join(root, z.p), []byte(z.v), 0, zkapi.OpenACL()); err != nil {
			t.Fatal(err)
		}
	}
	r, err := status.Read(c, "t", root)
	if err != nil {
		t.Fatal(err)
	}
	if r.Master == nil || r.Master.ID != "node-7" || r.FencedMaster != nil {
		t.Fatalf("equal epochs: master %+v, fenced %+v; want node-7 as master", r.Master, r.FencedMaster)
	}
	if _, err := c.Set(path.Join(root, "epoch"), []byte("4"), -1); err != nil {
		t.Fatal(err)
	}
	r, err = status.Read(c, "t", root)
	if err != nil {
		t.Fatal(err)
	}
	if r.Master != nil || r.FencedMaster == nil || r.FencedMaster.ID != "node-7" || r.FencedMaster.Epoch != 3 || r.Epoch != 4 {
		t.Fatalf("epoch bumped: master %+v, fenced %+v, epoch %d; want no master, node-7 fenced at 3, epoch 4", r.Master, r.FencedMaster, r.Epoch)
	}
	var b strings.Builder
	status.WriteText(&b, r, time.Now())
	if !strings.Contains(b.String(), "master  NONE (node-7 still holds the master znode with epoch 3, but the epoch znode holds 4: it is fenced)") {
		t.Fatalf("text output:\n%s", b.String())
	}
}
