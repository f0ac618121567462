package membership

import (
	"errors"
	"testing"

	"github.com/stock-system/stocksys/zkapi"
)

func TestReadMemberOnTheTwin(t *testing.T) {
	m := zkapi.NewMem()
	admin, a := m.Session(), m.Session()
	for _, p := range []string{"/r", "/r/members"} {
		if _, err := admin.Create(p, nil, 0, zkapi.OpenACL()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Create("/r/members/n1", []byte(`{"id":"n1","addr":"h:1","capacity":3,"version":"v9"}`), zkapi.FlagEphemeral, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create("/r/members/n2", []byte(`{"capacity":"two"`), zkapi.FlagEphemeral, zkapi.OpenACL()); err != nil {
		t.Fatal(err)
	}
	l, err := ReadMember(admin, "/r/members", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != "n1" || l.Addr != "h:1" || l.Capacity != 3 || l.Version != "v9" || l.Owner != a.SessionID() {
		t.Errorf("n1 = %+v, want n1 h:1 capacity 3 v9 owned by session %x", l, a.SessionID())
	}
	l, err = ReadMember(admin, "/r/members", "n2")
	if err != nil || l.ID != "n2" || l.Capacity != 0 || l.Owner != a.SessionID() {
		t.Errorf("unparsable n2 = %+v, %v; want id n2, capacity 0, owner %x", l, err, a.SessionID())
	}
	a.Close()
	if _, err := ReadMember(admin, "/r/members", "n1"); !errors.Is(err, zkapi.ErrNoNode) {
		t.Errorf("n1 after its session closed: %v, want ErrNoNode", err)
	}
}
