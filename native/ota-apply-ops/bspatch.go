package main

// Streaming bspatch for one BSDIFF op: the BSDIFF40 control tuples are processed in order, the
// three bzip2 streams (control, diff, extra) are read front to back straight from the patch file,
// "old" bytes are pread from the op's source extent, and the output goes to the op's sink.
// Memory is O(1) in the op size: two small buffers plus the three bzip2 decoders (~3.6 MB each
// at bzip2 -9), instead of bspatch's old + new in RAM. The rules are bsdiff-node's / Debian's
// bspatch: each tuple (x, y, z) adds x diff bytes to old[oldpos..] (bytes outside the extent add
// nothing), copies y extra bytes, then moves oldpos by z.

import (
	"bufio"
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
	// A small page cache of the source. bsdiff's control tuples are many and short, and for
	// relinked code the old position jumps around the op's extent (functions reordered), so a
	// single window was refilled for almost every tuple. Direct-mapped 16 KiB pages, 2 MiB in all.
	pages     []byte
	pageOf    []int64 // page number + 1 held by each slot (0 = empty)
	pageValid []int
}

const (
	sourcePageBytes = 16 * 1024
	sourcePageSlots = 128
)

func newBspatchBuffers(dataSize int) *bspatchBuffers {
	return &bspatchBuffers{
		data:      make([]byte, dataSize),
		pages:     make([]byte, sourcePageBytes*sourcePageSlots),
		pageOf:    make([]int64, sourcePageSlots),
		pageValid: make([]int, sourcePageSlots),
	}
}

// addSource adds source[at, at+len(dst)) (absolute offsets) to dst byte-wise, as bspatch does.
func (b *bspatchBuffers) addSource(source *os.File, dst []byte, at int64) error {
	for len(dst) > 0 {
		page := at / sourcePageBytes
		slot := int(page % sourcePageSlots)
		buf := b.pages[slot*sourcePageBytes : (slot+1)*sourcePageBytes]
		if b.pageOf[slot] != page+1 {
			got, err := source.ReadAt(buf, page*sourcePageBytes)
			if got == 0 && err != nil {
				b.pageOf[slot] = 0
				return err
			}
			b.pageOf[slot], b.pageValid[slot] = page+1, got
		}
		off := int(at - page*sourcePageBytes)
		n := min(len(dst), sourcePageBytes-off)
		if off+n > b.pageValid[slot] {
			return io.ErrUnexpectedEOF
		}
		old := buf[off : off+n]
		for i := range old {
			dst[i] += old[i]
		}
		dst, at = dst[n:], at+int64(n)
	}
	return nil
}

// reset forgets cached pages (a new op may come with a different source file state after a resume).
func (b *bspatchBuffers) reset() { clear(b.pageOf) }

// bspatchStream applies the BSDIFF40 payload at [payloadAt, payloadAt+payloadLength) of the
// patch file to the source extent [sourceOffset, sourceOffset+sourceLength), writing to out.
func bspatchStream(patch *os.File, payloadAt int64, h *bsdiffHeader, payloadLength int64, source *os.File, sourceOffset, sourceLength int64, out io.Writer, bufs *bspatchBuffers, index uint32) error {
	corrupt := func(why string) error {
		return failf("corrupt-payload", "op %d: bspatch rejected the payload (%s)", index, why)
	}
	ctrlAt := payloadAt + 32
	diffAt := ctrlAt + h.ctrlLength
	extraAt := diffAt + h.diffLength
	// bzip2.NewReader would wrap each in a 4 KiB bufio.Reader: one pread per 4 KiB of payload.
	// Each stream is decoded in its own goroutine, ahead of the loop below.
	stream := func(at, length int64) *readaheadReader {
		return newReadahead(bzip2.NewReader(bufio.NewReaderSize(io.NewSectionReader(patch, at, length), 64*1024)))
	}
	ctrl, diff, extra := stream(ctrlAt, h.ctrlLength), stream(diffAt, h.diffLength), stream(extraAt, payloadAt+payloadLength-extraAt)
	defer ctrl.Close()
	defer diff.Close()
	defer extra.Close()

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
				if err := bufs.addSource(source, chunk[lo-at:hi-at], sourceOffset+lo); err != nil {
					return failf("source-mismatch", "op %d: cannot read source bytes %d..%d (%v)", index, sourceOffset+lo, sourceOffset+hi, err)
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
