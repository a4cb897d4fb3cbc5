package main

// BSDIFF40 file layout: a 32-byte header ("BSDIFF40", compressed control length, compressed diff
// length, new file size), then the control, diff and extra streams, each bzip2-compressed.
// Integers are 64-bit sign-magnitude little endian, as in bsdiff 4.3. Compression is libbz2's
// (bzip2.go), so patches are byte-identical to Debian's bsdiff and bsdiff-node.

import "io"

func putOfft(buf []byte, x int64) {
	y := x
	if x < 0 {
		y = -x
	}
	for i := 0; i < 8; i++ {
		buf[i] = byte(y >> (8 * i))
	}
	if x < 0 {
		buf[7] |= 0x80
	}
}

// writeBsdiff40 writes the patch and returns its length.
func writeBsdiff40(w io.Writer, result diffResult, newSize int) (int64, error) {
	controls := make([]byte, 24*len(result.controls))
	for i, c := range result.controls {
		putOfft(controls[24*i:], c.add)
		putOfft(controls[24*i+8:], c.copy)
		putOfft(controls[24*i+16:], c.seek)
	}
	blocks := make([][]byte, 0, 3)
	for _, raw := range [][]byte{controls, result.diff, result.extra} {
		packed, err := bzip2Compress(raw)
		if err != nil {
			return 0, err
		}
		blocks = append(blocks, packed)
	}
	header := make([]byte, 32)
	copy(header, "BSDIFF40")
	putOfft(header[8:], int64(len(blocks[0])))
	putOfft(header[16:], int64(len(blocks[1])))
	putOfft(header[24:], int64(newSize))
	total := int64(0)
	for _, part := range append([][]byte{header}, blocks...) {
		n, err := w.Write(part)
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
