package session

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// serverTimeoutRange asks each server in turn for its `conf` (a ZooKeeper
// four-letter word; it must be in 4lw.commands.whitelist) and returns
// minSessionTimeout and maxSessionTimeout from the first that answers.
func serverTimeoutRange(ctx context.Context, servers []string) (lo, hi time.Duration, err error) {
	err = fmt.Errorf("no server answered conf")
	for _, addr := range servers {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, derr := d.DialContext(dctx, "tcp", addr)
		cancel()
		if derr != nil {
			err = derr
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, werr := c.Write([]byte("conf")); werr != nil {
			c.Close()
			err = werr
			continue
		}
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), "=")
			if !ok {
				continue
			}
			ms, perr := strconv.Atoi(strings.TrimSpace(v))
			if perr != nil {
				continue
			}
			switch k {
			case "minSessionTimeout":
				lo = time.Duration(ms) * time.Millisecond
			case "maxSessionTimeout":
				hi = time.Duration(ms) * time.Millisecond
			}
		}
		c.Close()
		if lo > 0 && hi > 0 {
			return lo, hi, nil
		}
		err = fmt.Errorf("%s: conf gave no session timeout range (is conf whitelisted?)", addr)
	}
	return 0, 0, err
}
