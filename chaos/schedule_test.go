package chaos

import (
	"reflect"
	"testing"
	"time"
)

func TestScheduleDeterministic(t *testing.T) {
	p := Plan{Seed: 42, Duration: 10 * time.Minute, Nodes: 3, SessionTimeout: 3 * time.Second, MaxFaults: 100}
	a, err := Schedule(p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Schedule(p)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave two schedules")
	}
	p.Seed = 43
	c, _ := Schedule(p)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 42 and 43 gave the same schedule")
	}
}

func TestScheduleBoundsAndCoverage(t *testing.T) {
	for seed := uint64(0); seed < 200; seed++ {
		p := Plan{Seed: seed, Duration: 90 * time.Second, Nodes: 3, SessionTimeout: 2 * time.Second, MaxFaults: 8}
		fs, err := Schedule(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) > p.MaxFaults {
			t.Fatalf("seed %d: %d faults > max %d", seed, len(fs), p.MaxFaults)
		}
		seen := map[Kind]bool{}
		var end time.Duration
		for i, f := range fs {
			seen[f.Kind] = true
			if f.At >= p.Duration || f.At < end {
				t.Fatalf("seed %d: fault %v starts outside [%v, %v)", seed, f, end, p.Duration)
			}
			end = f.At + f.Hold
			if f.Seq != i+1 {
				t.Fatalf("seed %d: seq %d at %d", seed, f.Seq, i)
			}
			switch f.Kind {
			case KindPause, KindPartition:
				if f.Hold <= p.SessionTimeout {
					t.Fatalf("seed %d: %v holds no longer than the session timeout", seed, f)
				}
			}
		}
		if len(fs) >= len(AllKinds) && len(seen) != len(AllKinds) {
			t.Fatalf("seed %d: first round misses kinds: %v", seed, seen)
		}
	}
}

func TestScheduleMasterMoreOften(t *testing.T) {
	p := Plan{Seed: 1, Duration: 6 * time.Hour, Nodes: 3, SessionTimeout: 2 * time.Second, MaxFaults: 5000, Kinds: []Kind{KindKill}}
	fs, err := Schedule(p)
	if err != nil {
		t.Fatal(err)
	}
	per := map[string]int{}
	for _, f := range fs {
		per[f.Target]++
	}
	for _, n := range []string{"node-1", "node-2", "node-3"} {
		if per[TargetMaster] <= per[n] {
			t.Fatalf("master targeted %d times, %s %d: %v", per[TargetMaster], n, per[n], per)
		}
	}
}

func TestPlanValidate(t *testing.T) {
	bad := []Plan{
		{Seed: 1, Duration: 0, Nodes: 3, SessionTimeout: 2 * time.Second, MaxFaults: 1},
		{Seed: 1, Duration: time.Minute, Nodes: 1, SessionTimeout: 2 * time.Second, MaxFaults: 1},
		{Seed: 1, Duration: time.Minute, Nodes: 3, SessionTimeout: 100 * time.Millisecond, MaxFaults: 1},
		{Seed: 1, Duration: time.Minute, Nodes: 3, SessionTimeout: 2 * time.Second, MaxFaults: 0},
		{Seed: 1, Duration: time.Minute, Nodes: 3, SessionTimeout: 2 * time.Second, MaxFaults: 1, Kinds: []Kind{"nuke"}},
	}
	for i, p := range bad {
		if _, err := Schedule(p); err == nil {
			t.Errorf("plan %d: want an error", i)
		}
	}
}
