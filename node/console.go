package node

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"time"

	"github.com/stock-system/stocksys/status"
)

// The web console (/ui/): static files embedded in the binary (ui/, no CDN
// at run time), fed by the REST API (/v1/) and the event stream below.

//go:embed ui
var uiFiles embed.FS

// eventsEvery is how often /v1/events reads the cluster for a change.
const eventsEvery = 250 * time.Millisecond

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
}

// events streams server-sent events (text/event-stream): a "cluster" event
// (ConsoleEvent JSON) at once and whenever the cluster's state changes
// (read every eventsEvery; the read time aside), and an "error" event
// (APIError JSON) while the node cannot read it. It ends when the client
// goes or the node's Run returns.
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
	var last []byte
	tick := time.NewTicker(eventsEvery)
	defer tick.Stop()
	for {
		ev, err := n.consoleEvent()
		var name string
		var data []byte
		if err != nil {
			name, data = "error", mustJSON(APIError{Code: "zookeeper", Message: err.Error()})
		} else {
			ev.At = time.Time{}
			key := mustJSON(ev) // without the time: unchanged state sends nothing
			if !bytes.Equal(key, last) {
				last = key
				ev.At = time.Now().UTC()
				name, data = "cluster", mustJSON(ev)
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
		case <-tick.C:
		}
	}
}

// consoleEvent reads what the console shows.
func (n *Node) consoleEvent() (ConsoleEvent, error) {
	s := n.Session()
	if s == nil {
		return ConsoleEvent{}, errNoSession
	}
	rep, err := status.Read(s.Conn(), n.cfg.Cluster, n.cfg.Root)
	if err != nil {
		return ConsoleEvent{}, err
	}
	rep.Read = time.Time{} // changes at every read
	h, err := status.MasterHistory(s.Conn(), n.cfg.Root)
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
