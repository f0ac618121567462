package status

import (
	"errors"
	"strings"
	"testing"

	"github.com/stock-system/stocksys/control"
)

func owned(id, owner string) Task {
	if owner == "" {
		return Task{ID: id, State: "unassigned"}
	}
	return Task{ID: id, Owner: &owner, State: "running"}
}

func TestStoppable(t *testing.T) {
	base := func() *Report {
		return &Report{Cluster: "c", Master: &Master{ID: "n1"},
			ElectionQueue: []Candidate{{Node: "n1"}, {Node: "n2"}},
			Members:       []Member{{ID: "n1", Tasks: 1}, {ID: "n2", Revoked: []string{"fetch/B"}, Tasks: 1}, {ID: "n3"}},
			Tasks:         []Task{owned("fetch/A", "n1"), owned("fetch/B", "")}, Control: &Control{}}
	}
	cases := []struct {
		name, node string
		edit       func(*Report)
		ok         bool
		why        string
	}{
		{"holds an assigned task", "n1", nil, false, "holds 1 task(s) (fetch/A)"},
		{"revoked, not released", "n2", nil, false, "holds 1 task(s) (fetch/B)"},
		{"holds nothing, not master", "n3", nil, true, "it holds no task; 2 other member(s)"},
		{"master with a successor", "n1", func(r *Report) { r.Tasks[0].Owner = nil; r.Members[0].Tasks = 0 }, true, "n2 is next"},
		{"master, no other candidate", "n1", func(r *Report) {
			r.Tasks[0].Owner, r.Members[0].Tasks, r.ElectionQueue = nil, 0, r.ElectionQueue[:1]
		}, false, "no other node campaigns"},
		{"only member", "n3", func(r *Report) { r.Members = r.Members[2:]; r.Master = nil }, false, "only member"},
		{"status still lists a task", "n3", func(r *Report) { r.Members[2].Tasks = 2 }, false, "status still lists 2"},
		{"maintenance", "n1", func(r *Report) { r.Control.Maintenance = &control.Mark{} }, false, "stay unassigned until maintenance exit"},
	}
	for _, c := range cases {
		r := base()
		if c.edit != nil {
			c.edit(r)
		}
		s, err := Stoppable(r, c.node)
		text := strings.Join(append(s.Reasons, s.Notes...), "; ")
		if err != nil || s.Stoppable != c.ok || !strings.Contains(text, c.why) {
			t.Errorf("%s: stoppable %v (%s), %v; want %v with %q", c.name, s.Stoppable, text, err, c.ok, c.why)
		}
	}
	if _, err := Stoppable(base(), "n9"); !errors.Is(err, control.ErrUnknownNode) || !strings.Contains(err.Error(), `"n9"`) {
		t.Errorf("unknown node: %v; want ErrUnknownNode naming n9", err)
	}
}
