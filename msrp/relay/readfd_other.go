//go:build !unix

package relay

import "errors"

// rawReads: elsewhere connections are read with net.Conn.Read, which
// flushes before every read.
const rawReads = false

func readFD(uintptr, []byte) (int, bool, error) { return 0, false, errors.ErrUnsupported }
