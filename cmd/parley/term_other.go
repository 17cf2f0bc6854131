//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package main

import (
	"errors"
	"os"
)

// rawMode is implemented on Linux and the BSDs only; elsewhere chat reads whole lines
// (and cannot tell the peer that you are typing).
func rawMode(f *os.File) (restore func(), err error) {
	return nil, errors.New("raw terminal mode not supported on this system")
}
