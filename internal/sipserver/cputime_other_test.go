//go:build !unix

package sipserver

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
