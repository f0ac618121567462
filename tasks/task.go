package tasks

import (
	"fmt"
	"strconv"
	"strings"
)

// Type is the kind of a task. The set of types is closed: ParseType refuses
// anything but the constants below with ErrUnknownType.
type Type string

// The task types. A type name never contains '/' or '.', which is what makes
// IDs and znode names unambiguous.
const (
	// TypeFetch fetches quotes for one stock symbol and publishes them to
	// Kafka; one task per configured symbol.
	TypeFetch Type = "fetch"
	// TypeIngest consumes one Kafka partition of the quotes topic and writes
	// it to the store; one task per partition.
	TypeIngest Type = "ingest"
)

// Types returns all known task types, sorted by name.
func Types() []Type { return []Type{TypeFetch, TypeIngest} }

// String returns the type name.
func (t Type) String() string { return string(t) }

// ParseType returns the known Type named s. It returns an error wrapping
// ErrUnknownType, naming s, for any other string (including "").
func ParseType(s string) (Type, error) {
	switch t := Type(s); t {
	case TypeFetch, TypeIngest:
		return t, nil
	}
	return "", fmt.Errorf("%w %s", ErrUnknownType, quoteInput(s))
}

// ID identifies a task: "fetch/<SYMBOL>" (e.g. "fetch/BRK-B") or
// "ingest/<partition>" (e.g. "ingest/3", partition in canonical decimal).
// IDs are canonical: two tasks are equal exactly when their IDs are equal,
// and ParseID(string(t.ID())) returns t. An ID contains '/', so it is not a
// znode name; use Task.ZNodeName for that.
type ID string

// String returns the ID as a plain string.
func (id ID) String() string { return string(id) }

// Separators between the type and the key in an ID and in a znode name.
const (
	idSep    = "/"
	znodeSep = "."
)

// Task is one unit of work the master assigns to a worker. The zero Task is
// invalid (IsZero reports true); valid tasks come from FetchTask, IngestTask,
// ParseID and ParseZNodeName. Tasks are comparable values, usable as map keys,
// and safe to share between goroutines.
type Task struct {
	typ       Type
	symbol    Symbol // set for TypeFetch only
	partition int32  // meaningful for TypeIngest only
}

// FetchTask returns the fetch task for sym. It panics if sym is not a valid
// canonical Symbol (one returned by ParseSymbol); that is a programming error,
// untrusted strings must go through ParseSymbol first.
func FetchTask(sym Symbol) Task {
	if !sym.valid() {
		panic(fmt.Sprintf("tasks: FetchTask with invalid symbol %q", string(sym)))
	}
	return Task{typ: TypeFetch, symbol: sym}
}

// IngestTask returns the ingest task for Kafka partition p. It panics if p is
// negative; Kafka partition numbers (as returned by the broker metadata) are
// never negative, so that is a programming error.
func IngestTask(p int32) Task {
	if p < 0 {
		panic(fmt.Sprintf("tasks: IngestTask with negative partition %d", p))
	}
	return Task{typ: TypeIngest, partition: p}
}

// Type returns the task's type ("" for the zero Task).
func (t Task) Type() Type { return t.typ }

// Symbol returns the stock symbol of a fetch task, or "" for any other task.
func (t Task) Symbol() Symbol { return t.symbol }

// Partition returns the Kafka partition of an ingest task, or -1 for any
// other task.
func (t Task) Partition() int32 {
	if t.typ != TypeIngest {
		return -1
	}
	return t.partition
}

// IsZero reports whether t is the zero (invalid) Task.
func (t Task) IsZero() bool { return t == Task{} }

// key returns the type-specific part of the ID and znode name.
func (t Task) key() string {
	switch t.typ {
	case TypeFetch:
		return string(t.symbol)
	case TypeIngest:
		return strconv.FormatInt(int64(t.partition), 10)
	}
	return ""
}

// ID returns the task's canonical ID, e.g. "fetch/BRK-B" or "ingest/3". The
// zero Task has the ID "".
func (t Task) ID() ID {
	if t.IsZero() {
		return ""
	}
	return ID(string(t.typ) + idSep + t.key())
}

// String returns the task's ID.
func (t Task) String() string { return string(t.ID()) }

// ZNodeName returns a name for the task that is a valid single znode path
// component: the ID with its '/' replaced by '.', e.g. "fetch.BRK-B",
// "fetch.BF.B", "ingest.3". The encoding is reversible by ParseZNodeName:
// type names contain no '.', so the first '.' always ends the type and
// everything after it is the key (symbols may themselves contain '.' and
// '-'). The name never equals "." or "..". The zero Task has the name "".
func (t Task) ZNodeName() string {
	if t.IsZero() {
		return ""
	}
	return string(t.typ) + znodeSep + t.key()
}

// ParseID parses a task ID as produced by Task.ID. The input must be
// canonical: ParseID(s) succeeds only if the result's ID() equals s, so
// "fetch/brk-b" (lower case) and "ingest/03" are refused.
//
// Errors (wrapped, naming the input with %q):
//   - ErrInvalidID: no '/' separator, empty type, or a malformed ingest
//     partition (not the canonical decimal of a non-negative int32);
//   - ErrUnknownType: the type before the first '/' is not a known Type;
//   - ErrInvalidSymbol: a fetch task whose symbol is invalid or not upper-case.
func ParseID(s string) (Task, error) {
	return parse(s, idSep, "task ID")
}

// ParseZNodeName parses a znode name as produced by Task.ZNodeName, with the
// same canonical-form rule and errors as ParseID (the separator being '.'
// instead of '/').
func ParseZNodeName(name string) (Task, error) {
	return parse(name, znodeSep, "znode name")
}

func parse(s, sep, what string) (Task, error) {
	typ, key, ok := strings.Cut(s, sep)
	if !ok || typ == "" {
		return Task{}, fmt.Errorf("%w: %s %s: want <type>%s<key>", ErrInvalidID, what, quoteInput(s), sep)
	}
	t, err := ParseType(typ)
	if err != nil {
		return Task{}, fmt.Errorf("%s %s: %w", what, quoteInput(s), err)
	}
	switch t {
	case TypeFetch:
		sym, err := ParseSymbol(key)
		if err != nil {
			return Task{}, fmt.Errorf("%s %s: %w", what, quoteInput(s), err)
		}
		if string(sym) != key {
			return Task{}, fmt.Errorf("%w %q: %s %s: symbol not in canonical upper case",
				ErrInvalidSymbol, key, what, quoteInput(s))
		}
		return Task{typ: TypeFetch, symbol: sym}, nil
	default: // TypeIngest
		p, err := strconv.ParseInt(key, 10, 32)
		if err != nil || p < 0 || strconv.FormatInt(p, 10) != key {
			return Task{}, fmt.Errorf("%w: %s %s: partition must be a non-negative int32 in canonical decimal",
				ErrInvalidID, what, quoteInput(s))
		}
		return Task{typ: TypeIngest, partition: int32(p)}, nil
	}
}
