//go:build !unix

package relay

import "errors"

// readFD reports nothing read where a descriptor cannot be read directly;
// conn.tryRead then falls back to flushing before every read.
func readFD(uintptr, []byte) (int, error) { return 0, errors.ErrUnsupported }
