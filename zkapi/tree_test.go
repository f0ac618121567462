package zkapi

import (
	"errors"
	"testing"
)

func TestDeleteAllOnTheTwin(t *testing.T) {
	m := NewMem()
	a, b := m.Session(), m.Session()
	for _, p := range []string{"/r", "/r/x", "/r/x/y", "/r/z", "/keep"} {
		if _, err := a.Create(p, nil, 0, OpenACL()); err != nil {
			t.Fatalf("create %s: %v", p, err)
		}
	}
	if _, err := b.Create("/r/z/e", nil, FlagEphemeral, OpenACL()); err != nil {
		t.Fatal(err)
	}
	if err := DeleteAll(a, "/r"); err != nil {
		t.Fatalf("DeleteAll: %v", err)
	}
	for _, p := range []string{"/r", "/r/x", "/r/x/y", "/r/z", "/r/z/e"} {
		if ok, _, err := a.Exists(p); err != nil || ok {
			t.Errorf("%s: exists=%v err=%v after DeleteAll", p, ok, err)
		}
	}
	if ok, _, _ := a.Exists("/keep"); !ok {
		t.Error("/keep was deleted too")
	}
	if err := DeleteAll(a, "/r"); err != nil {
		t.Errorf("DeleteAll of a missing tree: %v, want nil", err)
	}
	if err := DeleteAll(a, "bad"); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("DeleteAll(bad): %v, want ErrInvalidPath", err)
	}
}
