package chaos

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind is a kind of fault.
type Kind string

// The fault kinds. Every fault is undone by the schedule itself (the node
// restarted, the process resumed, the server started, the link healed).
const (
	// KindKill: kill -9 of a node process, restarted (cluster.sh start)
	// after Fault.Hold.
	KindKill Kind = "kill"
	// KindPause: SIGSTOP of a node for Fault.Hold (longer than the session
	// timeout), then SIGCONT.
	KindPause Kind = "pause"
	// KindZKServer: stop one server of the 3-server ZooKeeper ensemble
	// (infra.sh stop zkN) for Fault.Hold, then start it.
	KindZKServer Kind = "zk-server"
	// KindPartition: cut the proxied node off from ZooKeeper (its proxy
	// blackholes every connection) for Fault.Hold (longer than the session
	// timeout); Kafka and Cassandra stay reachable.
	KindPartition Kind = "zk-partition"
	// KindKafka: stop Kafka for Fault.Hold, then start it.
	KindKafka Kind = "kafka"
	// KindCassandra: stop Cassandra for Fault.Hold, then start it.
	KindCassandra Kind = "cassandra"
)

// AllKinds lists every fault kind, in the order the first round of a
// schedule draws them from.
var AllKinds = []Kind{KindKill, KindPause, KindZKServer, KindPartition, KindKafka, KindCassandra}

// Target names of faults that act on a node. Resolved when the fault runs.
const (
	TargetMaster  = "master"  // whichever node is master then
	TargetProxied = "proxied" // the node that reaches ZooKeeper through the chaos proxy
)

// Fault is one planned fault.
type Fault struct {
	Seq  int           `json:"seq"`
	At   time.Duration `json:"at"` // planned offset from the schedule's start
	Kind Kind          `json:"kind"`
	// Target is a node id, TargetMaster, TargetProxied, or a server name
	// (zk1..zk3, kafka, cassandra).
	Target string `json:"target"`
	// Hold is how long the fault lasts before it is undone.
	Hold time.Duration `json:"hold"`
}

func (f Fault) String() string {
	return fmt.Sprintf("#%02d +%6.1fs %-12s %-9s hold %.1fs", f.Seq, f.At.Seconds(), f.Kind, f.Target, f.Hold.Seconds())
}

// Plan is what a schedule is drawn from.
type Plan struct {
	Seed           uint64
	Duration       time.Duration // faults start within [0, Duration)
	Nodes          int           // node-1..node-N
	SessionTimeout time.Duration
	MaxFaults      int    // hard bound on the number of faults
	Kinds          []Kind // kinds to draw from; nil: AllKinds
}

// Bounds enforced by Validate.
const (
	MaxDuration = 6 * time.Hour
	MaxFaults   = 10000
)

// Validate checks the plan's bounds.
func (p Plan) Validate() error {
	if p.Duration <= 0 || p.Duration > MaxDuration {
		return fmt.Errorf("chaos: duration %v: want 0 < d <= %v", p.Duration, MaxDuration)
	}
	if p.Nodes < 2 || p.Nodes > 9 {
		return fmt.Errorf("chaos: nodes %d: want 2..9", p.Nodes)
	}
	if p.SessionTimeout < time.Second || p.SessionTimeout > 40*time.Second {
		return fmt.Errorf("chaos: session timeout %v: want 1s..40s", p.SessionTimeout)
	}
	if p.MaxFaults < 1 || p.MaxFaults > MaxFaults {
		return fmt.Errorf("chaos: max faults %d: want 1..%d", p.MaxFaults, MaxFaults)
	}
	for _, k := range p.Kinds {
		if _, err := ParseKind(string(k)); err != nil {
			return err
		}
	}
	return nil
}

// ParseKind parses a fault kind name.
func ParseKind(s string) (Kind, error) {
	for _, k := range AllKinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(AllKinds))
	for i, k := range AllKinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("chaos: unknown fault kind %q (want %s)", s, strings.Join(names, ", "))
}

// Expected cost of a fault's undo (a server restart) on top of its hold,
// used only to space the planned faults realistically.
func undoCost(k Kind) time.Duration {
	switch k {
	case KindKafka:
		return 8 * time.Second
	case KindCassandra:
		return 20 * time.Second
	case KindZKServer:
		return 3 * time.Second
	case KindKill:
		return time.Second
	}
	return 0
}

// Schedule draws the faults of p. It is a pure function of p: the same plan
// (seed included) gives the same schedule. The first round draws every kind
// once, in a seeded order, so that a short run covers them all; then kinds
// are drawn at random, kills twice as often as the rest. A node fault
// targets the master with probability 0.6 (kills) or 0.5 (pauses). Faults do
// not overlap: each starts a seeded gap of 1-3 s after the previous one's
// expected end. At most p.MaxFaults faults, all starting before p.Duration.
func Schedule(p Plan) ([]Fault, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	kinds := p.Kinds
	if len(kinds) == 0 {
		kinds = AllKinds
	}
	rng := rand.New(rand.NewPCG(p.Seed, 0x5eed_c4a05))
	st := p.SessionTimeout
	between := func(lo, hi time.Duration) time.Duration {
		return lo + time.Duration(rng.Int64N(int64(hi-lo)+1))
	}
	node := func(masterProb float64) string {
		if rng.Float64() < masterProb {
			return TargetMaster
		}
		return fmt.Sprintf("node-%d", 1+rng.IntN(p.Nodes))
	}
	first := append([]Kind(nil), kinds...)
	rng.Shuffle(len(first), func(i, j int) { first[i], first[j] = first[j], first[i] })
	weighted := []Kind{}
	for _, k := range kinds {
		weighted = append(weighted, k)
		if k == KindKill {
			weighted = append(weighted, k)
		}
	}
	var out []Fault
	at := between(2*time.Second, 4*time.Second)
	for len(out) < p.MaxFaults && at < p.Duration {
		var k Kind
		if len(out) < len(first) {
			k = first[len(out)]
		} else {
			k = weighted[rng.IntN(len(weighted))]
		}
		f := Fault{Seq: len(out) + 1, At: at, Kind: k}
		switch k {
		case KindKill:
			f.Target, f.Hold = node(0.6), between(500*time.Millisecond, 3*time.Second)
		case KindPause:
			f.Target, f.Hold = node(0.5), between(st*13/10, st*2)
		case KindZKServer:
			f.Target, f.Hold = fmt.Sprintf("zk%d", 1+rng.IntN(3)), between(2*time.Second, 6*time.Second)
		case KindPartition:
			f.Target, f.Hold = TargetProxied, between(st*3/2, st*5/2)
		case KindKafka:
			f.Target, f.Hold = "kafka", between(2*time.Second, 5*time.Second)
		case KindCassandra:
			f.Target, f.Hold = "cassandra", between(2*time.Second, 5*time.Second)
		}
		f.Hold = f.Hold.Round(10 * time.Millisecond)
		f.At = f.At.Round(10 * time.Millisecond)
		out = append(out, f)
		at += f.Hold + undoCost(k) + between(time.Second, 3*time.Second)
	}
	return out, nil
}
