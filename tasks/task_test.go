package tasks

import (
	"errors"
	"strings"
	"testing"
)

func TestTaskNames(t *testing.T) {
	tests := []struct {
		task      Task
		id        ID
		znode     string
		typ       Type
		symbol    Symbol
		partition int32
	}{
		{FetchTask("AAPL"), "fetch/AAPL", "fetch.AAPL", TypeFetch, "AAPL", -1},
		{FetchTask("BRK-B"), "fetch/BRK-B", "fetch.BRK-B", TypeFetch, "BRK-B", -1},
		{FetchTask("BF.B"), "fetch/BF.B", "fetch.BF.B", TypeFetch, "BF.B", -1},
		{FetchTask("^GSPC"), "fetch/^GSPC", "fetch.^GSPC", TypeFetch, "^GSPC", -1},
		{FetchTask("EURUSD=X"), "fetch/EURUSD=X", "fetch.EURUSD=X", TypeFetch, "EURUSD=X", -1},
		{IngestTask(0), "ingest/0", "ingest.0", TypeIngest, "", 0},
		{IngestTask(3), "ingest/3", "ingest.3", TypeIngest, "", 3},
		{IngestTask(2147483647), "ingest/2147483647", "ingest.2147483647", TypeIngest, "", 2147483647},
	}
	for _, tt := range tests {
		t.Run(string(tt.id), func(t *testing.T) {
			if got := tt.task.ID(); got != tt.id {
				t.Errorf("ID() = %q, want %q", got, tt.id)
			}
			if got := tt.task.String(); got != string(tt.id) {
				t.Errorf("String() = %q, want %q", got, tt.id)
			}
			if got := tt.task.ZNodeName(); got != tt.znode {
				t.Errorf("ZNodeName() = %q, want %q", got, tt.znode)
			}
			if strings.Contains(tt.task.ZNodeName(), "/") {
				t.Errorf("ZNodeName() %q contains '/'", tt.task.ZNodeName())
			}
			if tt.task.Type() != tt.typ || tt.task.Symbol() != tt.symbol || tt.task.Partition() != tt.partition {
				t.Errorf("accessors = %q, %q, %d; want %q, %q, %d", tt.task.Type(), tt.task.Symbol(),
					tt.task.Partition(), tt.typ, tt.symbol, tt.partition)
			}
			if tt.task.IsZero() {
				t.Error("IsZero() = true for a constructed task")
			}
			if got, err := ParseID(string(tt.id)); err != nil || got != tt.task {
				t.Errorf("ParseID(%q) = %v, %v; want %v", tt.id, got, err, tt.task)
			}
			if got, err := ParseZNodeName(tt.znode); err != nil || got != tt.task {
				t.Errorf("ParseZNodeName(%q) = %v, %v; want %v", tt.znode, got, err, tt.task)
			}
		})
	}
}

func TestZeroTask(t *testing.T) {
	var z Task
	if !z.IsZero() || z.ID() != "" || z.ZNodeName() != "" || z.Type() != "" || z.Partition() != -1 {
		t.Fatalf("zero Task: IsZero=%v ID=%q ZNodeName=%q Type=%q Partition=%d",
			z.IsZero(), z.ID(), z.ZNodeName(), z.Type(), z.Partition())
	}
}

func TestParseIDErrors(t *testing.T) {
	tests := []struct {
		in      string
		znode   bool // parse with ParseZNodeName instead of ParseID
		wantIs  error
		wantMsg string
	}{
		{in: "", wantIs: ErrInvalidID, wantMsg: `task ID ""`},
		{in: "fetch", wantIs: ErrInvalidID, wantMsg: `"fetch": want <type>/<key>`},
		{in: "/AAPL", wantIs: ErrInvalidID},
		{in: "fetch.AAPL", wantIs: ErrInvalidID}, // a znode name is not an ID
		{in: "compact/AAPL", wantIs: ErrUnknownType, wantMsg: `unknown task type "compact"`},
		{in: "Fetch/AAPL", wantIs: ErrUnknownType, wantMsg: `"Fetch"`},
		{in: "fetch /AAPL", wantIs: ErrUnknownType},
		{in: "fetch/", wantIs: ErrInvalidSymbol, wantMsg: `task ID "fetch/"`},
		{in: "fetch/aapl", wantIs: ErrInvalidSymbol, wantMsg: "canonical upper case"},
		{in: "fetch/A/B", wantIs: ErrInvalidSymbol, wantMsg: `"A/B"`},
		{in: "fetch/..", wantIs: ErrInvalidSymbol},
		{in: "ingest/", wantIs: ErrInvalidID, wantMsg: "non-negative int32"},
		{in: "ingest/-1", wantIs: ErrInvalidID},
		{in: "ingest/+1", wantIs: ErrInvalidID},
		{in: "ingest/03", wantIs: ErrInvalidID},
		{in: "ingest/2147483648", wantIs: ErrInvalidID},
		{in: "ingest/1x", wantIs: ErrInvalidID},
		{in: "ingest/ 1", wantIs: ErrInvalidID},
		{in: "ingest.3", wantIs: ErrInvalidID},

		{in: "fetch/AAPL", znode: true, wantIs: ErrInvalidID, wantMsg: `znode name "fetch/AAPL"`},
		{in: "fetch", znode: true, wantIs: ErrInvalidID},
		{in: ".", znode: true, wantIs: ErrInvalidID},
		{in: "..", znode: true, wantIs: ErrInvalidID},
		{in: "fetch..", znode: true, wantIs: ErrInvalidSymbol},
		{in: "compact.AAPL", znode: true, wantIs: ErrUnknownType, wantMsg: `"compact"`},
		{in: "ingest.-3", znode: true, wantIs: ErrInvalidID},
		{in: "fetch.brk-b", znode: true, wantIs: ErrInvalidSymbol},
	}
	for _, tt := range tests {
		name := "ID/" + tt.in
		parse := ParseID
		if tt.znode {
			name, parse = "ZNode/"+tt.in, ParseZNodeName
		}
		t.Run(name, func(t *testing.T) {
			got, err := parse(tt.in)
			if err == nil {
				t.Fatalf("parse(%q) = %v, nil; want error wrapping %v", tt.in, got, tt.wantIs)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("parse(%q) error %q does not wrap %v", tt.in, err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("parse(%q) error %q does not contain %q", tt.in, err, tt.wantMsg)
			}
			if !got.IsZero() {
				t.Errorf("parse(%q) returned %v with an error, want the zero Task", tt.in, got)
			}
		})
	}
}

func TestParseType(t *testing.T) {
	for _, typ := range Types() {
		if got, err := ParseType(string(typ)); err != nil || got != typ {
			t.Errorf("ParseType(%q) = %q, %v", typ, got, err)
		}
	}
	for _, s := range []string{"", "FETCH", "ingest ", "compact"} {
		if _, err := ParseType(s); !errors.Is(err, ErrUnknownType) {
			t.Errorf("ParseType(%q) error = %v, want ErrUnknownType", s, err)
		}
	}
}

func TestConstructorsPanicOnInvalidInput(t *testing.T) {
	for name, f := range map[string]func(){
		"lower-case symbol": func() { FetchTask("aapl") },
		"slash symbol":      func() { FetchTask("A/B") },
		"empty symbol":      func() { FetchTask("") },
		"negative part":     func() { IngestTask(-1) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		})
	}
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"fetch/AAPL", "ingest/3", "fetch/BF.B", "compact/x", "ingest/03", "fetch/a", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		task, err := ParseID(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) && !errors.Is(err, ErrUnknownType) && !errors.Is(err, ErrInvalidSymbol) {
				t.Fatalf("ParseID(%q): error %v wraps no sentinel", s, err)
			}
			return
		}
		if string(task.ID()) != s {
			t.Fatalf("ParseID(%q).ID() = %q, want the input back", s, task.ID())
		}
		zn := task.ZNodeName()
		if strings.Contains(zn, "/") || zn == "." || zn == ".." {
			t.Fatalf("ZNodeName() = %q is not a valid znode name", zn)
		}
		if got, err := ParseZNodeName(zn); err != nil || got != task {
			t.Fatalf("ParseZNodeName(%q) = %v, %v; want %v", zn, got, err, task)
		}
	})
}
