package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/node"
	"github.com/stock-system/stocksys/tasks"
)

// The HTTP sources' base URLs and the Alpha Vantage key come from the node's
// flags (issue 18): bad values are refused naming the flag; a node's fetch
// source then talks to the given server, here a test server serving the
// recorded Alpha Vantage MSFT response, with the key from the file.
func TestNodeSourceFlags(t *testing.T) {
	dir := t.TempDir()
	keyFile, blank := filepath.Join(dir, "key"), filepath.Join(dir, "blank")
	if err := os.WriteFile(keyFile, []byte("k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blank, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := func() *nodeOpts {
		return &nodeOpts{yahooURL: "https://query1.finance.yahoo.com", avURL: "https://www.alphavantage.co"}
	}
	for _, c := range []struct {
		mod  func(o *nodeOpts)
		want string
	}{
		{func(o *nodeOpts) { o.yahooURL = "query1.finance.yahoo.com" }, `--yahoo-url "query1.finance.yahoo.com": want an http or https URL`},
		{func(o *nodeOpts) { o.avURL = "ftp://x" }, `--alphavantage-url "ftp://x"`},
		{func(o *nodeOpts) { o.avURL = "http://h/?apikey=1" }, `--alphavantage-url "http://h/?apikey=1"`},
		{func(o *nodeOpts) { o.avKeyFile = filepath.Join(dir, "missing") }, "--alphavantage-key-file: open " + filepath.Join(dir, "missing")},
		{func(o *nodeOpts) { o.avKeyFile = blank }, "--alphavantage-key-file " + blank + ": want one key"},
	} {
		o := good()
		c.mod(o)
		if _, err := sourceOptions(o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", o, err, c.want)
		}
	}

	body, err := os.ReadFile(testenv.SharedFixture(t, "alphavantage/time_series_intraday_msft_1min.json"))
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int32
	var gotKey atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		gotKey.Store(r.URL.Query().Get("apikey"))
		if r.URL.Path != "/prefix/query" || r.URL.Query().Get("symbol") != "MSFT" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	defer srv.Close()
	o := good()
	o.avURL, o.avKeyFile = srv.URL+"/prefix/", keyFile
	so, err := sourceOptions(o)
	if err != nil {
		t.Fatal(err)
	}
	src := node.SourceFrom(func(string) (tasks.SymbolSpec, error) {
		return tasks.SymbolSpec{Symbol: "MSFT", Source: "alphavantage"}, nil
	}, "synthetic", so)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	s, err := src(ctx, "MSFT")
	if err != nil {
		t.Fatal(err)
	}
	qs, err := s.Fetch(ctx, "MSFT", time.Time{})
	if err != nil || len(qs) == 0 {
		t.Fatalf("fetch MSFT from the test server: %d quotes, %v", len(qs), err)
	}
	if hits.Load() == 0 || gotKey.Load() != "k3y" {
		t.Fatalf("the test server saw %d requests with apikey %v; want the key from --alphavantage-key-file", hits.Load(), gotKey.Load())
	}
	t.Logf("alphavantage via --alphavantage-url %s: %d quotes, %d requests", o.avURL, len(qs), hits.Load())
}
