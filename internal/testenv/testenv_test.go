package testenv

import (
	"fmt"
	"net"
	"regexp"
	"testing"
)

// recorder captures Fatal and Skip instead of ending the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                   {}
func (r *recorder) Fatal(args ...any)         { r.fatal = fmt.Sprint(args...) }
func (r *recorder) Skip(args ...any)          { r.skip = fmt.Sprint(args...) }
func (r *recorder) Name() string              { return r.TB.Name() }
func (r *recorder) Fatalf(f string, a ...any) { r.fatal = fmt.Sprintf(f, a...) }

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestMissingServerFailsUnderCI(t *testing.T) {
	addr := closedPort(t)
	t.Setenv("STOCKSYS_ZK", addr)

	t.Setenv("CI", "true")
	r := &recorder{TB: t}
	if got := ZKServers(r); got != nil || r.skip != "" {
		t.Fatalf("under CI=true: servers %v, skip %q; want a failure", got, r.skip)
	}
	if want := "STOCKSYS_ZK=" + addr; !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(r.fatal) {
		t.Fatalf("failure %q does not name %s", r.fatal, want)
	}

	t.Setenv("CI", "")
	r = &recorder{TB: t}
	if got := ZKServers(r); got != nil || r.fatal != "" || r.skip == "" {
		t.Fatalf("outside CI: servers %v, fatal %q, skip %q; want a skip", got, r.fatal, r.skip)
	}
}

func TestServersListAndDefault(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dead := closedPort(t)
	t.Setenv("STOCKSYS_KAFKA", dead+","+l.Addr().String())
	got := KafkaBrokers(t)
	if len(got) != 2 || got[0] != dead || got[1] != l.Addr().String() {
		t.Fatalf("KafkaBrokers = %v; want both entries in order", got)
	}
}

func TestName(t *testing.T) {
	a, b := Name(t, "_"), Name(t, "_")
	if a == b {
		t.Fatalf("two names are equal: %s", a)
	}
	if !regexp.MustCompile(`^name_[0-9a-f]{8}$`).MatchString(a) {
		t.Fatalf("Name = %q; want name_<8 hex>", a)
	}
	t.Run("Sub/Test With Spaces and a very long name indeed", func(t *testing.T) {
		n := Name(t, "-")
		if !regexp.MustCompile(`^[a-z0-9-]{1,24}-[0-9a-f]{8}$`).MatchString(n) {
			t.Fatalf("Name = %q", n)
		}
	})
}
