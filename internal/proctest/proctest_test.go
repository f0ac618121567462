package proctest

import (
	"testing"

	"github.com/stock-system/stocksys/internal/ports"
)

// TestFreeBaseOutsideEphemeral: the HTTP ports of a test cluster (base+1..
// base+10) never fall in the kernel's ephemeral port range.
func TestFreeBaseOutsideEphemeral(t *testing.T) {
	eph, _ := ports.Ephemeral()
	lo, hi, err := baseRange()
	if err != nil {
		t.Fatal(err)
	}
	if eph.Contains(lo+1) || eph.Contains(hi+10) || (lo < eph.Lo && hi+10 >= eph.Lo) {
		t.Fatalf("bases %d..%d overlap the ephemeral range %v", lo, hi, eph)
	}
	for range 200 {
		base := freeBase(t)
		for p := base + 1; p <= base+10; p++ {
			if eph.Contains(p) || p > 65535 || p < 20000 {
				t.Fatalf("freeBase %d: port %d in the ephemeral range %v or out of 20000..65535", base, p, eph)
			}
		}
	}
	t.Logf("bases %d..%d, ephemeral range %v", lo, hi, eph)
}
