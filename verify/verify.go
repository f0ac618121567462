package verify

import (
	"github.com/stock-system/stocksys/zkapi"

	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/stock-system/stocksys/chaos"
	"github.com/stock-system/stocksys/tasks"
)

// Config configures a verification.
type Config struct {
	// Dir is the chaos run folder (its chaos.json names everything else).
	Dir string
	// ResumeGrace is the longest a task may keep running after its paused
	// process resumes before it counts as a second owner. Default 2s.
	ResumeGrace time.Duration
	// SkipData skips the Cassandra comparison (quotes and bars against the
	// source, and each task's committed token against the trail).
	SkipData bool
	// SkipRecords skips reading the Kafka topics (CheckRecords).
	SkipRecords bool
}

// Report is the result of Run.
type Report struct {
	Dir            string            `json:"dir"`
	SessionTimeout time.Duration     `json:"session_timeout"`
	Faults         int               `json:"faults"`
	FaultKinds     map[string]int    `json:"fault_kinds"`
	Terms          TermSummary       `json:"terms"`
	Owners         OwnerSummary      `json:"ownership"`
	FinalOwners    map[string]string `json:"final_owners"` // task -> its one live owner
	// Settled: the chaos run finished its replay and ingestion
	// (chaos.Manifest.Settled); before, missing rows are not violations.
	Settled    bool          `json:"settled"`
	Data       []DataSummary `json:"data,omitempty"`
	Commits    CommitSummary `json:"commits"`
	Records    RecordSummary `json:"records"`
	Failovers  []Failover    `json:"failovers"`
	Violations []Violation   `json:"violations"`
}

// OK reports whether no invariant was violated.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

// Run checks a settled chaos run.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.ResumeGrace == 0 {
		cfg.ResumeGrace = 2 * time.Second
	}
	m, err := chaos.ReadManifest(cfg.Dir)
	if err != nil {
		return nil, err
	}
	events, err := chaos.ReadEvents(cfg.Dir)
	if err != nil {
		return nil, err
	}
	tr, err := LoadTrail(m.ClusterDir, events)
	if err != nil {
		return nil, err
	}
	rep := &Report{Dir: cfg.Dir, SessionTimeout: m.SessionTimeout, FaultKinds: map[string]int{}, FinalOwners: map[string]string{},
		Settled: !m.Settled.IsZero()}
	for _, e := range events {
		if e.Phase == chaos.PhaseInject {
			rep.Faults++
			rep.FaultKinds[string(e.Kind)]++
		}
	}
	conn, err := zkapi.Dial(strings.Split(m.ZK, ","), 10*time.Second, 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	root := "/stocksys/" + m.Cluster
	zkTerms, zkEpoch, err := readTerms(conn, root)
	if err != nil {
		return nil, err
	}
	sum, vs := CheckTerms(tr, zkTerms, zkEpoch)
	rep.Terms, rep.Violations = sum, append(rep.Violations, vs...)
	osum, vs := CheckOwners(tr, cfg.ResumeGrace)
	rep.Owners, rep.Violations = osum, append(rep.Violations, vs...)
	want := wantTasks(m)
	owners, vs, err := checkFinalOwners(conn, root, want)
	if err != nil {
		return nil, err
	}
	rep.FinalOwners, rep.Violations = owners, append(rep.Violations, vs...)
	csum, vs := CheckCommits(tr)
	rep.Commits, rep.Violations = csum, append(rep.Violations, vs...)
	if !cfg.SkipRecords {
		var tolerate func(LogRecord) bool
		if !m.FetchTransactions {
			// Plain produce is not fenced: a SIGSTOPped owner's buffered
			// records go out at SIGCONT, as its runs' tails do (CheckOwners).
			paused := map[string]bool{}
			for _, e := range tr.Events {
				if e.Kind == chaos.KindPause && e.Phase == chaos.PhaseInject {
					paused[e.Node] = true
				}
			}
			tolerate = func(r LogRecord) bool { return paused[r.Node] }
		}
		rsum, vs, err := CheckRecords(ctx, strings.Split(m.Kafka, ","), m.Topic, tolerate)
		if err != nil {
			return nil, err
		}
		rep.Records, rep.Violations = rsum, append(rep.Violations, vs...)
	}
	rep.Failovers = Failovers(tr, want, cfg.ResumeGrace)
	for _, f := range rep.Failovers {
		if f.FirstWrite.IsZero() || f.AllRunning.IsZero() {
			rep.Violations = append(rep.Violations, Violation{"timings", fmt.Sprintf(
				"failover to epoch %d (%s): never completed (first write %v, all running %v)", f.Epoch, f.Node, !f.FirstWrite.IsZero(), !f.AllRunning.IsZero())})
		}
	}
	if !cfg.SkipData {
		st, err := chaos.OpenStore(ctx, m)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		syms := make([]string, 0, len(m.Symbols))
		for s := range m.Symbols {
			syms = append(syms, s)
		}
		sort.Strings(syms)
		ds, vs, err := CheckData(ctx, st, DataConfig{Sources: m.Symbols, DataDir: m.DataDir, Settled: rep.Settled}, syms)
		if err != nil {
			return nil, err
		}
		rep.Data, rep.Violations = ds, append(rep.Violations, vs...)
		vs, err = CheckStoredTokens(ctx, st, m.Topic, tr, &rep.Commits)
		if err != nil {
			return nil, err
		}
		rep.Violations = append(rep.Violations, vs...)
	}
	return rep, nil
}

func wantTasks(m *chaos.Manifest) []string {
	var out []string
	for s := range m.Symbols {
		out = append(out, "fetch/"+s)
	}
	for p := 0; p < m.Partitions; p++ {
		out = append(out, "ingest/"+strconv.Itoa(p))
	}
	sort.Strings(out)
	return out
}

func readTerms(c zkapi.Conn, root string) ([]tasks.TermDoc, int64, error) {
	data, _, err := c.Get(path.Join(root, "epoch"))
	if err != nil {
		return nil, 0, fmt.Errorf("verify: epoch znode: %w", err)
	}
	epoch, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	names, _, err := c.Children(path.Join(root, "terms"))
	if err != nil {
		return nil, 0, fmt.Errorf("verify: terms/: %w", err)
	}
	var out []tasks.TermDoc
	for _, n := range names {
		var r tasks.TermDoc
		if _, err := tasks.ReadJSON(c, path.Join(root, "terms", n), &r); err == nil {
			out = append(out, r)
		}
	}
	return out, epoch, nil
}

// checkFinalOwners checks, in ZooKeeper now, that every task is in exactly
// one live member's assignment (for its current session) and that exactly
// that member's status reports it running.
func checkFinalOwners(c zkapi.Conn, root string, want []string) (map[string]string, []Violation, error) {
	p := tasks.NewPaths(root)
	members, _, err := c.Children(p.Members)
	if err != nil {
		return nil, nil, err
	}
	assigned := map[string][]string{}
	running := map[string][]string{}
	for _, node := range members {
		_, mst, err := c.Get(path.Join(p.Members, node))
		if err != nil {
			continue
		}
		if doc, _, err := p.ReadAssignment(c, node); err == nil && int64(doc.Session) == mst.EphemeralOwner {
			for _, id := range doc.Tasks {
				assigned[string(id)] = append(assigned[string(id)], node)
			}
		}
		if sd, _, err := p.ReadStatus(c, node); err == nil {
			for id, ts := range sd.Tasks {
				if ts.State == "running" {
					running[string(id)] = append(running[string(id)], node)
				}
			}
		}
	}
	owners := map[string]string{}
	var vs []Violation
	for _, id := range want {
		a, r := assigned[id], running[id]
		if len(a) != 1 || len(r) != 1 || a[0] != r[0] {
			vs = append(vs, Violation{"ownership", fmt.Sprintf("%s at the end: assigned to %v, running on %v; want exactly one live owner", id, a, r)})
			continue
		}
		owners[id] = a[0]
	}
	return owners, vs, nil
}

// WriteText prints the report.
func (r *Report) WriteText(w io.Writer) {
	st := r.SessionTimeout
	fmt.Fprintf(w, "verify: %s (session timeout %v)\n", r.Dir, st)
	kinds := make([]string, 0, len(r.FaultKinds))
	for k, n := range r.FaultKinds {
		kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kinds)
	fmt.Fprintf(w, "faults injected: %d (%s)\n\n", r.Faults, strings.Join(kinds, " "))
	t := r.Terms
	fmt.Fprintf(w, "1. terms: %d terms, unique epochs, in time order; %d accepted fenced writes, %d rejected (fenced), %d of unknown outcome; %d terms/ records agree;\n",
		t.Terms, t.AcceptedWrites, t.RejectedWrites, t.UnknownWrites, t.ZKTerms)
	fmt.Fprintf(w, "   least gap between a master's last accepted write (sent) and the next term's start: %v\n", t.MinHandover.Round(time.Millisecond))
	o := r.Owners
	fmt.Fprintf(w, "2. ownership: %d runs of %d tasks, no two running owners at once; least handover gap %v; %d tails after SIGCONT (longest %v);\n",
		o.Runs, o.Tasks, o.MinHandover.Round(time.Millisecond), o.ResumeTails, o.MaxTail.Round(time.Millisecond))
	ids := make([]string, 0, len(r.FinalOwners))
	for id, n := range r.FinalOwners {
		ids = append(ids, id+"@"+n)
	}
	sort.Strings(ids)
	fmt.Fprintf(w, "   one live owner each at the end: %s\n", strings.Join(ids, " "))
	if r.Data != nil {
		fmt.Fprintln(w, "3. data (Cassandra vs the replayed source, bars vs store.ComputeBars):")
		if !r.Settled {
			fmt.Fprintln(w, "   the run did not settle: missing rows and bars are listed but not counted as violations; rows the source lacks and different rows are")
		}
		for _, d := range r.Data {
			flagged := ""
			if d.Kind == KindTicks {
				flagged = fmt.Sprintf(" (%d flagged)", d.Flagged)
			}
			fmt.Fprintf(w, "   %-5s %-5s %d days: source %d%s, stored %d, missing %d, extra %d, different %d; bars %d compared, %d wrong\n",
				d.Symbol, d.Kind, d.Days, d.Source, flagged, d.Stored, d.Missing, d.Extra, d.Mismatched, d.Bars, d.BadBars)
		}
	} else {
		fmt.Fprintln(w, "3. data: skipped")
	}
	c := r.Commits
	stored := "not read"
	if c.Stored > 0 {
		stored = fmt.Sprintf("%d committed rows in Cassandra carry the newest accepted token", c.Stored)
	}
	fmt.Fprintf(w, "4. commits (Cassandra, fenced by the task token): %d in the trails of %d tasks: %d accepted, %d refused as stale (zombie writes stopped), %d failed and retried; no stale token accepted; %s\n",
		c.Commits, c.Tasks, c.Accepted, c.Refused, c.Failed, stored)
	if rs := r.Records; len(rs.Topics) > 0 {
		fmt.Fprintf(w, "5. records (read_committed, %s): %d read, %d with a task token, %d owners of %d tasks; no fenced owner's record after its successor's\n",
			strings.Join(rs.Topics, " "), rs.Records, rs.WithToken, rs.Owners, rs.Tasks)
		if rs.Tails > 0 {
			fmt.Fprintf(w, "   but %d records of a SIGSTOPped owner after its successor's (its producer's buffer, sent at SIGCONT; without --fetch-transactions nothing fences Kafka records; stored data is checked in 3.)\n", rs.Tails)
		}
	} else {
		fmt.Fprintln(w, "5. records: skipped")
	}
	fmt.Fprintln(w, "6. failovers (from detection: the fault, or the old term's end):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "   epoch\told -> new\tcause\telected\tfirst write\tall running\tall running / session timeout\t")
	for _, f := range r.Failovers {
		fmt.Fprintf(tw, "   %d->%d\t%s -> %s\t%s\t%s\t%s\t%s\t%.2f\t\n", f.PrevEpoch, f.Epoch, f.PrevNode, f.Node, trunc(f.Cause, 40),
			ms(f.ToElected()), ms(f.ToFirstWrite()), ms(f.ToAllRunning()), f.ToAllRunning().Seconds()/st.Seconds())
	}
	tw.Flush()
	if r.OK() {
		fmt.Fprintln(w, "\nverify: OK: no violation")
		return
	}
	fmt.Fprintf(w, "\nverify: %d VIOLATIONS:\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  [%s] %s\n", v.Check, v.Detail)
	}
}

// WriteJSON prints the report as JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n-1] + "…"
	}
	return s
}
