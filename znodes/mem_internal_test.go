package znodes

import (
	"math"
	"testing"

	"github.com/go-zookeeper/zk"
)

// TestNextVersion: the server's checkAndIncVersion, including its
// skipping of -1 when the version wraps (ZOOKEEPER-4743).
func TestNextVersion(t *testing.T) {
	for _, tc := range []struct {
		current, expected, want int32
		err                     error
	}{
		{0, -1, 1, nil},
		{0, 0, 1, nil},
		{3, 2, 0, zk.ErrBadVersion},
		{0, -2, 0, zk.ErrBadVersion},
		{math.MaxInt32, -1, math.MinInt32, nil},
		{-2, -1, 0, nil},
	} {
		got, err := nextVersion(tc.current, tc.expected)
		if got != tc.want || err != tc.err {
			t.Errorf("nextVersion(%d, %d) = %d, %v; want %d, %v", tc.current, tc.expected, got, err, tc.want, tc.err)
		}
	}
}

// TestValidatePaths: the ported client check and the server check on the
// paths where they part.
func TestValidatePaths(t *testing.T) {
	for _, tc := range []struct {
		path           string
		client, server bool
	}{
		{"/", true, true},
		{"/a", true, true},
		{"/./x", true, false}, // the client's quirk
		{"/a/./x", false, false},
		{"/\ue000", true, false},
		{"/\U0001F600", true, false},
		{"/\uffff", true, false},
		{"/\ufffe", false, false},
		{"/\ud7ff", true, true},
		{"/a/", false, false},
		{"/..x", true, true},
	} {
		if got := validatePath(tc.path, false) == nil; got != tc.client {
			t.Errorf("client check of %q = %v; want %v", tc.path, got, tc.client)
		}
		if got := serverValidPath(tc.path); got != tc.server {
			t.Errorf("server check of %q = %v; want %v", tc.path, got, tc.server)
		}
	}
}
