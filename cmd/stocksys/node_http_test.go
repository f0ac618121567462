package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stock-system/stocksys/internal/ports"
)

func TestCheckHTTPPort(t *testing.T) {
	linux := ports.Range{Lo: 32768, Hi: 60999}
	for _, tt := range []struct {
		addr     string
		computed bool
		eph      ports.Range
		warn     string // substring; "" for none
		err      string // substring; "" for none
	}{
		{"127.0.0.1:8081", true, linux, "", ""},
		{"127.0.0.1:8081", false, linux, "", ""},
		{"127.0.0.1:32767", false, linux, "", ""},
		{"127.0.0.1:61000", false, linux, "", ""},
		{"127.0.0.1:0", false, linux, "", ""}, // any free port: ephemeral on purpose
		{"127.0.0.1:0", true, ports.Range{Lo: 1, Hi: 65535}, "", ""},
		{"127.0.0.1:46206", false, linux, "--http 127.0.0.1:46206 is in the kernel's ephemeral port range 32768-60999", ""},
		{"127.0.0.1:32768", false, linux, "ephemeral port range 32768-60999", ""},
		{"127.0.0.1:60999", false, linux, "ephemeral port range 32768-60999", ""},
		// A computed default in the range (a machine whose range starts low) is an error.
		{"127.0.0.1:8081", true, ports.Range{Lo: 1024, Hi: 65535}, "",
			"--http not given and its default 127.0.0.1:8081 (127.0.0.1:<8080+N> for an id ending in N) is in the kernel's ephemeral port range 1024-65535"},
		{"127.0.0.1:8081", false, ports.Range{Lo: 1024, Hi: 65535}, "--http 127.0.0.1:8081 is in", ""},
		{"127.0.0.1:http", false, linux, "", `port "http" is not 0..65535`},
		{"127.0.0.1", false, linux, "", "want host:port"},
	} {
		warn, err := checkHTTPPort(tt.addr, tt.computed, tt.eph)
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("checkHTTPPort(%q, %v, %v) error %v; want %q", tt.addr, tt.computed, tt.eph, err, tt.err)
		}
		if tt.warn == "" && warn != "" || tt.warn != "" && !strings.Contains(warn, tt.warn) {
			t.Errorf("checkHTTPPort(%q, %v, %v) warning %q; want %q", tt.addr, tt.computed, tt.eph, warn, tt.warn)
		}
	}
}

// TestNodeHTTPEphemeral runs `stocksys node --dry-run` in process with the
// ephemeral range replaced: a configured --http in the range is a warning on
// stderr and the node goes on; a computed default in it is an error naming
// --http.
func TestNodeHTTPEphemeral(t *testing.T) {
	saved := ephemeralRange
	t.Cleanup(func() { ephemeralRange = saved })
	run := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := newRootCmd()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs(append([]string{"node", "--dry-run", "--zk", "127.0.0.1:1"}, args...))
		err := cmd.ExecuteContext(t.Context())
		return out.String(), errOut.String(), err
	}

	ephemeralRange = func() (ports.Range, error) { return ports.Range{Lo: 32768, Hi: 60999}, nil }
	out, errOut, err := run("--id", "node-1", "--http", "127.0.0.1:46206")
	if err != nil {
		t.Fatalf("--http 127.0.0.1:46206: %v; want a warning only", err)
	}
	if want := "warning: --http 127.0.0.1:46206 is in the kernel's ephemeral port range 32768-60999"; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q; want %q", errOut, want)
	}
	if !strings.Contains(out, `"http": "127.0.0.1:46206"`) {
		t.Errorf("dry-run settings lack the configured --http:\n%s", out)
	}
	_, errOut, err = run("--id", "node-1")
	if err != nil || errOut != "" {
		t.Errorf("default 127.0.0.1:8081 outside the range: %v, stderr %q; want neither", err, errOut)
	}

	ephemeralRange = func() (ports.Range, error) { return ports.Range{Lo: 1024, Hi: 65535}, nil }
	_, _, err = run("--id", "node-3")
	if err == nil || !strings.Contains(err.Error(), "--http not given and its default 127.0.0.1:8083") ||
		!strings.Contains(err.Error(), "set --http") {
		t.Errorf("computed default in the range: %v; want an error naming --http and 127.0.0.1:8083", err)
	}
}
