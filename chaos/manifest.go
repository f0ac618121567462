package chaos

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// File names inside a chaos run folder.
const (
	ManifestFile = "chaos.json"   // the Manifest
	EventsFile   = "events.jsonl" // one Event per line, as the faults happen
	ClusterSub   = "cluster"      // STOCKSYS_CLUSTER_DIR: node pid files, logs, audit trails
	InfraSub     = "infra"        // STOCKSYS_INFRA_DIR: the private servers
	DataSub      = "data"         // the replayed data
)

// Manifest describes one chaos run: everything `stocksys verify` needs to
// find the cluster, its data and its faults.
type Manifest struct {
	Seed           uint64            `json:"seed"`
	Duration       time.Duration     `json:"duration"`
	Nodes          int               `json:"nodes"`
	SessionTimeout time.Duration     `json:"session_timeout"`
	Cluster        string            `json:"cluster"`
	ZK             string            `json:"zk"`
	Kafka          string            `json:"kafka"`
	Cassandra      string            `json:"cassandra"`
	Keyspace       string            `json:"keyspace"`
	Topic          string            `json:"topic"`
	Partitions     int               `json:"partitions"`
	DataDir        string            `json:"data_dir"`
	Symbols        map[string]string `json:"symbols"` // symbol -> source spec
	ClusterDir     string            `json:"cluster_dir"`
	InfraDir       string            `json:"infra_dir"`
	Proxied        string            `json:"proxied,omitempty"` // node reaching ZooKeeper through the chaos proxy
	// FetchTransactions: the nodes run with --fetch-transactions.
	FetchTransactions bool      `json:"fetch_transactions,omitempty"`
	Schedule          []Fault   `json:"schedule"`
	Started           time.Time `json:"started"`
	ScheduleEnded     time.Time `json:"schedule_ended,omitzero"`
	Settled           time.Time `json:"settled,omitzero"`
}

// Event is one line of events.jsonl: a fault injected or undone, or a note.
type Event struct {
	T      time.Time `json:"t"`
	Seq    int       `json:"seq,omitempty"` // the Fault's Seq
	Kind   Kind      `json:"kind"`
	Phase  string    `json:"phase"` // inject | undo | skip | note
	Target string    `json:"target,omitempty"`
	Node   string    `json:"node,omitempty"` // resolved node id
	PID    int       `json:"pid,omitempty"`
	Signal string    `json:"signal,omitempty"` // KILL, TERM, STOP, CONT
	Detail string    `json:"detail,omitempty"`
	Err    string    `json:"err,omitempty"`
}

// Event phases.
const (
	PhaseInject = "inject"
	PhaseUndo   = "undo"
	PhaseSkip   = "skip"
	PhaseNote   = "note"
)

// WriteManifest writes m to dir/chaos.json.
func WriteManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, ManifestFile+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, ManifestFile))
}

// ReadManifest reads dir/chaos.json.
func ReadManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, fmt.Errorf("chaos: %w (is %s a chaos run folder?)", err, dir)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("chaos: %s: %w", ManifestFile, err)
	}
	return &m, nil
}

// ReadEvents reads dir/events.jsonl (missing: none).
func ReadEvents(dir string) ([]Event, error) {
	b, err := os.ReadFile(filepath.Join(dir, EventsFile))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Event
	dec := json.NewDecoder(bytes.NewReader(b))
	for dec.More() {
		var e Event
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("chaos: %s: %w", EventsFile, err)
		}
		out = append(out, e)
	}
	return out, nil
}
