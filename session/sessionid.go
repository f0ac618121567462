package session

import (
	"fmt"
	"strconv"
	"strings"
)

// SessionID is a ZooKeeper session id in a JSON document. It is written as
// a JSON string of the decimal id ("72057594037927937"), since ids exceed
// 2^53 and a JSON number that large is rounded by many readers (jq, JavaScript);
// it reads that form, the 0x-prefixed hex form and, for documents written
// before, a JSON number.
type SessionID int64

// MarshalJSON writes the id as a decimal string.
func (id SessionID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(id), 10) + `"`), nil
}

// UnmarshalJSON reads a decimal or 0x-hex string, or a JSON integer.
func (id *SessionID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
		if h, ok := strings.CutPrefix(s, "0x"); ok {
			u, err := strconv.ParseUint(h, 16, 64)
			if err != nil {
				return fmt.Errorf("session: session id %q: not 0x-hex", s)
			}
			*id = SessionID(u)
			return nil
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("session: session id %s: not an integer", b)
	}
	*id = SessionID(v)
	return nil
}
