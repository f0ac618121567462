package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/stream"
)

// The node's flag defaults are the packages' DefaultConfig values (stated
// once there): `stocksys node --dry-run` with no flag but --id and --zk
// prints them.
func TestNodeFlagDefaultsFromPackages(t *testing.T) {
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"node", "--dry-run", "--zk", "127.0.0.1:1", "--id", "node-1"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("node --dry-run: %v (%s)", err, errOut.String())
	}
	var got map[string]string
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("dry-run output: %v\n%s", err, out.String())
	}
	nd, sd, std := node.DefaultConfig("node-1"), stream.DefaultConfig(), store.DefaultConfig()
	for flag, want := range map[string]any{
		"session-timeout": nd.SessionTimeout, "connect-timeout": nd.ConnectTimeout, "capacity": nd.Capacity,
		"flap-losses": nd.FlapLosses, "flap-window": nd.FlapWindow, "flap-cordon": nd.FlapCordon, "max-moves-in-flight": nd.MaxMovesInFlight,
		"cluster": nd.Cluster, "topic": sd.Topic, "dlq-topic": sd.DLQTopic, "partitions": sd.Partitions, "replication": sd.ReplicationFactor,
		"keyspace": std.Keyspace, "cassandra-replication": std.ReplicationFactor, "consistency": std.Consistency,
	} {
		if got[flag] != fmt.Sprint(want) {
			t.Errorf("--%s defaults to %q; the package default is %v", flag, got[flag], want)
		}
	}
	if err := nd.Validate(); err == nil {
		t.Error("node.DefaultConfig without ZooKeeper servers validated")
	}
	if err := node.DefaultConfig("node-1", "127.0.0.1:2181").Validate(); err != nil {
		t.Errorf("node.DefaultConfig: %v", err)
	}
}
