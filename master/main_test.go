package master

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a Master, a Prefetch or a test's session starts must have
// returned by the end of the package's tests (issue 17: every goroutine
// owned). sarama is not used here; nothing is ignored.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
