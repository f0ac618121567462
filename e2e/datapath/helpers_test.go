package datapath

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/gocql/gocql"
	"github.com/xdg-go/scram"

	"github.com/stock-system/stocksys/internal/proctest"
	"github.com/stock-system/stocksys/internal/testenv"
	"github.com/stock-system/stocksys/quote"
	"github.com/stock-system/stocksys/security"
	"github.com/stock-system/stocksys/status"
	"github.com/stock-system/stocksys/store"
)

const sessionTimeout = 3 * time.Second

// servers are the Kafka brokers and Cassandra hosts a cluster uses, and
// for secured servers (infra.sh up --secure) the CA and the login files.
type servers struct {
	kafka, cassandra []string
	// caFile, kafkaAuth, cassandraAuth: "" for plain servers.
	caFile, kafkaAuth, cassandraAuth string
	// tls and the logins: the files read by the test itself
	// (withSecurity), not through the product's security package.
	tls                   *tls.Config
	kafkaLogin, cassLogin [2]string
}

// withSecurity returns s secured with the CA and login files of an
// `infra.sh up --secure` folder (STOCKSYS_INFRA_DIR/secure).
func (s servers) withSecurity(t testing.TB, dir string) servers {
	s.caFile, s.kafkaAuth, s.cassandraAuth = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "kafka.auth"), filepath.Join(dir, "cassandra.auth")
	pem, err := os.ReadFile(s.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s: no certificate", s.caFile)
	}
	s.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	s.kafkaLogin, s.cassLogin = login(t, s.kafkaAuth), login(t, s.cassandraAuth)
	return s
}

// env is the nodes' environment for srv (STOCKSYS_KAFKA, ..., and the
// secure settings when set).
func (s servers) env() []string {
	env := []string{"STOCKSYS_KAFKA=" + strings.Join(s.kafka, ","), "STOCKSYS_CASSANDRA=" + strings.Join(s.cassandra, ",")}
	if s.caFile != "" {
		env = append(env, "STOCKSYS_KAFKA_CA_FILE="+s.caFile, "STOCKSYS_CASSANDRA_CA_FILE="+s.caFile,
			"STOCKSYS_KAFKA_AUTH_FILE="+s.kafkaAuth, "STOCKSYS_CASSANDRA_AUTH_FILE="+s.cassandraAuth)
	}
	return env
}

// login reads a user:password file.
func login(t testing.TB, file string) [2]string {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	u, p, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok {
		t.Fatalf("%s: not user:password", file)
	}
	return [2]string{u, p}
}

// kafkaConfig is kafkaConfig() with srv's TLS and SASL/SCRAM-SHA-512.
func (s servers) kafkaConfig() *sarama.Config {
	cfg := kafkaConfig()
	if s.tls == nil {
		return cfg
	}
	cfg.Net.TLS.Enable, cfg.Net.TLS.Config = true, s.tls
	cfg.Net.SASL.Enable, cfg.Net.SASL.Handshake = true, true
	cfg.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
	cfg.Net.SASL.User, cfg.Net.SASL.Password = s.kafkaLogin[0], s.kafkaLogin[1]
	cfg.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramSHA512{} }
	return cfg
}

// scramSHA512 is the test's SCRAM-SHA-512 client for sarama (xdg-go/scram
// directly, as sarama's own example does).
type scramSHA512 struct{ conv *scram.ClientConversation }

func (c *scramSHA512) Begin(user, password, authzID string) error {
	cl, err := scram.SHA512.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}
func (c *scramSHA512) Step(challenge string) (string, error) { return c.conv.Step(challenge) }
func (c *scramSHA512) Done() bool                            { return c.conv.Done() }

// cassandraCluster is a gocql cluster of srv (TLS with host verification
// and the login when secured).
func (s servers) cassandraCluster() *gocql.ClusterConfig {
	cc := gocql.NewCluster(hostsOnly(s.cassandra)...)
	cc.Port = portOf(s.cassandra[0], 9042)
	if s.tls != nil {
		cc.SslOpts = &gocql.SslOptions{Config: s.tls, EnableHostVerification: true}
		cc.Authenticator = gocql.PasswordAuthenticator{Username: s.cassLogin[0], Password: s.cassLogin[1]}
	}
	return cc
}

func sharedServers(t *testing.T) servers {
	return servers{kafka: testenv.KafkaBrokers(t), cassandra: testenv.CassandraHosts(t)}
}

// newCluster returns a proctest cluster on srv. Cleanup (before proctest's
// own) stops the nodes, drops the keyspace and deletes the topics.
// env adds entries ("KEY=value") to the nodes' environment.
func newCluster(t *testing.T, srv servers, env ...string) *proctest.Cluster {
	t.Helper()
	c := proctest.NewWithEnv(t, append(srv.env(), env...)...)
	t.Cleanup(func() {
		if out, err := c.Script("down"); err != nil {
			t.Logf("cluster.sh down: %v\n%s", err, out)
		}
		cc := srv.cassandraCluster()
		cc.Timeout, cc.ConnectTimeout = 20*time.Second, 10*time.Second
		if s, err := cc.CreateSession(); err == nil {
			if err := s.Query(`DROP KEYSPACE IF EXISTS ` + c.Keyspace).Exec(); err != nil {
				t.Logf("drop keyspace %s: %v", c.Keyspace, err)
			}
			s.Close()
		}
		if admin, err := sarama.NewClusterAdmin(srv.kafka, srv.kafkaConfig()); err == nil {
			for _, topic := range []string{c.Topic, c.Topic + ".dlq"} {
				_ = admin.DeleteTopic(topic)
			}
			admin.Close()
		}
	})
	return c
}

func hostsOnly(hs []string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h
		if j := strings.LastIndexByte(h, ':'); j >= 0 {
			out[i] = h[:j]
		}
	}
	return out
}

func portOf(h string, def int) int {
	if j := strings.LastIndexByte(h, ':'); j >= 0 {
		if p, err := strconv.Atoi(h[j+1:]); err == nil {
			return p
		}
	}
	return def
}

func kafkaConfig() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = testenv.KafkaVersion
	cfg.ClientID = "stocksys-datapath-test"
	cfg.Net.DialTimeout = 5 * time.Second
	cfg.Net.ReadTimeout = 10 * time.Second
	cfg.Net.WriteTimeout = 10 * time.Second
	cfg.Metadata.Retry.Max = 2
	return cfg
}

// openStore opens a second connection to the cluster's keyspace (consistency
// ONE), closed on cleanup.
func openStore(t *testing.T, srv servers, keyspace string) *store.Store {
	t.Helper()
	return openStoreAt(t, srv, keyspace, "ONE")
}

// openStoreAt is openStore reading and writing at consistency (e.g.
// LOCAL_QUORUM on a 3-node ring, where ONE may ask a replica that has not
// caught up).
func openStoreAt(t *testing.T, srv servers, keyspace, consistency string) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.Hosts, cfg.Keyspace, cfg.Consistency = srv.cassandra, keyspace, consistency
	if srv.tls != nil {
		cfg.TLS, cfg.Auth = srv.tls, &security.Credentials{User: srv.cassLogin[0], Password: srv.cassLogin[1]}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	st, err := store.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("store.Open %s: %v", keyspace, err)
	}
	t.Cleanup(st.Close)
	return st
}

// sourceQuotes reads the files as the replay source does (quote.ReadFile,
// merged in TS order, the first of equal TS kept) and keeps the quotes that
// pass quote.Validate: exactly what the fetch task may produce.
func sourceQuotes(t *testing.T, symbol string, files ...string) []quote.Quote {
	t.Helper()
	var all []quote.Quote
	for _, f := range files {
		qs, err := quote.ReadFile(f, symbol)
		if err != nil {
			t.Fatalf("read %s: %v", f, err)
		}
		all = append(all, qs...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].TS.Before(all[j].TS) })
	var out []quote.Quote
	rejected := 0
	for i, q := range all {
		if i > 0 && q.TS.Equal(all[i-1].TS) {
			continue
		}
		if quote.Validate(q, time.Now()) != nil {
			rejected++
			continue
		}
		out = append(out, q)
	}
	if len(out) == 0 {
		t.Fatalf("no valid %s quote in %v", symbol, files)
	}
	t.Logf("source %s: %d valid quotes (%d invalid) from %d file(s), %s .. %s", symbol, len(out), rejected, len(files),
		out[0].TS.Format(time.RFC3339), out[len(out)-1].TS.Format(time.RFC3339))
	return out
}

// msftSubset writes the rows of the given Eastern dates of the real Alpha
// Vantage MSFT file to dir/msft/msft_1min_subset.csv (read at run time;
// nothing is committed) and returns its path.
func msftSubset(t *testing.T, dir string, days ...string) string {
	t.Helper()
	src := testenv.SharedData(t, "alphavantage-msft-1min/msft_1min_2020-11-23_2020-12-18.csv")
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Join(dir, "msft"), 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "msft", "msft_1min_subset.csv")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sc := bufio.NewScanner(in)
	first := true
	n := 0
	for sc.Scan() {
		line := sc.Text()
		keep := first
		for _, d := range days {
			keep = keep || strings.HasPrefix(line, d)
		}
		if keep {
			if _, err := io.WriteString(out, line+"\n"); err != nil {
				t.Fatal(err)
			}
			if !first {
				n++
			}
		}
		first = false
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no MSFT row on %v", days)
	}
	return p
}

// leanDays links the real Lean SPY files of the given dates (trade zips, and
// quote zips where they exist) into dir/spy and returns the trade zips.
func leanDays(t *testing.T, dir string, days ...string) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "spy"), 0o755); err != nil {
		t.Fatal(err)
	}
	var trades []string
	for _, d := range days {
		src := testenv.SharedData(t, "lean-spy-minute/"+d+"_trade.zip")
		dst := filepath.Join(dir, "spy", d+"_trade.zip")
		if err := os.Symlink(src, dst); err != nil {
			t.Fatal(err)
		}
		trades = append(trades, dst)
		qsrc := filepath.Join(filepath.Dir(src), d+"_quote.zip")
		if _, err := os.Stat(qsrc); err == nil {
			if err := os.Symlink(qsrc, filepath.Join(dir, "spy", d+"_quote.zip")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return trades
}

// addSymbol runs `stocksys symbols add SYMBOL --source SPEC`.
func addSymbol(t *testing.T, c *proctest.Cluster, symbol, spec string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if out, errOut, code := c.Stocksys(ctx, "symbols", "add", symbol, "--source", spec); code != 0 {
		t.Fatalf("symbols add %s: exit %d\n%s%s", symbol, code, out, errOut)
	}
}

// progress sums the progress of the tasks of type typ in r.
func progress(r *status.Report, typ string) int64 {
	var n int64
	for _, tk := range r.Tasks {
		if tk.Type == typ {
			n += tk.Progress
		}
	}
	return n
}

// owner returns the owner of task id in r, or "".
func owner(r *status.Report, id string) string {
	for _, tk := range r.Tasks {
		if tk.ID == id && tk.Owner != nil {
			return *tk.Owner
		}
	}
	return ""
}

// highWater returns the next offset of every partition of topic.
func highWater(ctx context.Context, brokers []string, topic string) (map[int32]int64, error) {
	return highWaterWith(ctx, brokers, kafkaConfig(), topic)
}

// highWaterWith is highWater with the client settings cfg.
func highWaterWith(ctx context.Context, brokers []string, cfg *sarama.Config, topic string) (map[int32]int64, error) {
	cl, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ps, err := cl.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for _, p := range ps {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		off, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		out[p] = off
	}
	return out, nil
}

// committed returns the committed next offset of every partition in hw (0 if
// none was committed).
func committed(ctx context.Context, st *store.Store, topic string, hw map[int32]int64) (map[int32]int64, error) {
	out := map[int32]int64{}
	for p := range hw {
		next, _, _, err := st.LoadOffset(ctx, topic, p)
		if err != nil {
			return nil, err
		}
		out[p] = next
	}
	return out, nil
}

// waitDone waits until every symbol's checkpoint is its last source quote's
// TS and every partition's committed offset is its high-water mark, and
// returns the offsets and how long it took.
func waitDone(t *testing.T, srv servers, st *store.Store, topic string, last map[string]time.Time, limit time.Duration) (map[int32]int64, time.Duration) {
	t.Helper()
	start := time.Now()
	var why string
	for time.Since(start) < limit {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		why = doneYet(ctx, srv, st, topic, last)
		var hw map[int32]int64
		if why == "" {
			hw, _ = highWaterWith(ctx, srv.kafka, srv.kafkaConfig(), topic)
		}
		cancel()
		if why == "" && hw != nil {
			return hw, time.Since(start)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("replay not done within %v: %s", limit, why)
	return nil, 0
}

// doneYet returns "" when done, else what is missing.
func doneYet(ctx context.Context, srv servers, st *store.Store, topic string, last map[string]time.Time) string {
	for sym, ts := range last {
		cp, _, found, err := st.LoadCheckpoint(ctx, sym)
		if err != nil {
			return err.Error()
		}
		if !found || !cp.Equal(ts) {
			return fmt.Sprintf("checkpoint %s = %v (found %v); want %v", sym, cp, found, ts)
		}
	}
	hw, err := highWaterWith(ctx, srv.kafka, srv.kafkaConfig(), topic)
	if err != nil {
		return "high-water marks: " + err.Error()
	}
	co, err := committed(ctx, st, topic, hw)
	if err != nil {
		return "committed offsets: " + err.Error()
	}
	for p, h := range hw {
		if co[p] != h {
			return fmt.Sprintf("partition %d: committed %d, high-water %d", p, co[p], h)
		}
	}
	return ""
}

var (
	epoch0 = time.Unix(0, 0).UTC()
	// farEnd is after every quote of the real data sets.
	farEnd = time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
)

// checkQuotes asserts that the stored quotes of symbol are exactly want: per
// trading day the same count and TS set, and every quote's OHLCV (and bid and
// ask) equal. It returns the row count per day.
func checkQuotes(t *testing.T, st *store.Store, symbol string, want []quote.Quote) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	got, err := st.Quotes(ctx, symbol, epoch0, farEnd, 0)
	if err != nil {
		t.Fatalf("read %s quotes: %v", symbol, err)
	}
	perDay := func(qs []quote.Quote) map[string]int {
		m := map[string]int{}
		for _, q := range qs {
			m[q.Day().Format(time.DateOnly)]++
		}
		return m
	}
	gd, wd := perDay(got), perDay(want)
	for d, n := range wd {
		if gd[d] != n {
			t.Errorf("%s %s: %d rows stored; want %d (source)", symbol, d, gd[d], n)
		}
	}
	for d, n := range gd {
		if _, ok := wd[d]; !ok {
			t.Errorf("%s %s: %d rows stored for a day not in the source", symbol, d, n)
		}
	}
	byTS := map[int64]quote.Quote{}
	for _, q := range got {
		if _, dup := byTS[q.TS.UnixNano()]; dup {
			t.Errorf("%s %s stored twice", symbol, q.TS)
		}
		byTS[q.TS.UnixNano()] = q
	}
	bad := 0
	for _, w := range want {
		g, ok := byTS[w.TS.UnixNano()]
		if !ok {
			bad++
			if bad <= 5 {
				t.Errorf("%s %s: missing", symbol, w.TS.Format(time.RFC3339))
			}
			continue
		}
		if !sameQuote(g, w) {
			bad++
			if bad <= 5 {
				t.Errorf("%s %s: stored %+v; want %+v", symbol, w.TS.Format(time.RFC3339), g, w)
			}
		}
	}
	if bad > 0 || len(got) != len(want) {
		t.Errorf("%s: %d rows stored, %d in the source, %d missing or different", symbol, len(got), len(want), bad)
	}
	return gd
}

func sameQuote(a, b quote.Quote) bool {
	eqp := func(x, y *float64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.Symbol == b.Symbol && a.TS.Equal(b.TS) && a.Open == b.Open && a.High == b.High && a.Low == b.Low &&
		a.Close == b.Close && a.Volume == b.Volume && eqp(a.Bid, b.Bid) && eqp(a.Ask, b.Ask)
}

// checkBars asserts that the stored bars of symbol, for every interval, are
// exactly store.ComputeBars over the source quotes. It returns the bar count
// per interval.
func checkBars(t *testing.T, st *store.Store, symbol string, src []quote.Quote) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	counts := map[string]int{}
	for _, iv := range store.Intervals {
		want := store.ComputeBars(src, iv)
		got, err := st.Bars(ctx, symbol, iv, epoch0, farEnd, 0)
		if err != nil {
			t.Fatalf("read %s %s bars: %v", symbol, iv, err)
		}
		counts[iv] = len(got)
		if len(got) != len(want) {
			t.Errorf("%s %s: %d bars stored; want %d", symbol, iv, len(got), len(want))
			continue
		}
		bad := 0
		for i := range want {
			g, w := got[i], want[i]
			if g.Symbol != w.Symbol || g.Interval != w.Interval || !g.Day.Equal(w.Day) || !g.TS.Equal(w.TS) ||
				g.Open != w.Open || g.High != w.High || g.Low != w.Low || g.Close != w.Close ||
				g.Volume != w.Volume || g.VWAP != w.VWAP || g.Count != w.Count {
				bad++
				if bad <= 3 {
					t.Errorf("%s %s bar %d: stored %+v; want %+v", symbol, iv, i, g, w)
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s %s: %d of %d bars differ", symbol, iv, bad, len(want))
		}
	}
	return counts
}

// metric returns the sum of every sample of the counter or gauge name at a
// node's /metrics, and whether the endpoint answered.
func metric(base int, node int, name string) (float64, error) {
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", base+node))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// lastTS returns the TS of the last quote of qs.
func lastTS(qs []quote.Quote) time.Time { return qs[len(qs)-1].TS }

// spike rewrites the row of file (an Alpha Vantage CSV, newest first) at
// the time at, multiplying its open, high, low and close by factor (a bad
// print), and returns the closes of the alerts the stored data must have
// (true: an implausible bar's alert, false: a move's), computed here from
// the rewritten file: each implausible row (one of its
// prices more than 20% from the median close of each of the 5 rows before
// and the 5 after it that exist: quote.FlagBars's rule, re-stated) and each
// other row whose close moved more than 20% (the store's default
// MoveAlertPct) from the previous other row's close.
func spike(t *testing.T, file, at string, factor float64) map[float64]bool {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	found := false
	for i, line := range lines[1:] {
		f := strings.Split(line, ",")
		if f[0] != at {
			continue
		}
		for j := 1; j <= 4; j++ {
			v, err := strconv.ParseFloat(f[j], 64)
			if err != nil {
				t.Fatal(err)
			}
			f[j] = strconv.FormatFloat(math.Round(v*factor*100)/100, 'f', 2, 64)
		}
		lines[i+1] = strings.Join(f, ",")
		found = true
	}
	if !found {
		t.Fatalf("%s: no row at %s", file, at)
	}
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var ohlc [][4]float64 // oldest first
	for i := len(lines) - 1; i >= 1; i-- {
		f := strings.Split(lines[i], ",")
		var r [4]float64
		for j := range r {
			if r[j], err = strconv.ParseFloat(f[j+1], 64); err != nil {
				t.Fatal(err)
			}
		}
		ohlc = append(ohlc, r)
	}
	medianClose := func(rows [][4]float64) float64 {
		var cs []float64
		for _, r := range rows {
			cs = append(cs, r[3])
		}
		sort.Float64s(cs)
		if n := len(cs); n%2 == 1 {
			return cs[n/2]
		} else {
			return (cs[n/2-1] + cs[n/2]) / 2
		}
	}
	alerts := map[float64]bool{}
	prev := 0.0
	for i, r := range ohlc {
		var refs []float64
		if i > 0 {
			refs = append(refs, medianClose(ohlc[max(0, i-5):i]))
		}
		if i+1 < len(ohlc) {
			refs = append(refs, medianClose(ohlc[i+1:min(len(ohlc), i+6)]))
		}
		implausible := false
		for _, p := range r {
			far := len(refs) > 0
			for _, m := range refs {
				far = far && math.Abs(p-m) > 0.20*m
			}
			implausible = implausible || far
		}
		if implausible {
			alerts[r[3]] = true
			continue
		}
		if prev > 0 && math.Abs(r[3]-prev)/prev > 0.20 {
			alerts[r[3]] = false
		}
		prev = r[3]
	}
	if len(alerts) == 0 {
		t.Fatalf("spike at %s x%v: no alert expected", at, factor)
	}
	return alerts
}

func absf(x float64) float64 { return math.Abs(x) }
