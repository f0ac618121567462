package node

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strconv"
	"time"

	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
	"github.com/stock-system/stocksys/tasks"
	"github.com/stock-system/stocksys/zkapi"
)

// The web console (/ui/): static files embedded in the binary (ui/, no CDN
// at run time), fed by the REST API (/v1/) and the event stream below.

//go:embed ui
var uiFiles embed.FS

// ConsoleEvent is the data of one /v1/events "cluster" event: the status
// report and the recorded terms, as the console draws them.
type ConsoleEvent struct {
	Status  *status.Report `json:"status"`
	History []status.Term  `json:"history"`
	Node    string         `json:"node"` // the node that serves the console
	At      time.Time      `json:"at"`
}

func (n *Node) console(mux *http.ServeMux) {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux.Handle("GET /ui/", http.StripPrefix("/ui/", http.FileServerFS(sub)))
	mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	mux.HandleFunc("GET /v1/events", n.events)
	mux.HandleFunc("GET /v1/alerts/{symbol}", func(w http.ResponseWriter, r *http.Request) {
		sym, err := tasks.ParseSymbol(r.PathValue("symbol"))
		if err != nil {
			apiErr(w, http.StatusBadRequest, "bad_symbol", fmt.Sprintf("symbol %q: %v", r.PathValue("symbol"), err))
			return
		}
		var from, to time.Time
		for _, q := range []struct {
			name string
			t    *time.Time
		}{{"from", &from}, {"to", &to}} {
			v := r.URL.Query().Get(q.name)
			if v == "" {
				apiErr(w, http.StatusBadRequest, "bad_request", q.name+": required (RFC 3339)")
				return
			}
			if *q.t, err = time.Parse(time.RFC3339, v); err != nil {
				apiErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("%s %q: want RFC 3339 (2020-11-24T14:30:00Z)", q.name, v))
				return
			}
		}
		if !from.Before(to) || to.Sub(from) > alertDays*24*time.Hour {
			apiErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("from %s to %s: want from < to, at most %d days apart", from.Format(time.RFC3339), to.Format(time.RFC3339), alertDays))
			return
		}
		if n.cfg.Alerts == nil {
			apiErr(w, http.StatusNotFound, "no_charts", errNoCharts.Error())
			return
		}
		as, err := n.cfg.Alerts(r.Context(), string(sym), from, to)
		if err != nil {
			apiErr(w, http.StatusServiceUnavailable, "cassandra", err.Error())
			return
		}
		if as == nil {
			as = []store.Alert{}
		}
		writeAPI(w, http.StatusOK, as)
	})
	mux.HandleFunc("GET /v1/bars/{symbol}", func(w http.ResponseWriter, r *http.Request) {
		sym, err := tasks.ParseSymbol(r.PathValue("symbol"))
		if err != nil {
			apiErr(w, http.StatusBadRequest, "bad_symbol", fmt.Sprintf("symbol %q: %v", r.PathValue("symbol"), err))
			return
		}
		interval := r.URL.Query().Get("interval")
		if interval == "" {
			interval = store.Interval1m
		}
		limit := 500
		if q := r.URL.Query().Get("limit"); q != "" {
			if limit, err = strconv.Atoi(q); err != nil || limit < 1 || limit > 10000 {
				apiErr(w, http.StatusBadRequest, "bad_request", fmt.Sprintf("limit %q: want 1..10000", q))
				return
			}
		}
		bars, err := n.lastBars(r.Context(), string(sym), interval, limit)
		switch {
		case errors.Is(err, errNoCharts):
			apiErr(w, http.StatusNotFound, "no_charts", err.Error())
		case errors.Is(err, store.ErrInvalidInterval):
			apiErr(w, http.StatusBadRequest, "bad_interval", err.Error())
		case err != nil:
			apiErr(w, http.StatusServiceUnavailable, "cassandra", err.Error())
		default:
			writeAPI(w, http.StatusOK, bars)
		}
	})
}

var errNoCharts = errors.New("this node serves no charts (it has no store)")

// alertDays bounds the days of alerts read for a chart (one Cassandra query
// per day): the newest alertDays of the bars shown.
const alertDays = 7

// chartAlerts returns the alerts of symbol for bars (oldest first; bars of
// interval): those from the first bar's start, or alertDays before the
// last one if later, to the end of the last bar. None (nil) if the node has
// no Alerts or there are no bars.
func (n *Node) chartAlerts(ctx context.Context, symbol, interval string, bars []store.Bar) ([]store.Alert, error) {
	if n.cfg.Alerts == nil || len(bars) == 0 {
		return nil, nil
	}
	step := map[string]time.Duration{store.Interval1m: time.Minute, store.Interval5m: 5 * time.Minute,
		store.Interval1h: time.Hour, store.Interval1d: 24 * time.Hour}[interval]
	last := bars[len(bars)-1].TS
	from := bars[0].TS
	if lim := last.AddDate(0, 0, -alertDays); from.Before(lim) {
		from = lim
	}
	return n.cfg.Alerts(ctx, symbol, from, last.Add(step))
}

// lastBars returns the newest limit bars of symbol and interval, oldest
// first (all stored days are read: the replays' data is years old).
func (n *Node) lastBars(ctx context.Context, symbol, interval string, limit int) ([]store.Bar, error) {
	if n.cfg.Bars == nil {
		return nil, errNoCharts
	}
	bars, err := n.cfg.Bars(ctx, symbol, interval, time.Unix(0, 0), time.Now().Add(24*time.Hour))
	if err != nil {
		return nil, err
	}
	if len(bars) > limit {
		bars = bars[len(bars)-limit:]
	}
	if bars == nil {
		bars = []store.Bar{}
	}
	return bars, nil
}

// events streams server-sent events (text/event-stream): a "cluster" event
// (ConsoleEvent JSON) at once and whenever the cluster's state changes, as
// the node's feed reads it (one watched reader shared by every stream:
// read again when a znode it read changes, at most every 50 ms, at least
// every 5 s), an "error" event (APIError JSON) while the node cannot read
// it, and with ?symbol= the chart's "bars" events (read every second). It
// ends when the client goes or the node's Run returns.
func (n *Node) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		apiErr(w, http.StatusInternalServerError, "no_streaming", "this server cannot stream")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	var lastBars []byte
	var since time.Time // the newest bar sent
	sym, interval := r.URL.Query().Get("symbol"), r.URL.Query().Get("interval")
	if interval == "" {
		interval = store.Interval1m
	}
	if _, err := tasks.ParseSymbol(sym); err != nil {
		sym = "" // no chart stream
	}
	latest, unsubscribe := n.feed.subscribe()
	defer unsubscribe()
	barsTick := time.NewTicker(time.Second)
	defer barsTick.Stop()
	sendBars := func() bool {
		if sym == "" || n.cfg.Bars == nil {
			return true
		}
		bars, err := n.lastBars(r.Context(), sym, interval, 500)
		if err != nil {
			return true
		}
		// From the last bar sent on (it may have changed), else the newest
		// 3: a fast replay adds many a second.
		from := max(len(bars)-3, 0)
		if !since.IsZero() {
			from = len(bars)
			for from > 0 && !bars[from-1].TS.Before(since) {
				from--
			}
		}
		bars = bars[from:]
		if len(bars) > 0 {
			since = bars[len(bars)-1].TS
		}
		ev := BarsEvent{Symbol: sym, Interval: interval, Bars: bars}
		ev.Alerts, _ = n.chartAlerts(r.Context(), sym, interval, bars) // unreadable: none this time
		data := mustJSON(ev)
		if bytes.Equal(data, lastBars) {
			return true
		}
		lastBars = data
		if _, err := fmt.Fprintf(w, "event: bars\ndata: %s\n\n", data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if !sendBars() {
		return
	}
	var sent int64 // the version of the feed's value last sent
	for {
		ev, ver, changed, err := latest()
		var name string
		var data []byte
		if ver != sent && (err != nil || ev != nil) {
			sent = ver
			if err != nil {
				name, data = "error", mustJSON(APIError{Code: "zookeeper", Message: err.Error()})
			} else {
				e := *ev
				e.At = time.Now().UTC()
				name, data = "cluster", mustJSON(e)
			}
		}
		if name != "" {
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, data); err != nil {
				return
			}
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-n.done: // the node stopped: end the stream (the browser reconnects elsewhere or shows it)
			return
		case <-changed:
		case <-barsTick.C:
			if !sendBars() {
				return
			}
		}
	}
}

// BarsEvent is the data of a /v1/events "bars" event (?symbol=S and
// &interval=I, default 1m): the chart symbol's bars from the newest one
// sent before on (the newest 3 at first; at most 500) and the alerts within
// them, sent when they change (read every second).
type BarsEvent struct {
	Symbol   string      `json:"symbol"`
	Interval string      `json:"interval"`
	Bars     []store.Bar `json:"bars"`
	// Alerts are the symbol's stored alerts within those bars (chartAlerts;
	// omitted: none), drawn as markers.
	Alerts []store.Alert `json:"alerts,omitempty"`
}

// consoleEvent reads what the console shows. The terms are read again only
// when the master or the latest failover changed since prev (nil: none):
// a term's record changes only with a change of master (its win, its
// resignation), the latest first write only with the failover document.
func (n *Node) consoleEvent(c zkapi.Conn, prev *ConsoleEvent) (ConsoleEvent, error) {
	rep, err := status.Read(c, n.cfg.Cluster, n.cfg.Root)
	if err != nil {
		return ConsoleEvent{}, err
	}
	rep.Read = time.Time{} // changes at every read
	if prev != nil && sameTerms(prev.Status, rep) {
		return ConsoleEvent{Status: rep, History: prev.History, Node: n.cfg.ID}, nil
	}
	h, err := status.MasterHistory(c, n.cfg.Root)
	if err != nil {
		return ConsoleEvent{}, err
	}
	if len(h) > 20 {
		h = h[len(h)-20:]
	}
	for i := range h {
		h[i].HeldMS = 0 // grows with time: drawn from the times themselves
	}
	return ConsoleEvent{Status: rep, History: h, Node: n.cfg.ID}, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(`{"code":"internal","message":` + fmt.Sprintf("%q", err.Error()) + `}`)
	}
	return b
}

// sameTerms reports whether a and b show the same master and latest
// failover, phases included (so the recorded terms are the same): the
// failover document's all_running (and prev_ended) are written after its
// first assignment, and the history drawn from it must follow.
func sameTerms(a, b *status.Report) bool {
	if (a.Master == nil) != (b.Master == nil) || (a.LastFailover == nil) != (b.LastFailover == nil) {
		return false
	}
	if a.Master != nil && (a.Master.Epoch != b.Master.Epoch || a.Master.Session != b.Master.Session) {
		return false
	}
	if a.LastFailover == nil {
		return true
	}
	fa, fb := a.LastFailover, b.LastFailover
	return fa.Epoch == fb.Epoch && fa.FirstAssignment.Equal(fb.FirstAssignment) && sameTime(fa.AllRunning, fb.AllRunning) && sameTime(fa.PrevEnded, fb.PrevEnded)
}

// sameTime reports whether a and b are both unset or the same instant.
func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}
