package tasks

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParseSymbol(t *testing.T) {
	tests := []struct {
		in      string
		want    Symbol
		wantErr string // substring of the error; "" means success
	}{
		{in: "AAPL", want: "AAPL"},
		{in: "aapl", want: "AAPL"},
		{in: "BRK-B", want: "BRK-B"},
		{in: "brk.b", want: "BRK.B"},
		{in: "^GSPC", want: "^GSPC"},
		{in: "EURUSD=X", want: "EURUSD=X"},
		{in: "gc=f", want: "GC=F"},
		{in: "7203.T", want: "7203.T"},
		{in: "A", want: "A"},
		{in: "1", want: "1"},
		{in: ".A", want: ".A"},
		{in: "A..B", want: "A..B"},
		{in: strings.Repeat("X", 20), want: Symbol(strings.Repeat("X", 20))},

		{in: "", wantErr: `"": empty`},
		{in: strings.Repeat("X", 21), wantErr: "21 bytes, at most 20"},
		{in: strings.Repeat("y", 1000), wantErr: `"yyyy`},
		{in: ".", wantErr: `".": needs at least one letter or digit`},
		{in: "..", wantErr: `"..": needs at least one letter or digit`},
		{in: "-", wantErr: "needs at least one letter or digit"},
		{in: "^=.-", wantErr: "needs at least one letter or digit"},
		{in: "A/B", wantErr: `"A/B": character '/' at byte 1`},
		{in: "/", wantErr: `character '/' at byte 0`},
		{in: "A B", wantErr: `character ' ' at byte 1`},
		{in: " AAPL", wantErr: `character ' ' at byte 0`},
		{in: "AAPL\n", wantErr: `character '\n' at byte 4`},
		{in: "A\x00B", wantErr: `"A\x00B": character '\x00' at byte 1`},
		{in: "A_B", wantErr: `character '_' at byte 1`},
		{in: "A*", wantErr: `character '*'`},
		{in: "ÄPL", wantErr: `character 'Ä' at byte 0`},
		{in: "ſ", wantErr: `character 'ſ'`}, // strings.ToUpper would map it to 'S'
		{in: "A\xffB", wantErr: `character "\xff" at byte 1`},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseSymbol(tt.in)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("ParseSymbol(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSymbol(%q) = %q, nil; want error containing %q", tt.in, got, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidSymbol) {
				t.Errorf("error %v does not wrap ErrInvalidSymbol", err)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if len(err.Error()) > 200 {
				t.Errorf("error message is %d bytes long, want it bounded", len(err.Error()))
			}
			if got != "" {
				t.Errorf("ParseSymbol(%q) returned %q with an error, want \"\"", tt.in, got)
			}
		})
	}
}

func FuzzParseSymbol(f *testing.F) {
	for _, s := range []string{"AAPL", "brk-b", "^GSPC", "EURUSD=X", "", ".", "..", "a/b", "A\x00", "ÄPL", "ſ",
		strings.Repeat("Z", 20), strings.Repeat("Z", 21)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sym, err := ParseSymbol(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidSymbol) {
				t.Fatalf("ParseSymbol(%q): error %v does not wrap ErrInvalidSymbol", s, err)
			}
			return
		}
		if len(sym) == 0 || len(sym) > MaxSymbolLen {
			t.Fatalf("ParseSymbol(%q) = %q: length %d outside [1,%d]", s, sym, len(sym), MaxSymbolLen)
		}
		alnum := false
		for i := 0; i < len(sym); i++ {
			switch c := sym[i]; {
			case 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
				alnum = true
			case c == '.', c == '-', c == '^', c == '=':
			default:
				t.Fatalf("ParseSymbol(%q) = %q: contains disallowed byte %q", s, sym, c)
			}
		}
		if !alnum {
			t.Fatalf("ParseSymbol(%q) = %q: no letter or digit", s, sym)
		}
		if !strings.EqualFold(string(sym), s) {
			t.Fatalf("ParseSymbol(%q) = %q: not a case-folding of the input", s, sym)
		}
		again, err := ParseSymbol(string(sym))
		if err != nil || again != sym {
			t.Fatalf("ParseSymbol(%q) = %q, %v; want fixed point %q", sym, again, err, sym)
		}
		// A valid symbol always yields a fetch task whose names round-trip.
		task := FetchTask(sym)
		if got, err := ParseID(string(task.ID())); err != nil || got != task {
			t.Fatalf("ParseID(%q) = %v, %v; want %v", task.ID(), got, err, task)
		}
		if got, err := ParseZNodeName(task.ZNodeName()); err != nil || got != task {
			t.Fatalf("ParseZNodeName(%q) = %v, %v; want %v", task.ZNodeName(), got, err, task)
		}
	})
}
