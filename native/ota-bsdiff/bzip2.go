package main

// libbz2 through cgo: the pure-Go bzip2 encoders compress bsdiff's diff blocks 7% worse, and the
// ops format exists to make patches no larger than whole-image bsdiff. Needs libbz2-dev at build
// time (tools/setup.mjs says so when it is missing; the generator then uses bsdiff-node).

/*
#cgo LDFLAGS: -lbz2
#include <bzlib.h>
*/
import "C"

import (
	"fmt"
	"unsafe"
)

func bzip2Compress(data []byte) ([]byte, error) {
	// libbz2's documented worst case: 1% + 600 bytes larger than the input.
	out := make([]byte, len(data)+len(data)/100+600)
	outLength := C.uint(len(out))
	// Go memory passed straight in (no pointers inside it), so nothing is copied.
	// libbz2 refuses a NULL source even for zero bytes.
	in := (*C.char)(unsafe.Pointer(&out[0]))
	if len(data) > 0 {
		in = (*C.char)(unsafe.Pointer(&data[0]))
	}
	if rc := C.BZ2_bzBuffToBuffCompress((*C.char)(unsafe.Pointer(&out[0])), &outLength, in, C.uint(len(data)), 9, 0, 30); rc != C.BZ_OK {
		return nil, fmt.Errorf("bzip2: BZ2_bzBuffToBuffCompress failed (%d)", int(rc))
	}
	return out[:outLength], nil
}
