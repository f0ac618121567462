package election

import (
	"context"
	"path"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stock-system/stocksys/internal/testenv"
)

// TestIntegration_WinAhead (issue 19): the next in line reads its winning
// Multi's inputs while it waits, so a handover's win is the Multi alone. A
// resign hands over to node-2 that way; node-3, queued third, re-reads its
// inputs when node-2's term is won (its epoch watch) and wins the next
// handover the same way. Inputs gone stale (the epoch moved, a master znode
// remains) never win: an operator deletes node-3's candidate znode and
// raises the epoch in one Multi while node-3's session (and master znode)
// lives; node-4 wins only once that master znode is gone, with the epoch
// above the operator's.
func TestIntegration_WinAhead(t *testing.T) {
	servers := testenv.ZKServers(t)
	root := testenv.ZKRoot(t)
	admin := testenv.ZKConn(t, 10*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var cands [5]*Candidate
	var res [5]<-chan campaignResult
	for i := 1; i <= 3; i++ {
		s := newSession(t, servers, 4*time.Second)
		cands[i] = newCandidate(t, s, root, "node-"+string(rune('0'+i)))
		res[i] = campaignAsync(t, ctx, cands[i])
		if i == 1 {
			waitTerm(t, res[1], 10*time.Second)
		}
	}
	time.Sleep(200 * time.Millisecond) // node-2 and node-3 on their watches
	if err := cands[1].Resign(ctx); err != nil {
		t.Fatal(err)
	}
	r2 := waitTerm(t, res[2], 5*time.Second)
	if r2.term.Epoch != 2 || cands[2].ahead.Load() != 1 {
		t.Fatalf("node-2 after node-1 resigned: epoch %d, ahead wins %d; want epoch 2 won ahead", r2.term.Epoch, cands[2].ahead.Load())
	}
	if m := mustMaster(t, admin, root); m.ID != "node-2" || m.Epoch != 2 {
		t.Fatalf("master znode %+v, want node-2 at epoch 2", m)
	}
	terms, err := Terms(admin, root)
	if err != nil || len(terms) != 2 || terms[1].Epoch != 2 || terms[1].Node != "node-2" {
		t.Fatalf("term records %+v (%v), want epochs 1 and 2 (node-2)", terms, err)
	}
	time.Sleep(200 * time.Millisecond) // node-3 steps again on the epoch change
	if err := cands[2].Resign(ctx); err != nil {
		t.Fatal(err)
	}
	r3 := waitTerm(t, res[3], 5*time.Second)
	if r3.term.Epoch != 3 || cands[3].ahead.Load() != 1 {
		t.Fatalf("node-3 after node-2 resigned: epoch %d, ahead wins %d; want epoch 3 won ahead (inputs re-read when epoch 2 was won)", r3.term.Epoch, cands[3].ahead.Load())
	}

	// Stale inputs: node-4 waits behind node-3 with epoch 3's inputs.
	s4 := newSession(t, servers, 4*time.Second)
	cands[4] = newCandidate(t, s4, root, "node-4")
	res[4] = campaignAsync(t, ctx, cands[4])
	time.Sleep(200 * time.Millisecond)
	if _, err := admin.Multi(
		&zk.SetDataRequest{Path: path.Join(root, "epoch"), Data: []byte("10"), Version: -1},
		&zk.DeleteRequest{Path: cands[3].Znode(), Version: -1},
	); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-res[4]:
		t.Fatalf("node-4 won while node-3's master znode remained: %+v", r)
	case <-time.After(500 * time.Millisecond):
	}
	masterGone := time.Now()
	cands[3].s.Close() // its master znode goes with its session
	r4 := waitTerm(t, res[4], 5*time.Second)
	if r4.term.Epoch != 11 || cands[4].ahead.Load() != 0 {
		t.Fatalf("node-4: epoch %d (ahead wins %d); want 11, won the ordinary way (its inputs were stale)", r4.term.Epoch, cands[4].ahead.Load())
	}
	if r4.at.Before(masterGone) {
		t.Fatalf("node-4 won before node-3's master znode was gone")
	}
	if m := mustMaster(t, admin, root); m.ID != "node-4" || m.Epoch != 11 {
		t.Fatalf("master znode %+v, want node-4 at epoch 11", m)
	}
}
