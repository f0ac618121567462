package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
)

// Record kinds.
const (
	KindProcStart   = "proc_start"
	KindTermStart   = "term_start"
	KindTermEnd     = "term_end"
	KindFencedWrite = "fenced_write"
	KindTaskStart   = "task_start"
	KindTaskStop    = "task_stop"
	// KindCommit is one fenced Cassandra commit of a task: an ingest
	// task's offset or a fetch task's checkpoint, with the run's token.
	KindCommit = "commit"
)

// Results of a fenced write.
const (
	ResultOK      = "ok"      // ZooKeeper applied the Multi
	ResultFenced  = "fenced"  // the epoch check failed: a newer master exists
	ResultUnknown = "unknown" // connection lost with the Multi in flight
	ResultError   = "error"   // one of the caller's ops failed; nothing applied
)

// Record is one line of the trail. Fields not used by a kind are omitted.
type Record struct {
	Kind    string    `json:"kind"`
	Node    string    `json:"node"`
	PID     int       `json:"pid"`
	T       time.Time `json:"t"`
	MonoNs  int64     `json:"mono_ns"`
	Epoch   int64     `json:"epoch,omitempty"`
	Session string    `json:"session,omitempty"`
	Cause   string    `json:"cause,omitempty"`
	Result  string    `json:"result,omitempty"`
	NOps    int       `json:"n_ops,omitempty"`
	TSent   time.Time `json:"t_sent,omitzero"`
	TDone   time.Time `json:"t_done,omitzero"`
	Task    string    `json:"task,omitempty"`
	Err     string    `json:"err,omitempty"`
	// Token is a commit's fencing token (worker.Run.Token).
	Token int64 `json:"token,omitempty"`
	// Value is what a commit stored: the next offset (decimal) or the
	// checkpoint position (RFC 3339, nanoseconds).
	Value string `json:"value,omitempty"`
}

// Config configures a Writer.
type Config struct {
	// Path is the file appended to (created 0644 if missing). Required.
	Path string
	// Node is the node id written into every record. Required.
	Node string
	// Sync fsyncs after every record. Default false: records survive a
	// process crash (kill -9) but not a machine crash; fsync costs a few ms
	// per record on a disk.
	Sync bool
}

// Writer appends records to one file. A nil *Writer is valid and records
// nothing, so callers need no nil checks. Safe for concurrent use.
type Writer struct {
	cfg   Config
	start time.Time
	pid   int

	mu   sync.Mutex
	f    *os.File
	err  error // first write error; later records are dropped
	once sync.Once
}

// DefaultConfig returns the Config of node's trail in the file at path:
// no fsync per record.
func DefaultConfig(path, node string) Config { return Config{Path: path, Node: node} }

// Validate checks c without opening the file: Path and Node are required.
func (c Config) Validate() error {
	if c.Path == "" || c.Node == "" {
		return fmt.Errorf("audit: path (%q) and node (%q) are required", c.Path, c.Node)
	}
	return nil
}

// Open opens (appending) cfg.Path and writes a proc_start record. Errors:
// cfg.Validate's, the file's.
func Open(cfg Config) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	w := &Writer{cfg: cfg, start: time.Now(), pid: os.Getpid(), f: f}
	w.Write(Record{Kind: KindProcStart})
	return w, w.Err()
}

// Write fills in node, pid, t (if zero) and mono_ns, and appends r as one
// line with a single write. Errors are kept (see Err), not returned: the
// trail must never stop the node.
func (w *Writer) Write(r Record) {
	if w == nil {
		return
	}
	now := time.Now()
	r.Node, r.PID = w.cfg.Node, w.pid
	if r.T.IsZero() {
		r.T = now
	}
	r.MonoNs = int64(now.Sub(w.start))
	line, err := json.Marshal(r)
	if err != nil {
		return
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.f == nil {
		return
	}
	if _, err := w.f.Write(line); err != nil {
		w.err = err
		return
	}
	if w.cfg.Sync {
		if err := w.f.Sync(); err != nil {
			w.err = err
		}
	}
}

// Err returns the first write error, or nil.
func (w *Writer) Err() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close closes the file. Idempotent; later records are dropped.
func (w *Writer) Close() error {
	if w == nil {
		return nil
	}
	var err error
	w.once.Do(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		err = w.f.Close()
		w.f = nil
	})
	return err
}

// TermStart records that this node won the term of epoch on session at t.
func (w *Writer) TermStart(epoch int64, session string, t time.Time) {
	w.Write(Record{Kind: KindTermStart, Epoch: epoch, Session: session, T: t})
}

// TermEnd records that the term of epoch ended, and why.
func (w *Writer) TermEnd(epoch int64, cause error) {
	r := Record{Kind: KindTermEnd, Epoch: epoch}
	if cause != nil {
		r.Cause = cause.Error()
	}
	w.Write(r)
}

// FencedWrite records one fenced Multi of nOps ops (without the epoch check)
// sent at sent and answered (or failed) at done, with result one of the
// Result constants.
func (w *Writer) FencedWrite(epoch int64, nOps int, sent, done time.Time, result string, err error) {
	r := Record{Kind: KindFencedWrite, Epoch: epoch, NOps: nOps, TSent: sent, TDone: done, Result: result, T: done}
	if err != nil {
		r.Err = err.Error()
	}
	w.Write(r)
}

// Commit records one fenced Cassandra commit of task with token, of value,
// sent at sent and answered at done; result is ResultOK (applied),
// ResultFenced (refused: a higher token had committed) or ResultError (the
// outcome of a failed request is unknown to the caller, but it is retried).
func (w *Writer) Commit(task string, token int64, value string, sent, done time.Time, result string, err error) {
	r := Record{Kind: KindCommit, Task: task, Token: token, Value: value, TSent: sent, TDone: done, Result: result, T: done}
	if err != nil {
		r.Err = err.Error()
	}
	w.Write(r)
}

// TaskStart records that a runner of task started with epoch on session.
func (w *Writer) TaskStart(task string, epoch int64, session string) {
	w.Write(Record{Kind: KindTaskStart, Task: task, Epoch: epoch, Session: session})
}

// TaskStop records that the runner of task returned (err: its error).
func (w *Writer) TaskStop(task string, err error) {
	r := Record{Kind: KindTaskStop, Task: task}
	if err != nil {
		r.Err = err.Error()
	}
	w.Write(r)
}

// ReadFile reads every record of a trail. A last line cut short (the node
// was killed mid-write, which a single write(2) makes unlikely) is skipped;
// any other malformed line is an error naming its 1-based line number.
func ReadFile(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	var out []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var r Record
		if err := json.Unmarshal(b, &r); err != nil {
			if !bytes.HasSuffix(data, []byte("\n")) && line == bytes.Count(data, []byte("\n"))+1 {
				break // torn last line
			}
			return nil, fmt.Errorf("audit: %s:%d: %w", path, line, err)
		}
		out = append(out, r)
	}
	return out, sc.Err()
}
