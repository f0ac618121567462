package datapath

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/status"
)

// TestIntegration_Secure runs the data path with all three servers secured:
// a private Kafka (SASL_SSL only, SCRAM-SHA-512) and Cassandra
// (PasswordAuthenticator, client TLS required) from `infra.sh up --secure`,
// and the shared ZooKeeper with the cluster's znodes under digest ACLs
// (zk.auth, zk-read.auth from the same folder). It checks that:
//
//   - a node started with a wrong Kafka or Cassandra password, without the
//     CA (plaintext to a TLS listener), or with a CA file that does not
//     exist exits 1 at once, naming the server and the setting;
//   - `node --dry-run` prints none of the four passwords;
//   - a node replays a real SPY day through the secured servers: the stored
//     quotes equal the source and the bars store.ComputeBars over it, read
//     back by the test's own TLS client (its CA parsed with crypto/x509, its
//     own SCRAM client);
//   - without the ZooKeeper identity `stocksys status` is refused (NoAuth,
//     naming --zk-auth-file), and with the read-only one it works.
func TestIntegration_Secure(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := sourceQuotes(t, "SPY", leanDays(t, dir, "20131007")...)
	infra := startPrivateInfra(t, "--secure")
	srv := infra.srv
	secDir := filepath.Join(infra.dir, "secure")
	zkAuth, zkRead := filepath.Join(secDir, "zk.auth"), filepath.Join(secDir, "zk-read.auth")
	c := newCluster(t, srv, "STOCKSYS_ZK_AUTH_FILE="+zkAuth, "STOCKSYS_ZK_READ_AUTH_FILE="+zkRead)

	// Start failures: exit 1 within 30 s, naming the server and the setting.
	wrong := filepath.Join(dir, "wrong.auth")
	if err := os.WriteFile(wrong, []byte("stocksys:not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	kafka, cass := srv.kafka[0], srv.cassandra[0]
	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"wrong Kafka password", []string{"STOCKSYS_KAFKA_AUTH_FILE=" + wrong},
			[]string{"kafka " + kafka + ": the login was refused", "--kafka-auth-file " + wrong}},
		{"wrong Cassandra password", []string{"STOCKSYS_CASSANDRA_AUTH_FILE=" + wrong},
			[]string{"cassandra " + cass + ": the login was refused", "--cassandra-auth-file " + wrong}},
		{"no Kafka CA (plaintext)", []string{"STOCKSYS_KAFKA_CA_FILE="},
			[]string{"kafka " + kafka + ": the server closed the connection: it may want TLS", "--kafka-ca-file"}},
		{"no Cassandra CA (plaintext)", []string{"STOCKSYS_CASSANDRA_CA_FILE="},
			[]string{"cassandra " + cass + ": the server closed the connection: it may want TLS", "--cassandra-ca-file"}},
		{"Cassandra CA file missing", []string{"STOCKSYS_CASSANDRA_CA_FILE=" + filepath.Join(dir, "none.pem")},
			[]string{"--cassandra-ca-file: open " + filepath.Join(dir, "none.pem")}},
	} {
		start := time.Now()
		args := append([]string{"node", "--id", "bad", "--http", "127.0.0.1:" + strconv.Itoa(freePort(t))}, c.NodeFlags()...)
		_, stderr, code := c.StocksysEnv(t.Context(), tc.env, args...)
		took := time.Since(start)
		if code != 1 {
			t.Errorf("%s: exit code %d; want 1\n%s", tc.name, code, stderr)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, w, stderr)
			}
		}
		if took > 30*time.Second {
			t.Errorf("%s: took %v to fail; want at start (< 30 s)", tc.name, took)
		}
		t.Logf("%s: exit 1 after %v: %s", tc.name, took.Round(time.Millisecond), lastLine(stderr))
	}

	// --dry-run shows the settings, never a secret.
	out, stderr, code := c.Stocksys(t.Context(), append([]string{"node", "--id", "dry", "--dry-run"}, c.NodeFlags()...)...)
	if code != 0 {
		t.Fatalf("node --dry-run: exit %d\n%s", code, stderr)
	}
	for _, f := range []string{"kafka.auth", "cassandra.auth", "zk.auth", "zk-read.auth"} {
		pw := login(t, filepath.Join(secDir, f))[1]
		if strings.Contains(out+stderr, pw) {
			t.Errorf("node --dry-run prints the password of %s", f)
		}
	}
	if !strings.Contains(out, srv.kafkaAuth) {
		t.Errorf("node --dry-run does not name --kafka-auth-file %s:\n%s", srv.kafkaAuth, out)
	}

	// The data path through the secured servers.
	addSymbol(t, c, "SPY", "replay:"+dir+"?rate=100") // 828 bars in about 8 s
	c.Up(1, "--session-timeout", sessionTimeout.String(), "--partitions", "2")
	c.WaitStatus(90*time.Second, "node-1 running every task", func(r *status.Report) bool {
		return proctest.Master(r) != "" && len(r.Tasks) == 3 && proctest.AllRunning(r, "node-1")
	})
	st := openStore(t, srv, c.Keyspace)
	hw, took := waitDone(t, srv, st, c.Topic, map[string]time.Time{"SPY": lastTS(want)}, 180*time.Second)
	t.Logf("replay of %d quotes done in %v through SASL_SSL and client TLS; offsets %v", len(want), took.Round(time.Millisecond), hw)
	days := checkQuotes(t, st, "SPY", want)
	bars := checkBars(t, st, "SPY", want)
	t.Logf("SPY: stored rows per day %v (source %d); bars %v equal to store.ComputeBars over the source", days, len(want), bars)

	// ZooKeeper: anonymous is refused, the read-only identity reads.
	_, stderr, code = c.StocksysEnv(t.Context(), []string{"STOCKSYS_ZK_AUTH_FILE=", "STOCKSYS_ZK_READ_AUTH_FILE="}, "status", "--json")
	if code == 0 || !strings.Contains(stderr, "--zk-auth-file") {
		t.Errorf("status without a ZooKeeper identity: exit %d, stderr %q; want refused naming --zk-auth-file", code, stderr)
	}
	out, stderr, code = c.StocksysEnv(t.Context(), []string{"STOCKSYS_ZK_AUTH_FILE=" + zkRead, "STOCKSYS_ZK_READ_AUTH_FILE="}, "status", "--json")
	if code != 0 || !strings.Contains(out, `"node-1"`) {
		t.Errorf("status as the read-only identity: exit %d, stderr %q", code, stderr)
	}

	if out := c.MustScript("stop", "node-1"); c.ExitCode("node-1") != 0 {
		t.Errorf("node-1 exit code %d after SIGTERM; want 0\n%s", c.ExitCode("node-1"), out)
	}
}

// lastLine is the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
