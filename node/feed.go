package node

import (
	"bytes"
	"sync"
	"time"

	"github.com/stock-system/stocksys/session"
	"github.com/stock-system/stocksys/zkapi"
)

// feed is the one reader of the cluster's state for the console's event
// streams (/v1/events): it reads what the console shows (consoleEvent:
// the status report and the recorded terms) through a zkapi.Watched, so
// every znode it read is watched, and reads again when one of those
// watches fires (at most every feedMin, coalescing bursts; every
// feedResync in any case, and when the node's session changes). It runs
// while at least one stream is open; all streams share its reads.
type feed struct {
	n *Node

	mu      sync.Mutex
	subs    int
	stop    chan struct{} // closes the running loop
	stopped chan struct{} // closed when it returned
	changed chan struct{} // closed (and replaced) at each new value
	ev      *ConsoleEvent // the latest read (nil: none yet or err)
	err     error         // the latest read's error
	key     []byte        // ev's JSON without its time: unchanged reads publish nothing
	ver     int64         // counts the values published
}

const (
	feedMin    = 50 * time.Millisecond // least time between two reads
	feedResync = 5 * time.Second       // a read at least this often
	feedPoll   = 250 * time.Millisecond
)

// subscribe registers a stream and starts the loop for the first one. It
// returns a function giving the latest value (its version: a new value
// has a new one; a channel closed at the next change), and the unsubscribe
// function (the last one stops the loop and waits for it).
func (f *feed) subscribe() (latest func() (*ConsoleEvent, int64, <-chan struct{}, error), cancel func()) {
	f.mu.Lock()
	f.subs++
	if f.subs == 1 {
		f.stop, f.stopped = make(chan struct{}), make(chan struct{})
		if f.changed == nil {
			f.changed = make(chan struct{})
		}
		go f.loop(f.stop, f.stopped)
	}
	f.mu.Unlock()
	var once sync.Once
	return func() (*ConsoleEvent, int64, <-chan struct{}, error) {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.ev, f.ver, f.changed, f.err
		}, func() {
			once.Do(func() {
				f.mu.Lock()
				f.subs--
				var stop, stopped chan struct{}
				if f.subs == 0 {
					stop, stopped = f.stop, f.stopped
					f.ev, f.err, f.key = nil, nil, nil
				}
				f.mu.Unlock()
				if stop != nil {
					close(stop)
					<-stopped
				}
			})
		}
}

// publish stores a read's result and wakes the streams if it changed.
func (f *feed) publish(ev *ConsoleEvent, err error) {
	var key []byte
	if ev != nil {
		key = mustJSON(ev)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil && f.err == nil && f.ev != nil && bytes.Equal(key, f.key) {
		return
	}
	if err != nil && f.err != nil && err.Error() == f.err.Error() {
		return // the same error again
	}
	f.ev, f.err, f.key = ev, err, key
	f.ver++
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *feed) loop(stop <-chan struct{}, stopped chan<- struct{}) {
	defer close(stopped)
	var (
		w    *zkapi.Watched
		sess *session.Session
		prev *ConsoleEvent
	)
	defer func() {
		if w != nil {
			w.Close()
		}
	}()
	poll := time.NewTicker(feedPoll)
	defer poll.Stop()
	for {
		if s := f.n.Session(); s != sess {
			if w != nil {
				w.Close()
				w = nil
			}
			sess, prev = s, nil
			if s != nil {
				w = f.n.watched(s)
			}
		}
		var changed <-chan struct{}
		if w == nil {
			f.publish(nil, errNoSession)
		} else {
			w.Reset()
			ev, err := f.n.consoleEvent(w, prev)
			if err != nil {
				f.publish(nil, err)
			} else {
				prev = &ev
				f.publish(&ev, nil)
			}
			changed = w.Changed()
		}
		read := time.Now()
		resync := time.NewTimer(feedResync)
	wait:
		for {
			select {
			case <-stop:
				resync.Stop()
				return
			case <-changed:
				break wait
			case <-resync.C:
				break wait
			case <-poll.C:
				if f.n.Session() != sess || w == nil {
					break wait
				}
			}
		}
		resync.Stop()
		if d := feedMin - time.Since(read); d > 0 {
			select {
			case <-stop:
				return
			case <-time.After(d):
			}
		}
	}
}
