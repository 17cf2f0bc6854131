package msrp

import (
	"bufio"
	"errors"
	"io"
	"math/bits"
	"sync"
)

// MinReaderBuffer is the smallest first buffer NewReaderSize accepts:
// room for an AUTH or a small SEND head.
const MinReaderBuffer = 1 << 10

// readBuf is the Reader's input buffer: the subset of bufio.Reader it uses
// (Peek, Discard, Buffered), with a buffer that starts at first octets,
// grows on demand up to max and can be given back while empty (Release),
// so that a connection that is idle, or only ever carries small frames,
// does not hold or churn a 64 KiB buffer.
type readBuf struct {
	rd    io.Reader
	buf   []byte // nil after release; len(buf) is the current size
	r, w  int    // unread octets are buf[r:w]
	err   error  // read error not yet returned
	first int    // size of a new buffer
	max   int    // largest size
	hot   bool   // the last read filled the buffer: grow before the next
}

// Buffered returns the number of octets that can be read from the buffer.
func (b *readBuf) Buffered() int { return b.w - b.r }

// Discard consumes n buffered octets (n ≤ Buffered()).
func (b *readBuf) Discard(n int) {
	b.r += n
	if b.r == b.w {
		b.r, b.w = 0, 0
	}
}

// Peek returns the next n octets without consuming them, reading as
// needed. Like bufio.Reader.Peek, it returns fewer than n octets with
// bufio.ErrBufferFull when n exceeds the largest buffer, or with the read
// error that stopped it.
func (b *readBuf) Peek(n int) ([]byte, error) {
	if n <= b.w-b.r {
		return b.buf[b.r : b.r+n], nil
	}
	var err error
	if n > b.max {
		n, err = b.max, bufio.ErrBufferFull
	}
	if ferr := b.fill(n); ferr != nil {
		return b.buf[b.r:b.w], ferr
	}
	return b.buf[b.r : b.r+n], err
}

// maxEmptyReads bounds consecutive (0, nil) reads, as in bufio.
const maxEmptyReads = 100

var errNegativeRead = errors.New("msrp: reader returned negative count from Read")

// fill reads until at least n (≤ max) octets are buffered.
func (b *readBuf) fill(n int) error {
	if n > b.max {
		return bufio.ErrBufferFull
	}
	for b.w-b.r < n {
		if b.err != nil {
			err := b.err
			b.err = nil
			return err
		}
		size := len(b.buf)
		if b.hot || size < n {
			size = min(b.max, max(size*2, b.first, ceilPow2(n)))
		}
		b.hot = false
		if size != len(b.buf) {
			nb := getBuf(size)
			b.w = copy(nb, b.buf[b.r:b.w])
			b.r = 0
			putBuf(b.buf)
			b.buf = nb
		} else if b.r > 0 {
			b.w = copy(b.buf, b.buf[b.r:b.w])
			b.r = 0
		}
		for i := 0; ; i++ {
			m, err := b.rd.Read(b.buf[b.w:])
			if m < 0 || m > len(b.buf)-b.w {
				return errNegativeRead
			}
			b.hot = m == len(b.buf)-b.w && len(b.buf) < b.max
			b.w += m
			if err != nil {
				b.err = err
				break
			}
			if m > 0 {
				break
			}
			if i >= maxEmptyReads {
				return io.ErrNoProgress
			}
		}
	}
	return nil
}

// release gives back an empty buffer; the next read takes a new one of
// the first size. It reports whether the buffer was empty.
func (b *readBuf) release() bool {
	if b.w != b.r {
		return false
	}
	putBuf(b.buf)
	b.buf, b.r, b.w, b.hot = nil, 0, 0, false
	return true
}

// Buffers of power-of-two sizes from MinReaderBuffer to readerBufferSize
// are pooled: a connection that goes idle gives its buffer back, and a
// busy one growing to the largest size takes one freed by another.
var bufPools [7]sync.Pool // 1 KiB (MinReaderBuffer) … 64 KiB (readerBufferSize)

func poolIndex(size int) int {
	if size < MinReaderBuffer || size > readerBufferSize || size&(size-1) != 0 {
		return -1
	}
	return bits.Len(uint(size)) - bits.Len(MinReaderBuffer)
}

func init() {
	if poolIndex(readerBufferSize) != len(bufPools)-1 {
		panic("msrp: bufPools does not match readerBufferSize")
	}
}

func getBuf(size int) []byte {
	if i := poolIndex(size); i >= 0 {
		if p, ok := bufPools[i].Get().(*[]byte); ok {
			return (*p)[:size]
		}
	}
	return make([]byte, size)
}

func putBuf(b []byte) {
	if i := poolIndex(cap(b)); i >= 0 {
		b = b[:cap(b)]
		bufPools[i].Put(&b)
	}
}

func ceilPow2(n int) int {
	if n <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(n-1))
}
