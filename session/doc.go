// Package session is the thin ZooKeeper session layer that election and
// membership share. A Session wraps one go-zookeeper *zk.Conn for the life of
// exactly one ZooKeeper session.
//
// # Recipe
//
//   - New dials the servers with a dialer that reads the server's connect
//     response, so it learns the negotiated session timeout (go-zookeeper keeps
//     it private) and sees an expired session (session id 0) before
//     go-zookeeper reacts to it. Once the session has expired the dialer refuses
//     to dial again, so the *zk.Conn can never quietly open a second session
//     whose ephemeral znodes the caller would not know about.
//   - If the server negotiated a timeout other than the one requested (it clamps
//     silently to [minSessionTimeout, maxSessionTimeout]), New fails with
//     ErrTimeoutOutOfRange naming the range, read from the server's `conf`
//     four-letter word.
//   - One goroutine drains the event channel (go-zookeeper drops events when it
//     is full), tracks the state and closes Done when the session expires.
//   - One goroutine sends a heartbeat (a Sync of "/") every Timeout/6, and one
//     watchdog closes the Unsafe channel when the safe deadline passes.
//
// # The safe deadline, and why it is safe
//
// Let T be the negotiated session timeout. For every heartbeat whose reply
// arrives, the session records the time s at which it was sent (before the
// call). lastHeard is the largest such s, and
//
//	SafeDeadline = lastHeard + 2/3·T
//
// A reply to a request sent at s proves the server received the request at
// some instant r ≥ s, and receiving any packet from the client resets the
// server's expiry timer for the session to at least r + T. ZooKeeper only ever
// rounds that expiry up (to the next multiple of tickTime), never down. So the
// server cannot expire the session, and no other node can see its ephemeral
// znodes vanish, before lastHeard + T. A node that stops acting as master at
// SafeDeadline has therefore stopped at least T/3 before anyone can replace it;
// that T/3 covers clock-rate drift between the two machines and the time the
// node needs to notice (the watchdog and every fenced write check the deadline
// on their own clock).
//
// Using the send time, not the arrival time of the reply, matters for a
// process that was paused (SIGSTOP, a long GC pause): a reply that arrives late
// only proves the server heard us at its send time, so a resumed process sees
// time.Now() past the deadline at once, whatever replies are still in flight.
// Safe compares with the wall clock directly instead of waiting for the
// watchdog goroutine, so no code path has to win a race against it.
//
// The heartbeat is a Sync rather than a read because in an ensemble a
// follower answers reads locally: a follower cut off from the leader keeps
// answering them until it notices (up to syncLimit·tickTime), while the leader,
// which alone expires sessions, no longer hears us. A Sync is answered only
// through the leader. What remains: a follower relays the sessions it has
// heard from to the leader on the leader's pings (every tickTime/2), so in an
// ensemble the leader's timer can lag the client's last packet by up to
// tickTime/2. Choose T with T/3 larger than that lag (the default 10 s with
// ZooKeeper's default tickTime of 2 s leaves 3.3 s against 1 s; scripts/infra.sh
// runs tickTime 250 ms, a lag of at most 125 ms).
//
// # Guarantees
//
//   - Done is closed exactly once, when the session expires or Close is called;
//     Err says which (ErrExpired or ErrClosed).
//   - After Done is closed the *zk.Conn is closed and no request is sent on a
//     later session.
//   - Safe is false from SafeDeadline on until a heartbeat sent later is
//     answered; it is always false after Done.
//   - Close waits for every goroutine the session started.
//
// # Znodes owned
//
// None. The heartbeat syncs "/", which always exists.
package session
