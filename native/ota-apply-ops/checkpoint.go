package main

// The resume record, in the JSON shape of opsApplyCheckpointSchema (deltas/ops/apply.ts), so a
// checkpoint written by either applier resumes in the other.

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
)

const checkpointFormat = "ops-apply-checkpoint/1"

type checkpoint struct {
	Format       string `json:"format"`
	OpIndex      int64  `json:"opIndex"`
	PatchOffset  int64  `json:"patchOffset"`
	TargetOffset int64  `json:"targetOffset"`
	Digest       string `json:"digest"`
	Header       string `json:"header"`
}

var digestPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// parseCheckpoint validates like the zod schema (strict object, integer fields); any deviation
// is a bad-resume.
func parseCheckpoint(raw []byte) (*checkpoint, []byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, nil, failf("bad-resume", "the checkpoint is not a JSON object (%v)", err)
	}
	for key := range fields {
		switch key {
		case "format", "opIndex", "patchOffset", "targetOffset", "digest", "header":
		default:
			return nil, nil, failf("bad-resume", "the checkpoint has an unknown field %q", key)
		}
	}
	var c checkpoint
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil || len(fields) != 6 {
		return nil, nil, failf("bad-resume", "the checkpoint is not an %s record", checkpointFormat)
	}
	switch {
	case c.Format != checkpointFormat:
		return nil, nil, failf("bad-resume", "the checkpoint format is %q, expected %s", c.Format, checkpointFormat)
	case c.OpIndex < 0 || c.PatchOffset < headerBytes || c.TargetOffset < 0:
		return nil, nil, failf("bad-resume", "the checkpoint's opIndex, patchOffset or targetOffset is out of range")
	case !digestPattern.MatchString(c.Digest):
		return nil, nil, failf("bad-resume", "the checkpoint's digest is not a sha256")
	case c.Header == "":
		return nil, nil, failf("bad-resume", "the checkpoint has no header")
	}
	header, err := base64.StdEncoding.DecodeString(c.Header)
	if err != nil {
		return nil, nil, failf("bad-resume", "the checkpoint's header is not base64 (%v)", err)
	}
	return &c, header, nil
}

func (c *checkpoint) digestBytes() ([32]byte, error) {
	var d [32]byte
	b, err := hex.DecodeString(c.Digest)
	if err != nil || len(b) != 32 {
		return d, fmt.Errorf("bad digest")
	}
	copy(d[:], b)
	return d, nil
}
