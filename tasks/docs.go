package tasks

import "time"

// The documents of the znodes the membership and election recipes write
// (package membership: members/<id>; package election: master, terms/). The
// other documents of the cluster (symbols, assignments, status, failover,
// partitions) are in store.go and chunk.go; the operators' intents and the
// control state are package control's (they carry its rules). Their JSON
// shapes are the README's znode table.

// MemberDoc is the JSON content of members/<id> (ephemeral, written by the
// member's own session: package membership).
type MemberDoc struct {
	ID       string    `json:"id"`
	Addr     string    `json:"addr,omitempty"`
	Session  SessionID `json:"session"` // ZooKeeper session id holding the znode
	Started  time.Time `json:"started"` // when this node (its Member) started
	Version  string    `json:"version,omitempty"`
	Capacity int       `json:"capacity"`
}

// MasterDoc is the JSON content of the master znode (ephemeral, created
// with the epoch's increment in the winning Multi: package election).
type MasterDoc struct {
	ID      string    `json:"id"`
	Epoch   int64     `json:"epoch"`
	Addr    string    `json:"addr,omitempty"`
	Session SessionID `json:"session"` // ZooKeeper session id of the master
	Since   time.Time `json:"since"`
}

// TermDoc is the JSON content of a terms/ znode (persistent, one per term:
// written by its master at the win and again when the term ends gracefully;
// package election keeps the newest 100).
type TermDoc struct {
	Epoch   int64     `json:"epoch"`
	Node    string    `json:"node"`
	Addr    string    `json:"addr,omitempty"`
	Session SessionID `json:"session"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended,omitzero"` // zero if not known (crash, fencing)
}
