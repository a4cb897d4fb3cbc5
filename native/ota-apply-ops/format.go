package main

// The ops delta format, version 1 (docs/delta-format.md; deltas/ops/format.ts): decoders with
// the same rules and error codes as decodeHeader / decodeOp / decodeTrailer.

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
)

const (
	headerBytes          = 128
	opRecordBytes        = 80
	trailerBytes         = 48
	formatVersion        = 1
	maxOpTargetBytes     = 64 * 1024 * 1024
	maxSourceExtentBytes = 256 * 1024 * 1024
	maxSafeInteger       = 1<<53 - 1 // lengths must stay JavaScript safe integers
)

var (
	opsMagic     = []byte("OTAOPS\r\n")
	trailerMagic = []byte("OTAEND\r\n")
)

const (
	kindCopy    = 1
	kindBsdiff  = 2
	kindReplace = 3
	kindZero    = 4
	codecNone   = 0
	codecBrotli = 1
)

var kindNames = map[byte]string{kindCopy: "copy", kindBsdiff: "bsdiff", kindReplace: "replace", kindZero: "zero"}

type opsHeader struct {
	sourceLength          int64
	targetLength          int64
	sourceSha256          [32]byte
	targetSha256          [32]byte
	opCount               uint32
	maxOpTargetLength     uint32
	maxSourceExtentLength uint32
}

type opRecord struct {
	kind          byte
	codec         byte
	index         uint32
	targetOffset  int64
	targetLength  int64
	sourceOffset  int64
	sourceLength  int64
	payloadLength int64
	sha256        [32]byte
}

func (op *opRecord) kindName() string { return kindNames[op.kind] }

func readLength(b []byte, at int, what string) (int64, error) {
	v := binary.LittleEndian.Uint64(b[at:])
	if v > maxSafeInteger {
		return 0, failf("malformed", "%s %d is too large", what, v)
	}
	return int64(v), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func decodeHeader(b []byte) (*opsHeader, error) {
	if len(b) < headerBytes {
		return nil, failf("truncated", "ops patch header is %d bytes, expected %d", len(b), headerBytes)
	}
	if !bytes.Equal(b[:8], opsMagic) {
		return nil, failf("bad-magic", "not an ops delta (missing OTAOPS magic)")
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != formatVersion {
		return nil, failf("unsupported-version", "ops delta format version %d; this reader knows %d", v, formatVersion)
	}
	if !allZero(b[108:headerBytes]) {
		return nil, failf("malformed", "ops patch header: reserved bytes are not zero")
	}
	h := &opsHeader{}
	var err error
	if h.sourceLength, err = readLength(b, 16, "source length"); err != nil {
		return nil, err
	}
	if h.targetLength, err = readLength(b, 24, "target length"); err != nil {
		return nil, err
	}
	copy(h.sourceSha256[:], b[32:64])
	copy(h.targetSha256[:], b[64:96])
	h.opCount = binary.LittleEndian.Uint32(b[96:])
	h.maxOpTargetLength = binary.LittleEndian.Uint32(b[100:])
	h.maxSourceExtentLength = binary.LittleEndian.Uint32(b[104:])
	switch {
	case binary.LittleEndian.Uint16(b[10:]) != 0:
		return nil, failf("malformed", "ops patch header: flags: must be 0")
	case binary.LittleEndian.Uint32(b[12:]) < 1:
		return nil, failf("malformed", "ops patch header: blockSize: must be at least 1")
	case h.maxOpTargetLength > maxOpTargetBytes:
		return nil, failf("malformed", "ops patch header: maxOpTargetLength: must be at most %d", maxOpTargetBytes)
	case h.maxSourceExtentLength > maxSourceExtentBytes:
		return nil, failf("malformed", "ops patch header: maxSourceExtentLength: must be at most %d", maxSourceExtentBytes)
	}
	return h, nil
}

func decodeOp(b []byte) (*opRecord, error) {
	op := &opRecord{kind: b[0], codec: b[1], index: binary.LittleEndian.Uint32(b[4:])}
	if _, ok := kindNames[op.kind]; !ok {
		return nil, failf("malformed", "op record: unknown kind %d", b[0])
	}
	if op.codec != codecNone && op.codec != codecBrotli {
		return nil, failf("malformed", "op record: unknown codec %d", b[1])
	}
	if binary.LittleEndian.Uint16(b[2:]) != 0 {
		return nil, failf("malformed", "op record: reserved bytes are not zero")
	}
	fields := []struct {
		dst  *int64
		at   int
		what string
	}{{&op.targetOffset, 8, "target offset"}, {&op.targetLength, 16, "target length"}, {&op.sourceOffset, 24, "source offset"}, {&op.sourceLength, 32, "source length"}, {&op.payloadLength, 40, "payload length"}}
	for _, f := range fields {
		v, err := readLength(b, f.at, f.what)
		if err != nil {
			return nil, err
		}
		*f.dst = v
	}
	copy(op.sha256[:], b[48:80])
	bad := func(rule string) (*opRecord, error) {
		return nil, failf("malformed", "op record %d: %s", op.index, rule)
	}
	if op.targetLength < 1 || op.targetLength > maxOpTargetBytes {
		return bad("targetLength: must be between 1 and 64 MiB")
	}
	if op.kind != kindReplace && op.codec != codecNone {
		return bad("codec: only a REPLACE has a codec")
	}
	switch op.kind {
	case kindCopy:
		if op.payloadLength != 0 {
			return bad("payloadLength: a COPY has no payload")
		}
		if op.sourceLength != op.targetLength {
			return bad("a COPY reads as many source bytes as it writes")
		}
	case kindBsdiff:
		if op.sourceLength < 1 || op.sourceLength > maxSourceExtentBytes {
			return bad("sourceLength: must be between 1 and 256 MiB")
		}
		if op.payloadLength < 32 {
			return bad("payloadLength: a BSDIFF payload has at least 32 bytes")
		}
	case kindReplace:
		if op.sourceOffset != 0 || op.sourceLength != 0 {
			return bad("a REPLACE reads no source bytes")
		}
		if op.payloadLength < 1 {
			return bad("payloadLength: must be at least 1")
		}
		if op.codec == codecNone && op.payloadLength != op.targetLength {
			return bad("an uncompressed REPLACE carries exactly its target bytes")
		}
	case kindZero:
		if op.sourceOffset != 0 || op.sourceLength != 0 || op.payloadLength != 0 {
			return bad("a ZERO has no source bytes and no payload")
		}
	}
	return op, nil
}

type opsTrailer struct {
	opCount     uint32
	patchDigest [32]byte
}

func decodeTrailer(b []byte) (*opsTrailer, error) {
	if !bytes.Equal(b[:8], trailerMagic) {
		return nil, failf("malformed", "expected the trailer after the last op (missing OTAEND magic)")
	}
	if binary.LittleEndian.Uint32(b[12:]) != 0 {
		return nil, failf("malformed", "trailer: reserved bytes are not zero")
	}
	t := &opsTrailer{opCount: binary.LittleEndian.Uint32(b[8:])}
	copy(t.patchDigest[:], b[16:48])
	return t, nil
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }
