package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/tasks"
)

// Issue 15, defect 0: a failed read of symbols/<SYMBOL> (a ZooKeeper fault)
// made the fetch task fall back to the node's default source and store
// synthetic prices as the real symbol. It must be an error instead.
func TestSourceFromReadErrorIsAnError(t *testing.T) {
	fault := errors.New("zk: connection closed")
	f := node.SourceFrom(func(string) (tasks.SymbolSpec, error) { return tasks.SymbolSpec{}, fault }, "synthetic", quote.Options{})
	src, err := f(context.Background(), "SPY")
	if !errors.Is(err, fault) || src != nil {
		t.Fatalf("source = %v, %v; want the read error and no source", src, err)
	}
	if !strings.Contains(err.Error(), "SPY") {
		t.Errorf("error %q does not name the symbol", err)
	}
}

func TestSourceFromSpec(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		doc  tasks.SymbolSpec
		want string // type of the source
	}{
		{tasks.SymbolSpec{Symbol: "SPY"}, "*quote.Synthetic"},                                      // no spec: the node default
		{tasks.SymbolSpec{Symbol: "SPY", Source: "replay:" + dir + "?speed=max"}, "*quote.Replay"}, // the symbol's own spec
	} {
		f := node.SourceFrom(func(string) (tasks.SymbolSpec, error) { return tt.doc, nil }, "synthetic", quote.Options{})
		src, err := f(context.Background(), "SPY")
		if err != nil {
			t.Fatalf("%+v: %v", tt.doc, err)
		}
		if got := typeName(src); got != tt.want {
			t.Errorf("%+v: source %s; want %s", tt.doc, got, tt.want)
		}
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }
