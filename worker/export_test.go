package worker

// IgnoreSafeDeadlineForTest turns the safe-deadline guard off in cfg (see
// Config.ignoreSafeDeadline): the worker's runners keep running past the
// session's safe deadline, as a node with a broken guard would, so that a
// test can show the downstream fences alone stop them. Test-only: this file
// is compiled into this package's tests, never into the product.
func IgnoreSafeDeadlineForTest(cfg *Config) { cfg.ignoreSafeDeadline = true }
