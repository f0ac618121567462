package session

import (
	"encoding/json"
	"testing"
)

// Session ids exceed 2^53: written as strings, so jq or JavaScript cannot
// round them; old documents with numbers and the 0x form still read.
func TestSessionIDJSON(t *testing.T) {
	const id = SessionID(72057594037927937) // 2^56 + 1: not exact as a float64
	b, err := json.Marshal(struct {
		S SessionID `json:"session"`
	}{id})
	if err != nil || string(b) != `{"session":"72057594037927937"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	for _, in := range []string{`"72057594037927937"`, `72057594037927937`, `"0x100000000000001"`} {
		var got SessionID
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != id {
			t.Errorf("unmarshal %s = %d, %v; want %d", in, got, err, id)
		}
	}
	for _, bad := range []string{`"0xzz"`, `"abc"`, `1.5`, `true`} {
		var got SessionID
		if err := json.Unmarshal([]byte(bad), &got); err == nil {
			t.Errorf("unmarshal %s = %d; want an error", bad, got)
		}
	}
}
