package election

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/stock-system/stocksys/tasks"
	"path"
	"sort"
	"strconv"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sync/errgroup"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

// keepTerms is how many terms/ records are kept.
const keepTerms = 100

// protectedPrefix marks candidate znodes, as go-zookeeper's
// CreateProtectedEphemeralSequential does: _c_<32 hex GUID>-n_<10-digit seq>.
const protectedPrefix = "_c_"

type paths struct{ root, election, epoch, master, terms string }

func newPaths(root string) paths {
	return paths{root, path.Join(root, "election"), path.Join(root, "epoch"),
		path.Join(root, "master"), path.Join(root, "terms")}
}

// ensureLayout creates root, election/, terms/ and epoch ("0") if missing.
func ensureLayout(c zkapi.Conn, p paths) error {
	for _, n := range []struct {
		p    string
		data []byte
	}{{p.election, nil}, {p.terms, nil}, {p.epoch, []byte("0")}} {
		if err := session.EnsurePath(c, n.p, n.data); err != nil {
			return err
		}
	}
	return nil
}

// seqOf returns the sequence number at the end of a sequential znode name.
func seqOf(name string) int64 {
	if len(name) < 10 {
		return -1
	}
	n, err := strconv.ParseInt(name[len(name)-10:], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// sortBySeq sorts sequential znode names by their sequence number (the GUID
// prefix makes the lexical order meaningless).
func sortBySeq(names []string) {
	sort.Slice(names, func(i, j int) bool { return seqOf(names[i]) < seqOf(names[j]) })
}

// Current reads the master znode under root. It returns ErrNoMaster if there
// is none. Safe for concurrent use; a plain read (it may lag the leader).
func Current(c zkapi.Conn, root string) (tasks.MasterDoc, error) {
	data, _, err := c.Get(path.Join(root, "master"))
	if errors.Is(err, zk.ErrNoNode) {
		return tasks.MasterDoc{}, ErrNoMaster
	}
	if err != nil {
		return tasks.MasterDoc{}, err
	}
	var m tasks.MasterDoc
	if err := json.Unmarshal(data, &m); err != nil {
		return tasks.MasterDoc{}, fmt.Errorf("election: master znode: %w", err)
	}
	return m, nil
}

// Epoch reads the epoch znode under root: the epoch of the latest elected
// master (0 before the first election) and the znode version that fenced
// writes check.
func Epoch(c zkapi.Conn, root string) (epoch int64, version int32, err error) {
	data, st, err := c.Get(path.Join(root, "epoch"))
	if err != nil {
		return 0, 0, err
	}
	epoch, err = strconv.ParseInt(string(data), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("election: epoch znode %q: %w", data, err)
	}
	return epoch, st.Version, nil
}

// Terms returns the term history under root, oldest first.
func Terms(c zkapi.Conn, root string) ([]tasks.TermDoc, error) {
	p := newPaths(root)
	names, _, err := c.Children(p.terms)
	if err != nil {
		return nil, err
	}
	sortBySeq(names)
	out := make([]tasks.TermDoc, 0, len(names))
	for _, n := range names {
		data, _, err := c.Get(path.Join(p.terms, n))
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var r tasks.TermDoc
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("election: term %s: %w", n, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// isConnErr reports errors after which a request's outcome is unknown.
func isConnErr(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer)
}

// isSessionErr reports errors after which the session is unusable.
func isSessionErr(err error) bool {
	return errors.Is(err, zk.ErrSessionExpired) || errors.Is(err, zk.ErrClosing)
}

// NewestTerms returns the newest n term records under root (terms/, by
// sequence), oldest first, read together (go-zookeeper pipelines them on the
// one connection); a record deleted meanwhile is skipped, an unparsable one
// too. No terms/ znode: none. Other read errors are returned.
func NewestTerms(c zkapi.Conn, root string, n int) ([]tasks.TermDoc, error) {
	dir := newPaths(root).terms
	names, _, err := c.Children(dir)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return nil, err
	}
	sortBySeq(names)
	names = names[max(0, len(names)-n):]
	recs := make([]*tasks.TermDoc, len(names)) // each read's own slot
	var g errgroup.Group
	for i, name := range names {
		g.Go(func() error {
			data, _, err := c.Get(path.Join(dir, name))
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return err
			}
			var r tasks.TermDoc
			if json.Unmarshal(data, &r) == nil {
				recs[i] = &r
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []tasks.TermDoc
	for _, r := range recs {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}
