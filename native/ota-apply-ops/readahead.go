package main

// readahead decodes a stream in its own goroutine, a few chunks ahead of the reader. bspatch reads
// three bzip2 streams (control, diff, extra) in lockstep; Go's bzip2 decoder is the slowest part of
// an apply, and decoding the streams concurrently puts a second core to work on it.

import "io"

const (
	readaheadChunk = 64 * 1024
	readaheadDepth = 2
)

type chunk struct {
	data []byte
	err  error
}

type readaheadReader struct {
	chunks  chan chunk
	free    chan []byte
	stop    chan struct{}
	current []byte
	spare   []byte
	err     error
}

func newReadahead(r io.Reader) *readaheadReader {
	ra := &readaheadReader{chunks: make(chan chunk, readaheadDepth), free: make(chan []byte, readaheadDepth+2), stop: make(chan struct{})}
	for i := 0; i < readaheadDepth+2; i++ {
		ra.free <- make([]byte, readaheadChunk)
	}
	go func() {
		defer close(ra.chunks)
		for {
			var buf []byte
			select {
			case buf = <-ra.free:
			case <-ra.stop:
				return
			}
			n, err := io.ReadFull(r, buf)
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			select {
			case ra.chunks <- chunk{buf[:n], err}:
			case <-ra.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return ra
}

func (ra *readaheadReader) Read(p []byte) (int, error) {
	for len(ra.current) == 0 {
		if ra.err != nil {
			return 0, ra.err
		}
		if ra.spare != nil {
			ra.free <- ra.spare[:cap(ra.spare)]
			ra.spare = nil
		}
		c, ok := <-ra.chunks
		if !ok {
			return 0, io.ErrUnexpectedEOF
		}
		ra.current, ra.spare, ra.err = c.data, c.data, c.err
	}
	n := copy(p, ra.current)
	ra.current = ra.current[n:]
	return n, nil
}

// Close stops the decoding goroutine (an op may end before its streams do).
func (ra *readaheadReader) Close() { close(ra.stop) }
