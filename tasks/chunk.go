package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/stock-system/stocksys/zkapi"
)

// Size limits of the documents this package defines.
//
// ZooKeeper refuses a request larger than jute.maxbuffer (default 0xfffff,
// 1,048,575 bytes, for the whole packet: path, data, ACL and header) and drops
// the connection, so the writer cannot even tell whether it was applied; and
// it keeps the last 500 transactions in memory (zookeeper.commitLogCount), so
// large writes repeated often exhaust a small server heap. Hence:
//
//   - A document whose encoding is at most PartBytes (64 KiB) is written
//     whole, as before.
//   - A larger one is a head (every field but its task list) that names its
//     parts; the task list is spread over K parts by a hash of the task ID
//     (FNV-1a, 32 bit, mod K), K chosen so a part is about PartBytes/2. Parts
//     are immutable: created once under a fresh name, never set, deleted
//     when no head names them. A new write reuses every part whose content
//     is unchanged (same K, same bytes), so a change to a few tasks rewrites
//     a few parts, not the document.
//   - Every head and part is checked against MaxDocBytes before anything is
//     sent: a larger one is refused with a *DocTooLargeError naming it and
//     its size, and never retried.
//
// What that allows, measured by BenchmarkIntegration_Assign100000x10 in
// master/ (see the README): 100,000 fetch tasks over 10 nodes, about 10,000
// per node, an assignment of 3 parts and a status document of about 30 parts
// per node. A part holds about 2,000 assignment entries or 200 status entries.
// The documented limits are 100,000 tasks per cluster and 20,000 per node:
// beyond that, ZooKeeper's memory and write rate, not a znode, are the bound.
const (
	MaxDocBytes = 1_000_000
	PartBytes   = 64 << 10
)

// DocTooLargeError is returned, before anything is sent, for a document or
// part whose encoding exceeds MaxDocBytes. Writing it again cannot succeed.
type DocTooLargeError struct {
	Path  string
	Size  int
	Limit int
}

func (e *DocTooLargeError) Error() string {
	return fmt.Sprintf("tasks: %s: document of %d bytes exceeds the %d-byte znode limit", e.Path, e.Size, e.Limit)
}

// CheckSize returns a *DocTooLargeError when data is too large to write to p.
func CheckSize(p string, data []byte) error {
	if len(data) > MaxDocBytes {
		return &DocTooLargeError{Path: p, Size: len(data), Limit: MaxDocBytes}
	}
	return nil
}

// ErrPartsChanged is returned by the readers when a part named by a head is
// missing: the document was rewritten (and its old parts deleted) while it
// was read. Read the head again.
var ErrPartsChanged = errors.New("tasks: document parts changed while reading")

// Part is one part znode of a large document: its full path and content.
type Part struct {
	Path string
	Data []byte
}

// NewParts returns the parts of all that are not in prev (by path): the ones
// to create.
func NewParts(all, prev []Part) []Part {
	var out []Part
	for _, p := range all {
		if !slices.ContainsFunc(prev, func(q Part) bool { return q.Path == p.Path }) {
			out = append(out, p)
		}
	}
	return out
}

// StaleParts returns the paths of prev that all does not name: the ones to
// delete once the new head is written.
func StaleParts(all, prev []Part) []string {
	var out []string
	for _, q := range prev {
		if !slices.ContainsFunc(all, func(p Part) bool { return p.Path == q.Path }) {
			out = append(out, q.Path)
		}
	}
	return out
}

// Part znodes live beside the heads: assignment-parts/<node>.<gen>.<i>
// (persistent, created by the master with the head, fenced) and
// status-parts/<node>.<gen>.<i> (ephemeral, the worker's session): gen is
// the write that created the part, i its bucket. A node id may contain '.',
// so a part name is parsed from the right (ParsePartName).

func partName(node string, gen int64, i int) string {
	return node + "." + strconv.FormatInt(gen, 10) + "." + strconv.Itoa(i)
}

// ParsePartName splits a part znode name into node, gen and bucket; ok is
// false for a name that is not one.
func ParsePartName(name string) (node string, gen int64, i int, ok bool) {
	j := strings.LastIndexByte(name, '.')
	if j <= 0 {
		return "", 0, 0, false
	}
	k := strings.LastIndexByte(name[:j], '.')
	if k <= 0 {
		return "", 0, 0, false
	}
	g, err1 := strconv.ParseInt(name[k+1:j], 10, 64)
	n, err2 := strconv.Atoi(name[j+1:])
	if err1 != nil || err2 != nil || n < 0 {
		return "", 0, 0, false
	}
	return name[:k], g, n, true
}

// bucketCount returns K for a task list of size bytes, keeping the previous
// K (prev parts) while parts stay between PartBytes/4 and 7/8 of PartBytes.
func bucketCount(size, prev int) int {
	if prev > 0 && size/prev >= PartBytes/4 && size/prev <= PartBytes*7/8 {
		return prev
	}
	return max(1, (size+PartBytes/2-1)/(PartBytes/2))
}

func bucketOf(id ID, k int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(k))
}

// buildParts names the encoded buckets: a bucket whose bytes equal the
// previous write's same bucket (same K) keeps that part.
func buildParts(dir, node string, gen int64, data [][]byte, prev []Part) ([]Part, error) {
	out := make([]Part, len(data))
	for i, d := range data {
		if len(prev) == len(data) && bytes.Equal(prev[i].Data, d) {
			out[i] = prev[i]
			continue
		}
		out[i] = Part{Path: path.Join(dir, partName(node, gen, i)), Data: d}
		if err := CheckSize(out[i].Path, d); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func partNames(parts []Part) []string {
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = path.Base(p.Path)
	}
	return names
}

type assignmentPart struct {
	Tasks []ID `json:"tasks"`
}

type statusPart struct {
	Tasks map[ID]TaskStatus `json:"tasks"`
}

// EncodeAssignment returns the JSON of doc as written to assignments/<node>
// and its parts in bucket order: the whole document and no parts when it
// fits in PartBytes, else a head without tasks naming the parts. prev is the
// previous write's parts (as DecodeAssignment returned them; nil for none);
// unchanged ones are reused. Create NewParts(parts, prev) before the head,
// delete StaleParts(parts, prev) after it. gen names new parts: unique per
// node and write (the master uses the time in ns). Errors: *DocTooLargeError.
func EncodeAssignment(p Paths, doc AssignmentDoc, prev []Part, gen int64) (head []byte, parts []Part, err error) {
	doc.Parts = nil
	whole, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	if len(whole) <= PartBytes {
		return whole, nil, CheckSize(p.Assignment(doc.Node), whole)
	}
	k := bucketCount(len(whole), len(prev))
	buckets := make([][]ID, k)
	for _, id := range doc.Tasks {
		b := bucketOf(id, k)
		buckets[b] = append(buckets[b], id)
	}
	data := make([][]byte, k)
	for i, b := range buckets {
		if b == nil {
			b = []ID{}
		}
		slices.Sort(b)
		if data[i], err = json.Marshal(assignmentPart{Tasks: b}); err != nil {
			return nil, nil, err
		}
	}
	if parts, err = buildParts(p.AssignmentParts, doc.Node, gen, data, prev); err != nil {
		return nil, nil, err
	}
	doc.Tasks, doc.Parts = []ID{}, partNames(parts)
	if head, err = json.Marshal(doc); err != nil {
		return nil, nil, err
	}
	return head, parts, CheckSize(p.Assignment(doc.Node), head)
}

// EncodeStatus is EncodeAssignment for status/<node> (parts ephemeral).
func EncodeStatus(p Paths, doc StatusDoc, prev []Part, gen int64) (head []byte, parts []Part, err error) {
	doc.Parts = nil
	whole, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	if len(whole) <= PartBytes {
		return whole, nil, CheckSize(p.StatusOf(doc.Node), whole)
	}
	k := bucketCount(len(whole), len(prev))
	buckets := make([]map[ID]TaskStatus, k)
	for i := range buckets {
		buckets[i] = map[ID]TaskStatus{}
	}
	for id, ts := range doc.Tasks {
		buckets[bucketOf(id, k)][id] = ts
	}
	data := make([][]byte, k)
	for i, b := range buckets {
		if data[i], err = json.Marshal(statusPart{Tasks: b}); err != nil { // map keys sorted: deterministic
			return nil, nil, err
		}
	}
	if parts, err = buildParts(p.StatusParts, doc.Node, gen, data, prev); err != nil {
		return nil, nil, err
	}
	doc.Tasks, doc.Parts = map[ID]TaskStatus{}, partNames(parts)
	if head, err = json.Marshal(doc); err != nil {
		return nil, nil, err
	}
	return head, parts, CheckSize(p.StatusOf(doc.Node), head)
}

// Getter reads one znode's data; zkapi.ErrNoNode (possibly wrapped) when it is
// missing. (zkapi.Client).Get fits with its stat dropped: see ConnGetter.
type Getter func(path string) ([]byte, error)

// ConnGetter returns the Getter of c.
func ConnGetter(c zkapi.Conn) Getter {
	return func(p string) ([]byte, error) { d, _, err := c.Get(p); return d, err }
}

// DecodeAssignment decodes a head read from assignments/<node> and, when it
// names parts, reads them with get; it returns the parts read (nil for a
// whole document), to pass to the next EncodeAssignment. Errors: a JSON
// error for a bad head or part, ErrPartsChanged (wrapped) for a missing part
// (read the head again), get's other errors.
func DecodeAssignment(p Paths, head []byte, get Getter) (AssignmentDoc, []Part, error) {
	var doc AssignmentDoc
	parts, err := decodeParts(head, &doc, &doc.Parts, p.AssignmentParts, get,
		func() { doc.Tasks = nil },
		func(a assignmentPart) { doc.Tasks = append(doc.Tasks, a.Tasks...) })
	if err != nil || parts == nil {
		return doc, nil, err
	}
	slices.Sort(doc.Tasks)
	return doc, parts, nil
}

// DecodeStatus is DecodeAssignment for status/<node>.
func DecodeStatus(p Paths, head []byte, get Getter) (StatusDoc, []Part, error) {
	var doc StatusDoc
	parts, err := decodeParts(head, &doc, &doc.Parts, p.StatusParts, get,
		func() { doc.Tasks = map[ID]TaskStatus{} },
		func(s statusPart) {
			for id, ts := range s.Tasks {
				doc.Tasks[id] = ts
			}
		})
	if err != nil {
		return doc, nil, err
	}
	return doc, parts, nil
}

// decodeParts unmarshals head into doc (a pointer to a document whose part
// names are at *names) and, when it names parts, clears those names, reads
// the parts from dir with get, calls reset once and add with each part
// decoded as a P, in order. It returns the parts read, nil for a whole
// document; the errors of DecodeAssignment.
func decodeParts[P any](head []byte, doc any, names *[]string, dir string, get Getter, reset func(), add func(P)) ([]Part, error) {
	if err := json.Unmarshal(head, doc); err != nil {
		return nil, err
	}
	list := *names
	*names = nil
	if len(list) == 0 {
		return nil, nil
	}
	parts, err := readParts(dir, list, get)
	if err != nil {
		return nil, err
	}
	reset()
	for _, part := range parts {
		var v P
		if err := json.Unmarshal(part.Data, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", part.Path, err)
		}
		add(v)
	}
	return parts, nil
}

func readParts(dir string, names []string, get Getter) ([]Part, error) {
	parts := make([]Part, len(names))
	for i, n := range names {
		if n == "" || strings.ContainsRune(n, '/') {
			return nil, fmt.Errorf("tasks: bad part name %q", n)
		}
		pp := path.Join(dir, n)
		data, err := get(pp)
		if errors.Is(err, zkapi.ErrNoNode) {
			return nil, fmt.Errorf("%w: %s", ErrPartsChanged, pp)
		}
		if err != nil {
			return nil, err
		}
		parts[i] = Part{Path: pp, Data: data}
	}
	return parts, nil
}

// readAttempts bounds the re-reads of a document rewritten while read.
const readAttempts = 5

// ReadAssignment reads assignments/<node> with its parts. It returns the
// head's stat; errors as ReadJSON (zkapi.ErrNoNode wrapped when missing), and
// ErrPartsChanged when the document changed during each of 5 attempts.
func (p Paths) ReadAssignment(c zkapi.Conn, node string) (AssignmentDoc, *zkapi.Stat, error) {
	doc, _, st, err := p.ReadAssignmentParts(c, node)
	return doc, st, err
}

// ReadAssignmentParts is ReadAssignment that also returns the parts read
// (for the next EncodeAssignment).
func (p Paths) ReadAssignmentParts(c zkapi.Conn, node string) (AssignmentDoc, []Part, *zkapi.Stat, error) {
	return readDoc(c, p.Assignment(node), func(head []byte) (AssignmentDoc, []Part, error) {
		return DecodeAssignment(p, head, ConnGetter(c))
	})
}

// ReadStatus is ReadAssignment for status/<node>.
func (p Paths) ReadStatus(c zkapi.Conn, node string) (StatusDoc, *zkapi.Stat, error) {
	doc, _, st, err := readDoc(c, p.StatusOf(node), func(head []byte) (StatusDoc, []Part, error) {
		return DecodeStatus(p, head, ConnGetter(c))
	})
	return doc, st, err
}

// readDoc reads the head at headPath and decodes it with its parts, reading
// the head again (up to readAttempts times) while a part is missing.
func readDoc[T any](c zkapi.Conn, headPath string, decode func(head []byte) (T, []Part, error)) (T, []Part, *zkapi.Stat, error) {
	var zero T
	var err error
	for range readAttempts {
		head, st, gerr := c.Get(headPath)
		if gerr != nil {
			return zero, nil, nil, fmt.Errorf("tasks: get %s: %w", headPath, gerr)
		}
		doc, parts, derr := decode(head)
		if err = derr; err == nil {
			return doc, parts, st, nil
		}
		if !errors.Is(err, ErrPartsChanged) {
			return doc, nil, st, fmt.Errorf("tasks: %s: %w", headPath, err)
		}
	}
	return zero, nil, nil, err
}
