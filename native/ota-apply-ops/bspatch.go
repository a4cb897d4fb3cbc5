package main

// Streaming bspatch for one BSDIFF op: the BSDIFF40 control tuples are processed in order, the
// three bzip2 streams (control, diff, extra) are read front to back straight from the patch file,
// "old" bytes are pread from the op's source extent, and the output goes to the op's sink.
// Memory is O(1) in the op size: two small buffers plus the three bzip2 decoders (~3.6 MB each
// at bzip2 -9), instead of bspatch's old + new in RAM. The rules are bsdiff-node's / Debian's
// bspatch: each tuple (x, y, z) adds x diff bytes to old[oldpos..] (bytes outside the extent add
// nothing), copies y extra bytes, then moves oldpos by z.

import (
	"compress/bzip2"
	"encoding/binary"
	"io"
	"os"
)

// offtin decodes bsdiff's sign-magnitude 64-bit integer.
func offtin(b []byte) int64 {
	magnitude := int64(binary.LittleEndian.Uint64(b) & 0x7fffffffffffffff)
	if b[7]&0x80 != 0 {
		return -magnitude
	}
	return magnitude
}

type bsdiffHeader struct{ ctrlLength, diffLength, newSize int64 }

// checkBsdiffHeader: the same checks as bspatch-extent.ts, before any size in it is trusted.
func checkBsdiffHeader(b []byte, payloadLength, targetLength int64, index uint32) (*bsdiffHeader, error) {
	if len(b) < 32 || string(b[:8]) != "BSDIFF40" {
		return nil, failf("corrupt-payload", "op %d: bsdiff payload has no BSDIFF40 header", index)
	}
	h := &bsdiffHeader{ctrlLength: offtin(b[8:]), diffLength: offtin(b[16:]), newSize: offtin(b[24:])}
	if h.ctrlLength < 0 || h.diffLength < 0 || h.ctrlLength > payloadLength || h.diffLength > payloadLength || 32+h.ctrlLength+h.diffLength > payloadLength {
		return nil, failf("corrupt-payload", "op %d: bsdiff payload: block lengths do not fit its %d bytes", index, payloadLength)
	}
	if h.newSize != targetLength {
		return nil, failf("corrupt-payload", "op %d: bsdiff payload produces %d bytes, the op writes %d", index, h.newSize, targetLength)
	}
	return h, nil
}

type bspatchBuffers struct {
	data []byte // diff / extra bytes on their way to the output
	ctrl [24]byte
	// A window of the source: bsdiff's control tuples are many and short and mostly move forward,
	// so one pread per window instead of one per tuple.
	window      []byte
	windowAt    int64 // absolute source offset of window[0]
	windowValid int
}

func newBspatchBuffers(dataSize, windowSize int) *bspatchBuffers {
	return &bspatchBuffers{data: make([]byte, dataSize), window: make([]byte, windowSize)}
}

// sourceBytes returns source[at, at+n) (absolute offsets, inside the op's extent [extentAt, extentEnd)),
// n <= len(data), from the window, refilling it from at when needed.
func (b *bspatchBuffers) sourceBytes(source *os.File, at, n, extentEnd int64) ([]byte, error) {
	if at < b.windowAt || at+n > b.windowAt+int64(b.windowValid) {
		size := min(int64(len(b.window)), extentEnd-at)
		got, err := source.ReadAt(b.window[:size], at)
		b.windowAt, b.windowValid = at, got
		if int64(got) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	off := at - b.windowAt
	return b.window[off : off+n], nil
}

func (b *bspatchBuffers) reset() { b.windowValid = 0 }

// bspatchStream applies the BSDIFF40 payload at [payloadAt, payloadAt+payloadLength) of the
// patch file to the source extent [sourceOffset, sourceOffset+sourceLength), writing to out.
func bspatchStream(patch *os.File, payloadAt int64, h *bsdiffHeader, payloadLength int64, source *os.File, sourceOffset, sourceLength int64, out io.Writer, bufs *bspatchBuffers, index uint32) error {
	corrupt := func(why string) error {
		return failf("corrupt-payload", "op %d: bspatch rejected the payload (%s)", index, why)
	}
	ctrlAt := payloadAt + 32
	diffAt := ctrlAt + h.ctrlLength
	extraAt := diffAt + h.diffLength
	ctrl := bzip2.NewReader(io.NewSectionReader(patch, ctrlAt, h.ctrlLength))
	diff := bzip2.NewReader(io.NewSectionReader(patch, diffAt, h.diffLength))
	extra := bzip2.NewReader(io.NewSectionReader(patch, extraAt, payloadAt+payloadLength-extraAt))

	readBz := func(r io.Reader, buf []byte, what string) error {
		if _, err := io.ReadFull(r, buf); err != nil {
			return corrupt(what + ": " + err.Error())
		}
		return nil
	}
	bufs.reset()
	var newPos, oldPos int64
	for newPos < h.newSize {
		if err := readBz(ctrl, bufs.ctrl[:], "control block"); err != nil {
			return err
		}
		x, y, z := offtin(bufs.ctrl[0:]), offtin(bufs.ctrl[8:]), offtin(bufs.ctrl[16:])
		if x < 0 || y < 0 || x > h.newSize-newPos {
			return corrupt("a control tuple runs past the output")
		}
		for done := int64(0); done < x; {
			n := min(int64(len(bufs.data)), x-done)
			chunk := bufs.data[:n]
			if err := readBz(diff, chunk, "diff block"); err != nil {
				return err
			}
			// Add the source bytes that lie inside the extent; outside it bspatch adds nothing.
			at := oldPos + done
			lo, hi := max(at, 0), min(at+n, sourceLength)
			if lo < hi {
				old, err := bufs.sourceBytes(source, sourceOffset+lo, hi-lo, sourceOffset+sourceLength)
				if err != nil {
					return failf("source-mismatch", "op %d: cannot read source bytes %d..%d (%v)", index, sourceOffset+lo, sourceOffset+hi, err)
				}
				dst := chunk[lo-at : hi-at]
				for i := range dst {
					dst[i] += old[i]
				}
			}
			if _, err := out.Write(chunk); err != nil {
				return err
			}
			done += n
		}
		newPos += x
		oldPos += x
		if y > h.newSize-newPos {
			return corrupt("a control tuple runs past the output")
		}
		for done := int64(0); done < y; {
			n := min(int64(len(bufs.data)), y-done)
			chunk := bufs.data[:n]
			if err := readBz(extra, chunk, "extra block"); err != nil {
				return err
			}
			if _, err := out.Write(chunk); err != nil {
				return err
			}
			done += n
		}
		newPos += y
		oldPos += z
	}
	return nil
}
