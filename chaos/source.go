package chaos

import (
	"fmt"
	"sort"
	"time"

	"github.com/stock-system/stocksys/quote"
)

// SourceQuotes returns the quotes the replay of dir produces for symbol and
// the fetch runner keeps: the symbol's files (quote.Replay.Files) read with
// quote.ReadFile, merged in TS order with the first file's bar kept for an
// equal TS (as the replay does), and those passing quote.Validate at now.
func SourceQuotes(dir, symbol string, now time.Time) ([]quote.Quote, error) {
	r, err := quote.NewReplay(dir, 0, quote.Options{})
	if err != nil {
		return nil, err
	}
	files, err := r.Files(symbol)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("chaos: no replay file for %s in %s", symbol, dir)
	}
	var all []quote.Quote
	for _, f := range files {
		qs, err := quote.ReadFile(f, symbol)
		if err != nil {
			return nil, err
		}
		all = append(all, qs...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].TS.Before(all[j].TS) })
	out := make([]quote.Quote, 0, len(all))
	for i, q := range all {
		if i > 0 && q.TS.Equal(all[i-1].TS) {
			continue
		}
		if quote.Validate(q, now) != nil {
			continue
		}
		out = append(out, q)
	}
	return out, nil
}
