package zkapi

import (
	"errors"
	"path"
)

// DeleteAll deletes p and all its descendants, depth first, ignoring
// znodes that are already gone and starting again where a child appeared
// meanwhile. Ephemeral znodes of live sessions are deleted too. Not atomic:
// on an error some of the tree may be gone.
func DeleteAll(c Conn, p string) error {
	children, _, err := c.Children(p)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ch := range children {
		if err := DeleteAll(c, path.Join(p, ch)); err != nil {
			return err
		}
	}
	err = c.Delete(p, -1)
	if errors.Is(err, ErrNoNode) {
		return nil
	}
	if errors.Is(err, ErrNotEmpty) { // a child appeared meanwhile
		return DeleteAll(c, p)
	}
	return err
}
