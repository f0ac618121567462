package session

import "fmt"

// MaxNodeIDLen is the longest node id accepted by ValidateNodeID, in bytes.
const MaxNodeIDLen = 64

// ValidateNodeID checks that id can be used as one znode path element: 1 to
// MaxNodeIDLen characters of [A-Za-z0-9._-], and neither "." nor "..".
// Election and membership call it before they build any path from an id.
// It returns nil or an error wrapping ErrInvalidNodeID. Safe for concurrent use.
func ValidateNodeID(id string) error {
	if len(id) == 0 || len(id) > MaxNodeIDLen {
		return fmt.Errorf("%w: %q: length %d not in 1..%d", ErrInvalidNodeID, id, len(id), MaxNodeIDLen)
	}
	if id == "." || id == ".." {
		return fmt.Errorf("%w: %q is reserved", ErrInvalidNodeID, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: %q: character %q at %d not in [A-Za-z0-9._-]", ErrInvalidNodeID, id, c, i)
		}
	}
	return nil
}
