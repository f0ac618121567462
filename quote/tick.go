package quote

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Lean tick files: one zip per symbol and day holding one headerless CSV,
// prices as integers x 10000, times in milliseconds since midnight
// US/Eastern of the date the file name starts with (Lean's data format,
// Data/equity/usa/tick/<sym>/<yyyymmdd>_{trade,quote}.zip, inner files like
// 20131007_spy_Trade_Tick.csv):
//
//	trade: ms,price,quantity,exchange,sale_condition,suspicious
//	quote: ms,bid_price,bid_size,ask_price,ask_size,exchange,condition,suspicious
//
// Many ticks share one millisecond (SPY on 2013-10-07: 170,996 of 250,601
// trades), in file order. A quote line gives one side or both; a side with
// price 0 and size 0 is absent from that line.
const (
	// sourceLeanTick is Quote.Source of a tick read from a Lean tick zip.
	sourceLeanTick = "replay:lean-tick"
	// maxRejectText bounds TickReject.Text (bytes of the line kept).
	maxRejectText = 200
)

// Defaults of the implausible-print rule (FlagTicks), which the replay runs
// on every tick file it loads.
//
// Measured on the Lean trades of 2013-10-07 (SPY 250,601, BAC 88,172, IBM
// 24,293), ticks flagged at window 50 (20, 100 and 200 give the same counts
// from 0.5% up):
//
//	pct    SPY  BAC  IBM
//	0.25    15   17    4
//	0.35     9   11    2
//	0.5      7    3    0   every one an isolated print on exchange D (TRF)
//	1        0    3    0
//	2        0    3    0
//	5        0    0    0
//
// At 0.5% the flags are exactly the visible bad prints: SPY's five prints at
// $168.90 of 0.5-1.0 million shares each (13:07 to 17:04 EDT, the market at
// $167.3-167.9, 0.6-1.0% away) and two more 0.5-0.6% away (264,500 shares
// at $168.13, 50,000 at $168.28), and BAC's three after-hours prints at
// $14.12 against $13.80 (2.3%); the trades before and after each are at the
// market. 1% would keep SPY's seven (4.8 million shares about $1 off the
// market) in its bars; 0.25% and 0.35% flag real moves (BAC's pre-market
// drift). Flagged trades enter the median's window (see FlagTicks), so a real
// jump is accepted after about 25 trades: a first version that kept them out
// flagged 177 BAC trades in a row at 0.25%, every trade after a real move.
// 0.5% is tight for a stock below about $5 (a few price ticks).
const (
	TickMedianWindow = 50  // trades of the window (at least 25 before a trade is checked)
	TickMedianPct    = 0.5 // percent of the median
)

// TickReject is the RowReject of a line of a tick file (its Reason one of
// ReasonBadFields, ReasonBadTime, ReasonBadPrice, ReasonNonPositive,
// ReasonBadSize or ReasonBadSeq). The line is left out and the reading goes
// on. The name is older than RowReject, which every replay reader reports.
type TickReject = RowReject

// Row flags of tickRow.flag.
const (
	tickGood uint8 = iota
	tickSuspicious
	tickOffMedian
)

var tickFlagNames = [...]string{tickGood: "", tickSuspicious: FlagSuspicious, tickOffMedian: FlagOffMedian}

// tickRow is one accepted trade tick, held compactly (40 bytes): a replay of
// SPY's day holds 250,601 of them. Quote values are built from it only when
// handed out (tickFile.quote).
type tickRow struct {
	price, bid, ask int64 // x leanPriceScale; bid, ask 0 = none seen yet
	ms              int32 // wall-clock ms since midnight US/Eastern of the file's day
	size            int32 // shares, > 0
	seq             int32 // within the row's UTC millisecond, 0..MaxSeq
	flag            uint8 // tickGood, tickSuspicious, tickOffMedian
	exch            uint8 // index into tickFile.exch
	cond            uint16
}

// tickFile is one parsed trade tick zip, the quote zip of its day folded in.
// It is immutable once read and shared by every symbol replaying the path
// (the symbol is applied in quote).
type tickFile struct {
	path, quotePath string // quotePath "" when the day has no quote zip
	hour            [24]int64
	rows            []tickRow // ascending Position (UTC ms, seq)
	exch, cond      []string
	rejects         []TickReject
	quoteTicks      int // accepted quote lines
	suspicious      int // rows flagged tickSuspicious
	offMedian       int // rows flagged tickOffMedian (flagTickFile)
}

// unixMs returns row i's time in Unix milliseconds.
func (f *tickFile) unixMs(i int) int64 {
	ms := int64(f.rows[i].ms)
	return f.hour[ms/3_600_000] + ms%3_600_000
}

// ts returns row i's time.
func (f *tickFile) ts(i int) time.Time { return time.UnixMilli(f.unixMs(i)).UTC() }

// afterIndex returns the first row whose Position is after the one given as
// Unix milliseconds and the nanoseconds into that millisecond.
func (f *tickFile) afterIndex(ms int64, ns int32) int {
	return sort.Search(len(f.rows), func(i int) bool {
		m := f.unixMs(i)
		return m > ms || m == ms && f.rows[i].seq > ns
	})
}

// appendQuotes appends rows [i, j) as Quotes of symbol to out.
func (f *tickFile) appendQuotes(out []Quote, i, j int, symbol string) []Quote {
	// One allocation for the batch's bids and asks.
	px := make([]float64, 0, 2*(j-i))
	for k := i; k < j; k++ {
		r := &f.rows[k]
		p := float64(r.price) / leanPriceScale
		q := Quote{Symbol: symbol, TS: f.ts(k), Open: p, High: p, Low: p, Close: p, Volume: int64(r.size),
			Source: sourceLeanTick, Kind: KindTrade, Seq: r.seq, Exchange: f.exch[r.exch], Condition: f.cond[r.cond],
			Flag: tickFlagNames[r.flag]}
		if r.bid > 0 {
			px = append(px, float64(r.bid)/leanPriceScale)
			q.Bid = &px[len(px)-1]
		}
		if r.ask > 0 {
			px = append(px, float64(r.ask)/leanPriceScale)
			q.Ask = &px[len(px)-1]
		}
		out = append(out, q)
	}
	return out
}

// ReadLeanTickZip reads a Lean trade tick zip, <yyyymmdd>_trade.zip whose CSV
// is `ms,price,quantity,exchange,sale_condition,suspicious` (prices x 10000,
// ms since midnight US/Eastern of the file's date, wall-clock arithmetic as
// for the minute files), and returns its trades as ticks of symbol (Kind
// KindTrade, Open = High = Low = Close = price in dollars, Volume =
// quantity, Exchange and Condition as in the file, Source
// "replay:lean-tick"), ascending by Position, with the lines it refused.
//
// A bad line does not fail the file: a line with other than 6 fields
// (ReasonBadFields), a time that is not an integer or not within 0 <= ms <
// 24h (ReasonBadTime), a price that is not an integer (ReasonBadPrice) or is
// <= 0 (ReasonNonPositive), a quantity that is not an integer, <= 0 or above
// 2^31-1 (ReasonBadSize), a suspicious field other than 0 or 1
// (ReasonBadFields), or a millisecond with more than MaxSeq+1 ticks
// (ReasonBadSeq) is left out and reported as a TickReject. Blank lines are
// skipped silently. Seq numbers the ACCEPTED ticks of each UTC millisecond
// 0, 1, 2 ... in file order, so it is the same on every read. A line with
// suspicious = 1 is kept with Flag FlagSuspicious. FlagOffMedian is not set
// here: ReadFile and the replay run FlagTicks on the result.
//
// Quote ticks are folded into the trades rather than returned: when the
// day's <yyyymmdd>_quote.zip lies beside path (rows
// `ms,bid_price,bid_size,ask_price,ask_size,exchange,condition,suspicious`,
// a side of price 0 and size 0 absent), each trade's Bid and Ask are the
// prevailing quote at that trade: the last present bid and the last present
// ask at or before the trade's millisecond, in file order, nil until one was
// seen; suspicious quote lines are ignored, and quote lines are checked like
// trade lines (8 fields; a side with price 0 but a size, or a price but size
// 0, is refused) and reported with the quote zip's path. Folding rather than
// a stream of quote ticks: bars and VWAP need only trades, the quote at each
// trade is what trade classification (Lee-Ready) and spread analysis use,
// and BAC's 2013-10-07 has 476,855 quote lines against 88,172 trades, five
// times the rows for no analytic use here. The bid and ask are the file's
// last quote of each side, not a consolidated best bid and offer across
// exchanges computed here.
//
// Errors (no ticks returned) wrap ErrFormat for a name without a yyyymmdd
// date, a zip without exactly one entry, a minute zip given as a tick zip or
// a quote zip that is not a tick quote zip; otherwise they are the I/O
// error, naming the file.
func ReadLeanTickZip(path, symbol string) ([]Quote, []TickReject, error) {
	f, err := readTickFile(path)
	if err != nil {
		return nil, nil, err
	}
	return f.appendQuotes(make([]Quote, 0, len(f.rows)), 0, len(f.rows), symbol), f.rejects, nil
}

// siblingQuoteZip returns the <yyyymmdd>_quote.zip beside a trade zip, or ""
// when there is none.
func siblingQuoteZip(tradePath string) string {
	base := filepath.Base(tradePath)
	i := strings.LastIndex(strings.ToLower(base), "_trade.zip")
	if i < 0 {
		return ""
	}
	q := filepath.Join(filepath.Dir(tradePath), base[:i]+"_quote.zip")
	if st, err := os.Stat(q); err != nil || st.IsDir() {
		return ""
	}
	return q
}

// siblingTradeZip returns the <yyyymmdd>_trade.zip beside a quote zip, or ""
// when there is none.
func siblingTradeZip(quotePath string) string {
	base := filepath.Base(quotePath)
	i := strings.LastIndex(strings.ToLower(base), "_quote.zip")
	if i < 0 {
		return ""
	}
	t := filepath.Join(filepath.Dir(quotePath), base[:i]+"_trade.zip")
	if st, err := os.Stat(t); err != nil || st.IsDir() {
		return ""
	}
	return t
}

// isTickZip tells a Lean tick zip from a minute zip: by the name of the CSV
// inside (*_tick.csv, case-insensitive), or, when it does not say, by field
// (0-based) of the first row not being an integer (the exchange code of a
// tick row; the low price or bid size of a minute row). An empty CSV is a
// minute file.
func isTickZip(path string, field int) (bool, error) {
	zr, zf, err := openLeanZip(path)
	if err != nil {
		return false, err
	}
	defer zr.Close()
	if strings.HasSuffix(strings.ToLower(zf.Name), "_tick.csv") {
		return true, nil
	}
	first, err := leanFirstLine(path, zf)
	if err != nil {
		return false, err
	}
	if first == nil {
		return false, nil
	}
	var fs [12][]byte
	n := splitFields(first, fs[:])
	if n <= field || n > len(fs) {
		return false, nil
	}
	_, isInt := atoi(fs[field])
	return !isInt, nil
}

// readTickFile reads a trade tick zip and folds in the quote zip of its day
// (see ReadLeanTickZip). Only the vendor's suspicious flag is set.
func readTickFile(path string) (*tickFile, error) {
	day, err := leanDate(path)
	if err != nil {
		return nil, err
	}
	tick, err := isTickZip(path, 3)
	if err != nil {
		return nil, err
	}
	if !tick {
		return nil, fmt.Errorf("%w: lean file %s: not a tick trade zip (a minute file? its inner CSV is not *_Tick.csv and its 4th field is an integer)", ErrFormat, path)
	}
	f := &tickFile{path: path, quotePath: siblingQuoteZip(path)}
	for h := range f.hour {
		f.hour[h] = leanWallTime(day, int64(h)*3_600_000).UnixMilli()
	}
	if err := f.readTrades(); err != nil {
		return nil, err
	}
	if f.quotePath != "" {
		tick, err := isTickZip(f.quotePath, 5)
		if err != nil {
			return nil, err
		}
		if !tick {
			return nil, fmt.Errorf("%w: lean file %s: beside tick trades %s but not a tick quote zip", ErrFormat, f.quotePath, path)
		}
		if err := f.foldQuotes(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// eachLine calls fn with every non-blank line of the CSV in the zip at path,
// its 1-based number and its fields (split at commas, up to len(fields);
// n is the number of fields found, which may exceed it). fn returns a
// reject reason and detail, or "" to accept the line.
func (f *tickFile) eachLine(path string, fields [][]byte, fn func(fields [][]byte, n int) (RejectReason, string)) error {
	zr, zf, err := openLeanZip(path)
	if err != nil {
		return err
	}
	defer zr.Close()
	rc, err := zf.Open()
	if err != nil {
		return fmt.Errorf("quote: lean file %s: %w", path, err)
	}
	defer rc.Close()
	rejects, err := readLines(rc, path, fields, func(_ int, fs [][]byte, n int) (RejectReason, string) { return fn(fs, n) })
	f.rejects = append(f.rejects, rejects...)
	return err
}

// parseTickTime checks a tick line's time field: an integer 0 <= ms < 24h.
func parseTickTime(b []byte) (int64, RejectReason, string) {
	ms, ok := atoi(b)
	if !ok {
		return 0, ReasonBadTime, fmt.Sprintf("time %q: not an integer", b)
	}
	if ms < 0 || ms >= msPerDay {
		return 0, ReasonBadTime, fmt.Sprintf("time %d ms not within 0..%d (a day)", ms, msPerDay-1)
	}
	return ms, "", ""
}

// parseSuspicious checks a tick line's suspicious field: 0 or 1.
func parseSuspicious(b []byte) (bool, RejectReason, string) {
	switch string(bytes.TrimSpace(b)) {
	case "0":
		return false, "", ""
	case "1":
		return true, "", ""
	}
	return false, ReasonBadFields, fmt.Sprintf("suspicious %q: want 0 or 1", b)
}

// readTrades reads f.path's trade lines into f.rows, ascending by Position.
func (f *tickFile) readTrades() error {
	exch, cond := map[string]uint8{}, map[string]uint16{}
	// Seq: while the file is in time order (the rule), the running count of
	// the current millisecond; after the first line out of order, counts
	// per millisecond.
	ordered, lastMs, lastSeq := true, int64(math.MinInt64), int32(0)
	var counts map[int64]int32
	fields := make([][]byte, 7)
	err := f.eachLine(f.path, fields, func(fs [][]byte, n int) (RejectReason, string) {
		if n != 6 {
			return ReasonBadFields, fmt.Sprintf("%d fields; want 6 (ms,price,quantity,exchange,sale_condition,suspicious)", n)
		}
		ms, reason, detail := parseTickTime(fs[0])
		if reason != "" {
			return reason, detail
		}
		price, ok := atoi(fs[1])
		if !ok {
			return ReasonBadPrice, fmt.Sprintf("price %q: not an integer (x 10000)", fs[1])
		}
		if price <= 0 {
			return ReasonNonPositive, fmt.Sprintf("price %d <= 0", price)
		}
		size, ok := atoi(fs[2])
		if !ok {
			return ReasonBadSize, fmt.Sprintf("quantity %q: not an integer", fs[2])
		}
		if size <= 0 || size > math.MaxInt32 {
			return ReasonBadSize, fmt.Sprintf("quantity %d not within 1..%d", size, math.MaxInt32)
		}
		susp, reason, detail := parseSuspicious(fs[5])
		if reason != "" {
			return reason, detail
		}
		ex, ok := exch[string(fs[3])]
		if !ok {
			if len(f.exch) > math.MaxUint8 {
				return ReasonBadFields, fmt.Sprintf("exchange %q: more than %d distinct exchange codes in the file", fs[3], math.MaxUint8+1)
			}
			ex = uint8(len(f.exch))
			f.exch = append(f.exch, string(fs[3]))
			exch[string(fs[3])] = ex
		}
		co, ok := cond[string(fs[4])]
		if !ok {
			if len(f.cond) > math.MaxUint16 {
				return ReasonBadFields, fmt.Sprintf("sale condition %q: more than %d distinct conditions in the file", fs[4], math.MaxUint16+1)
			}
			co = uint16(len(f.cond))
			f.cond = append(f.cond, string(fs[4]))
			cond[string(fs[4])] = co
		}
		row := tickRow{price: price, ms: int32(ms), size: int32(size), exch: ex, cond: co}
		if susp {
			row.flag = tickSuspicious
		}
		utc := f.hour[ms/3_600_000] + ms%3_600_000
		if ordered && utc < lastMs {
			ordered, counts = false, make(map[int64]int32, len(f.rows))
			for i := range f.rows {
				counts[f.unixMs(i)] = f.rows[i].seq + 1
			}
		}
		switch {
		case !ordered:
			row.seq = counts[utc]
		case utc == lastMs:
			row.seq = lastSeq + 1
		}
		if row.seq > MaxSeq {
			return ReasonBadSeq, fmt.Sprintf("more than %d ticks in millisecond %d", MaxSeq+1, ms)
		}
		if ordered {
			lastMs, lastSeq = utc, row.seq
		} else {
			counts[utc] = row.seq + 1
		}
		if susp {
			f.suspicious++
		}
		f.rows = append(f.rows, row)
		return "", ""
	})
	if err != nil {
		return err
	}
	if !ordered {
		sort.Slice(f.rows, func(i, j int) bool {
			a, b := f.unixMs(i), f.unixMs(j)
			return a < b || a == b && f.rows[i].seq < f.rows[j].seq
		})
	}
	if cap(f.rows) > len(f.rows)+len(f.rows)/16 { // hand the append slack back
		f.rows = append(make([]tickRow, 0, len(f.rows)), f.rows...)
	}
	return nil
}

// quoteEvent is one accepted, unsuspicious quote line: its UTC ms and the
// sides it gives (x 10000, 0 = absent).
type quoteEvent struct{ ms, bid, ask int64 }

// foldQuotes reads f.quotePath and sets each row's bid and ask to the last
// present bid and ask at or before its millisecond.
func (f *tickFile) foldQuotes() error {
	var evs []quoteEvent
	day := f.hour
	side := func(name string, pb, sb []byte) (int64, RejectReason, string) {
		p, ok := atoi(pb)
		if !ok {
			return 0, ReasonBadPrice, fmt.Sprintf("%s price %q: not an integer (x 10000)", name, pb)
		}
		s, ok := atoi(sb)
		if !ok {
			return 0, ReasonBadSize, fmt.Sprintf("%s size %q: not an integer", name, sb)
		}
		switch {
		case p == 0 && s == 0:
			return 0, "", "" // side absent
		case p <= 0:
			return 0, ReasonNonPositive, fmt.Sprintf("%s price %d <= 0 with size %d", name, p, s)
		case s <= 0:
			return 0, ReasonBadSize, fmt.Sprintf("%s size %d <= 0 with price %d", name, s, p)
		}
		return p, "", ""
	}
	fields := make([][]byte, 9)
	err := f.eachLine(f.quotePath, fields, func(fs [][]byte, n int) (RejectReason, string) {
		if n != 8 {
			return ReasonBadFields, fmt.Sprintf("%d fields; want 8 (ms,bid_price,bid_size,ask_price,ask_size,exchange,condition,suspicious)", n)
		}
		ms, reason, detail := parseTickTime(fs[0])
		if reason != "" {
			return reason, detail
		}
		bid, reason, detail := side("bid", fs[1], fs[2])
		if reason != "" {
			return reason, detail
		}
		ask, reason, detail := side("ask", fs[3], fs[4])
		if reason != "" {
			return reason, detail
		}
		susp, reason, detail := parseSuspicious(fs[7])
		if reason != "" {
			return reason, detail
		}
		f.quoteTicks++
		if !susp && (bid > 0 || ask > 0) {
			evs = append(evs, quoteEvent{ms: day[ms/3_600_000] + ms%3_600_000, bid: bid, ask: ask})
		}
		return "", ""
	})
	if err != nil {
		return err
	}
	if !sort.SliceIsSorted(evs, func(i, j int) bool { return evs[i].ms < evs[j].ms }) {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].ms < evs[j].ms })
	}
	var bid, ask int64
	j := 0
	for i := range f.rows {
		ms := f.unixMs(i)
		for ; j < len(evs) && evs[j].ms <= ms; j++ {
			if evs[j].bid > 0 {
				bid = evs[j].bid
			}
			if evs[j].ask > 0 {
				ask = evs[j].ask
			}
		}
		f.rows[i].bid, f.rows[i].ask = bid, ask
	}
	return nil
}

// flagTickFile runs the implausible-print rule (see FlagTicks) over f's rows
// and records how many it flagged.
func flagTickFile(f *tickFile, window int, pct float64) {
	prices := make([]float64, len(f.rows))
	skip := make([]bool, len(f.rows))
	for i, r := range f.rows {
		prices[i] = float64(r.price) / leanPriceScale
		skip[i] = r.flag != tickGood
	}
	for _, i := range offMedian(prices, skip, window, pct) {
		f.rows[i].flag = tickOffMedian
		f.offMedian++
	}
}

// FlagTicks applies the implausible-print rule to the trade ticks in ticks
// (bars and ticks already flagged are left alone) and returns how many it
// flagged. For each symbol, in Position order, a trade whose Close lies more
// than pct percent of the median away from the median of the previous
// `window` trades of that symbol (those the vendor marked suspicious left out)
// gets Flag FlagOffMedian. A trade it flags still enters the window of the
// next ones: an isolated bad print cannot move the median, while a real jump
// to a new level (an opening gap, news) is accepted as soon as it has held
// for about window/2 trades, so the rule flags at most that many after a
// jump and never runs away. A trade with fewer than window/2 (at least 1)
// trades before it is not checked. The
// median of an even count is the mean of the middle two. Prices that are not
// finite and positive are neither checked nor counted (Validate refuses
// them).
//
// Use TickMedianWindow and TickMedianPct; window < 1 or pct not > 0 flags
// nothing. ticks need not be sorted or of one symbol; only Flag fields are
// written, and the result depends only on the input. O(n log n): a Fenwick
// tree over the symbol's distinct prices finds each median in O(log n)
// (SPY's 250,601 trades of 2013-10-07 take about 60 ms here, the sort by
// Position included).
func FlagTicks(ticks []Quote, window int, pct float64) int {
	bySym := map[string][]int{}
	var order []string
	for i := range ticks {
		if !ticks[i].IsTick() {
			continue
		}
		s := ticks[i].Symbol
		if _, ok := bySym[s]; !ok {
			order = append(order, s)
		}
		bySym[s] = append(bySym[s], i)
	}
	n := 0
	for _, s := range order {
		idx := bySym[s]
		sort.SliceStable(idx, func(a, b int) bool { return ticks[idx[a]].Position().Before(ticks[idx[b]].Position()) })
		prices := make([]float64, len(idx))
		skip := make([]bool, len(idx))
		for k, i := range idx {
			prices[k], skip[k] = ticks[i].Close, ticks[i].Flag != ""
		}
		for _, k := range offMedian(prices, skip, window, pct) {
			ticks[idx[k]].Flag = FlagOffMedian
			n++
		}
	}
	return n
}

// offMedian is the rule of FlagTicks over one symbol's prices in Position
// order, skip[i] marking prices already flagged. It returns the indices it
// flags, ascending.
func offMedian(prices []float64, skip []bool, window int, pct float64) []int {
	if window < 1 || !(pct > 0) || len(prices) == 0 {
		return nil
	}
	usable := func(i int) bool { p := prices[i]; return !skip[i] && p > 0 && !math.IsInf(p, 1) }
	// Ranks of the distinct usable prices.
	var uniq []float64
	for i := range prices {
		if usable(i) {
			uniq = append(uniq, prices[i])
		}
	}
	sort.Float64s(uniq)
	u := uniq[:0]
	for i, p := range uniq {
		if i == 0 || p != uniq[i-1] {
			u = append(u, p)
		}
	}
	uniq = u
	// Fenwick tree of the window's price counts by rank (1-based).
	tree := make([]int32, len(uniq)+1)
	add := func(r int, d int32) {
		for r++; r < len(tree); r += r & -r {
			tree[r] += d
		}
	}
	top := 1
	for top*2 < len(tree) {
		top *= 2
	}
	kth := func(k int32) float64 { // k-th smallest (1-based) of the window
		pos := 0
		for step := top; step > 0; step /= 2 {
			if pos+step < len(tree) && tree[pos+step] < k {
				pos += step
				k -= tree[pos]
			}
		}
		return uniq[pos]
	}
	ring := make([]int, window) // ranks of the window, oldest at head when full
	head, count := 0, 0
	need := max(1, window/2)
	var out []int
	for i, p := range prices {
		if !usable(i) {
			continue
		}
		if count >= need {
			var m float64
			if c := int32(count); c%2 == 1 {
				m = kth(c/2 + 1)
			} else {
				m = (kth(c/2) + kth(c/2+1)) / 2
			}
			if math.Abs(p-m) > pct/100*m {
				out = append(out, i) // and it enters the window: see FlagTicks
			}
		}
		r := sort.SearchFloat64s(uniq, p)
		if count == window {
			add(ring[head], -1)
		} else {
			count++
		}
		ring[head] = r
		add(r, 1)
		head = (head + 1) % window
	}
	return out
}

// lineReader reads lines of any length: a line longer than its buffer is
// reported as too long (with its beginning) instead of failing the file.
type lineReader struct{ br *bufio.Reader }

func newLineReader(r io.Reader) *lineReader { return &lineReader{bufio.NewReaderSize(r, 64<<10)} }

// next returns the next line without "\n" or "\r\n" (valid until the next
// call), tooLong when it exceeded the buffer (b is then its first
// maxRejectText bytes), or io.EOF after the last line.
func (lr *lineReader) next() (b []byte, tooLong bool, err error) {
	b, err = lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		head := append([]byte(nil), b[:maxRejectText]...)
		for err == bufio.ErrBufferFull {
			_, err = lr.br.ReadSlice('\n')
		}
		if err != nil && err != io.EOF {
			return nil, false, err
		}
		return head, true, nil
	}
	if err == io.EOF {
		if len(b) == 0 {
			return nil, false, io.EOF
		}
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	b = bytes.TrimSuffix(b, []byte{'\n'})
	b = bytes.TrimSuffix(b, []byte{'\r'})
	return b, false, nil
}

// splitFields splits b at commas into out and returns the number of fields,
// which may exceed len(out) (the extra ones are not stored).
func splitFields(b []byte, out [][]byte) int {
	n := 0
	for {
		i := bytes.IndexByte(b, ',')
		if n < len(out) {
			if i < 0 {
				out[n] = b
			} else {
				out[n] = b[:i]
			}
		}
		n++
		if i < 0 {
			return n
		}
		b = b[i+1:]
	}
}

// atoi parses a decimal int64 with an optional sign, spaces around it
// allowed; ok is false for anything else, including overflow.
func atoi(b []byte) (v int64, ok bool) {
	b = bytes.TrimSpace(b)
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg, b = b[0] == '-', b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	if neg {
		v = -v
	}
	return v, true
}
