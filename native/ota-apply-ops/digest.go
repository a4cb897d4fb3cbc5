package main

// The patch digest chain (deltas/ops/patch-digest.ts):
//   d0 = sha256(header bytes)
//   di = sha256(d(i-1) || op record bytes || sha256(payload bytes))

import "crypto/sha256"

func startDigest(header []byte) [32]byte { return sha256.Sum256(header) }

func chainDigest(previous [32]byte, record []byte, payloadSha256 [32]byte) [32]byte {
	h := sha256.New()
	h.Write(previous[:])
	h.Write(record)
	h.Write(payloadSha256[:])
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// emptySha256 is the payload digest of ops without a payload (COPY, ZERO).
var emptySha256 = sha256.Sum256(nil)
