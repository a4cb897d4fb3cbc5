package main

// The apply loop: the same order of checks, error codes and file rules as applyOpsDelta
// (deltas/ops/apply.ts). The patch is read once front to back (BSDIFF payloads are also pread by
// their three bzip2 streams), the source by extent, and the target is written in order to
// .<out>.ops-partial, renamed only after the trailer digest matched and the file was fsync'ed.

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/andybalholm/brotli"
)

const (
	ioBytes                = 1024 * 1024
	defaultCheckpointBytes = 16 * 1024 * 1024
)

type applyOptions struct {
	sourcePath      string
	patchPath       string
	outPath         string
	sourceCheck     string // "full" | "extent"
	checkpointBytes int64  // 0: no checkpoints
	resumePath      string
}

// partialPathFor: the same rule as apply.ts, so either applier finds the other's partial file.
func partialPathFor(outPath string) string {
	return filepath.Join(filepath.Dir(outPath), "."+filepath.Base(outPath)+".ops-partial")
}

// patchReader reads the patch sequentially and counts the bytes consumed.
type patchReader struct {
	r    *bufio.Reader
	pos  int64
	size int64
}

func (p *patchReader) readExact(buf []byte, what string) error {
	n, err := io.ReadFull(p.r, buf)
	if err != nil {
		return failf("truncated", "patch truncated at byte %d: expected %s", p.pos+int64(n), what)
	}
	p.pos += int64(n)
	return nil
}

// opSink checks and hashes what an op writes, and passes it to the output.
type opSink struct {
	out     *bufio.Writer
	hash    hash.Hash
	op      *opRecord
	written int64
}

func (s *opSink) Write(p []byte) (int, error) {
	if s.written+int64(len(p)) > s.op.targetLength {
		return 0, failf("corrupt-payload", "op %d (%s) produces more than its %d bytes", s.op.index, s.op.kindName(), s.op.targetLength)
	}
	s.hash.Write(p)
	n, err := s.out.Write(p)
	s.written += int64(n)
	return n, err
}

func (s *opSink) finish(sourceChecked bool) error {
	if s.written != s.op.targetLength {
		return failf("corrupt-payload", "op %d (%s) produced %d bytes, expected %d", s.op.index, s.op.kindName(), s.written, s.op.targetLength)
	}
	var actual [32]byte
	s.hash.Sum(actual[:0])
	if actual != s.op.sha256 {
		hint := ""
		if s.op.kind == kindCopy && !sourceChecked {
			hint = " (a different source image, or a corrupt patch)"
		}
		return failf("op-hash-mismatch", "op %d (%s) wrote bytes with sha256 %s, the patch says %s%s", s.op.index, s.op.kindName(), hexOf(actual[:]), hexOf(s.op.sha256[:]), hint)
	}
	return nil
}

type applier struct {
	opts   applyOptions
	ev     *events
	buf    []byte
	bsbufs *bspatchBuffers
	// A BSDIFF or brotli op ran since the last collection: its decoders are garbage.
	decoderGarbage bool
	patch          *os.File
}

func sha256OfFile(f *os.File, length int64, buf []byte) ([32]byte, error) {
	h := sha256.New()
	var sum [32]byte
	if _, err := io.CopyBuffer(h, io.NewSectionReader(f, 0, length), buf); err != nil {
		return sum, err
	}
	h.Sum(sum[:0])
	return sum, nil
}

func readHead(path string, n int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, n)
	got, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:got], nil
}

func (a *applier) run() (*doneEvent, error) {
	started := time.Now()
	o := a.opts
	partialPath := partialPathFor(o.outPath)

	var resume *checkpoint
	var hdr []byte
	patch, err := os.Open(o.patchPath)
	if err != nil {
		return nil, err
	}
	defer patch.Close()
	a.patch = patch
	info, err := patch.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New(o.patchPath + " is not a regular file (the native applier preads BSDIFF payloads)")
	}
	start := int64(0)
	if o.resumePath != "" {
		raw, err := os.ReadFile(o.resumePath)
		if err != nil {
			return nil, err
		}
		if resume, hdr, err = parseCheckpoint(raw); err != nil {
			return nil, err
		}
		head, err := readHead(o.patchPath, headerBytes)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(head, hdr) {
			return nil, failf("bad-resume", "the checkpoint was recorded for another patch than %s", o.patchPath)
		}
		start = resume.PatchOffset
	}
	pr := &patchReader{r: bufio.NewReaderSize(io.NewSectionReader(patch, start, max(info.Size()-start, 0)), 64*1024), pos: start, size: info.Size()}
	if resume == nil {
		hdr = make([]byte, headerBytes)
		if err := pr.readExact(hdr, "the header"); err != nil {
			return nil, err
		}
	}
	header, err := decodeHeader(hdr)
	if err != nil {
		return nil, err
	}

	// Wrong source: refuse before the output exists.
	source, err := os.Open(o.sourcePath)
	if err != nil {
		return nil, err
	}
	defer source.Close()
	sinfo, err := source.Stat()
	if err != nil {
		return nil, err
	}
	if sinfo.Size() != header.sourceLength {
		return nil, failf("source-mismatch", "source %s is %d bytes; the patch was made from a %d-byte image %s", o.sourcePath, sinfo.Size(), header.sourceLength, hexOf(header.sourceSha256[:]))
	}
	checkStarted := time.Now()
	if o.sourceCheck == "full" {
		actual, err := sha256OfFile(source, sinfo.Size(), a.buf)
		if err != nil {
			return nil, err
		}
		if actual != header.sourceSha256 {
			return nil, failf("source-mismatch", "source %s has sha256 %s; the patch was made from %s", o.sourcePath, hexOf(actual[:]), hexOf(header.sourceSha256[:]))
		}
	}
	sourceCheckMs := msSince(checkStarted)

	opIndex := uint32(0)
	targetOffset := int64(0)
	digest := startDigest(hdr)
	var out *os.File
	if resume != nil {
		if resume.OpIndex > int64(header.opCount) || resume.TargetOffset > header.targetLength {
			return nil, failf("bad-resume", "the checkpoint lies beyond the end of this patch")
		}
		opIndex, targetOffset = uint32(resume.OpIndex), resume.TargetOffset
		if digest, err = resume.digestBytes(); err != nil {
			return nil, failf("bad-resume", "the checkpoint's digest is not a sha256")
		}
		pinfo, statErr := os.Stat(partialPath)
		if statErr != nil || pinfo.Size() < targetOffset {
			state := "is missing"
			if statErr == nil {
				state = "has " + itoa(pinfo.Size()) + " bytes"
			}
			return nil, failf("bad-resume", "partial output %s %s; the checkpoint needs %d", partialPath, state, targetOffset)
		}
		if out, err = os.OpenFile(partialPath, os.O_RDWR, 0); err != nil {
			return nil, err
		}
		if err := out.Truncate(targetOffset); err == nil {
			_, err = out.Seek(targetOffset, io.SeekStart)
		}
		if err != nil {
			out.Close()
			return nil, err
		}
	} else if out, err = os.OpenFile(partialPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
		return nil, err
	}
	// From here an error removes the partial file; a kill (or a lost parent) keeps it for a resume.
	keep := false
	defer func() {
		out.Close()
		if !keep {
			os.Remove(partialPath)
		}
	}()
	w := bufio.NewWriterSize(out, ioBytes)
	flushSync := func() error {
		if err := w.Flush(); err != nil {
			return err
		}
		return datasync(out)
	}

	lastCheckpoint := targetOffset
	record := make([]byte, opRecordBytes)
	sourceChecked := o.sourceCheck == "full"
	for ; opIndex < header.opCount; opIndex++ {
		if err := pr.readExact(record, "op "+itoa(int64(opIndex))); err != nil {
			return nil, err
		}
		if bytes.Equal(record[:8], trailerMagic) {
			return nil, failf("truncated", "the patch ends after %d of %d ops", opIndex, header.opCount)
		}
		op, err := decodeOp(record)
		if err != nil {
			return nil, err
		}
		if op.index != opIndex || op.targetOffset != targetOffset {
			return nil, failf("out-of-order", "op %d writes at %d; expected op %d at %d (reordered or missing ops)", op.index, op.targetOffset, opIndex, targetOffset)
		}
		if op.targetOffset+op.targetLength > header.targetLength || op.targetLength > int64(header.maxOpTargetLength) {
			return nil, failf("past-target-end", "op %d writes %d bytes at %d, past the %d-byte target or its %d-byte op limit", op.index, op.targetLength, op.targetOffset, header.targetLength, header.maxOpTargetLength)
		}
		if (op.kind == kindCopy || op.kind == kindBsdiff) && op.sourceOffset+op.sourceLength > header.sourceLength {
			return nil, failf("malformed", "op %d reads source bytes %d..%d, past the %d-byte source", op.index, op.sourceOffset, op.sourceOffset+op.sourceLength, header.sourceLength)
		}
		if op.kind == kindBsdiff && op.sourceLength > int64(header.maxSourceExtentLength) {
			return nil, failf("malformed", "op %d reads a %d-byte source extent, over the header's %d", op.index, op.sourceLength, header.maxSourceExtentLength)
		}
		if op.payloadLength > pr.size-pr.pos {
			return nil, failf("truncated", "patch truncated at byte %d: op %d's payload is %d bytes short", pr.size, op.index, op.payloadLength-(pr.size-pr.pos))
		}
		sink := &opSink{out: w, hash: sha256.New(), op: op}
		payloadSha := emptySha256
		if err := a.applyOp(op, pr, source, sink, &payloadSha); err != nil {
			return nil, err
		}
		if err := sink.finish(sourceChecked); err != nil {
			return nil, err
		}
		digest = chainDigest(digest, record, payloadSha)
		targetOffset += op.targetLength
		a.ev.progress(opIndex+1, header.opCount, targetOffset, header.targetLength)
		if o.checkpointBytes > 0 && targetOffset-lastCheckpoint >= o.checkpointBytes {
			if err := flushSync(); err != nil {
				return nil, err
			}
			lastCheckpoint = targetOffset
			c := &checkpoint{Format: checkpointFormat, OpIndex: int64(opIndex) + 1, PatchOffset: pr.pos, TargetOffset: targetOffset, Digest: hexOf(digest[:]), Header: base64.StdEncoding.EncodeToString(hdr)}
			if err := a.ev.checkpoint(c); err != nil {
				keep = true
				return nil, err
			}
		}
	}
	if targetOffset != header.targetLength {
		return nil, failf("malformed", "the ops write %d bytes; the header declares %d", targetOffset, header.targetLength)
	}
	trailerBuf := make([]byte, trailerBytes)
	if err := pr.readExact(trailerBuf, "the trailer"); err != nil {
		return nil, err
	}
	trailer, err := decodeTrailer(trailerBuf)
	if err != nil {
		return nil, err
	}
	if trailer.opCount != header.opCount || trailer.patchDigest != digest {
		return nil, failf("patch-digest-mismatch", "the trailer's digest %s does not match the %d ops read (%s): the patch was altered", hexOf(trailer.patchDigest[:]), header.opCount, hexOf(digest[:]))
	}
	if _, err := pr.r.ReadByte(); err == nil {
		return nil, failf("trailing-data", "bytes follow the trailer")
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := out.Sync(); err != nil {
		return nil, err
	}
	if err := out.Close(); err != nil {
		return nil, err
	}
	if err := os.Rename(partialPath, o.outPath); err != nil {
		return nil, err
	}
	resumedFrom := int64(0)
	if resume != nil {
		resumedFrom = resume.OpIndex
	}
	return &doneEvent{Event: "done", Path: o.outPath, Sha256: hexOf(header.targetSha256[:]), Length: header.targetLength, OpCount: header.opCount, ResumedFromOp: resumedFrom, SourceCheckMs: sourceCheckMs, DurationMs: msSince(started), PeakRssBytes: peakRssBytes()}, nil
}

// collectDecoders runs before an op allocates decoders (three bzip2 decoders of ~3.6 MB for a
// BSDIFF op, a brotli window of up to 4 MiB for a REPLACE): the previous op's are garbage by
// then, and collecting them first means the heap holds one set, never two. The proportional GC
// is off (main.go), so this, and the memory limit as a backstop, is all the collecting done.
func (a *applier) collectDecoders() {
	if a.decoderGarbage {
		runtime.GC()
	}
	a.decoderGarbage = true
}

// applyOp writes one op's target bytes to sink and sets payloadSha for the digest chain.
func (a *applier) applyOp(op *opRecord, pr *patchReader, source *os.File, sink *opSink, payloadSha *[32]byte) error {
	payloadAt := pr.pos
	var payload io.Reader
	var payloadHash hash.Hash
	if op.payloadLength > 0 {
		payloadHash = sha256.New()
		payload = io.TeeReader(io.LimitReader(pr.r, op.payloadLength), payloadHash)
	}
	switch op.kind {
	case kindCopy:
		for done := int64(0); done < op.targetLength; {
			n := min(int64(len(a.buf)), op.targetLength-done)
			got, err := source.ReadAt(a.buf[:n], op.sourceOffset+done)
			if got == 0 && err != nil {
				return failf("source-mismatch", "source ended at %d", op.sourceOffset+done)
			}
			if _, err := sink.Write(a.buf[:got]); err != nil {
				return err
			}
			done += int64(got)
		}
	case kindZero:
		clear(a.buf)
		for done := int64(0); done < op.targetLength; {
			n := min(int64(len(a.buf)), op.targetLength-done)
			if _, err := sink.Write(a.buf[:n]); err != nil {
				return err
			}
			done += n
		}
	case kindReplace:
		if op.codec == codecNone {
			if _, err := io.CopyBuffer(sink, payload, a.buf); err != nil {
				return err
			}
		} else {
			a.collectDecoders()
			if _, err := io.CopyBuffer(sink, brotli.NewReader(payload), a.buf); err != nil {
				var oe *opsError
				if errors.As(err, &oe) {
					return err
				}
				return failf("corrupt-payload", "op %d: brotli payload does not decode (%v)", op.index, err)
			}
		}
	case kindBsdiff:
		// The whole payload is hashed (and known to be there) before bspatch runs, as in apply.ts.
		if _, err := io.CopyBuffer(io.Discard, payload, a.buf); err != nil {
			return err
		}
		head := make([]byte, 32)
		if _, err := a.patch.ReadAt(head, payloadAt); err != nil {
			return err
		}
		h, err := checkBsdiffHeader(head, op.payloadLength, op.targetLength, op.index)
		if err != nil {
			return err
		}
		if a.bsbufs == nil {
			a.bsbufs = newBspatchBuffers(64 * 1024)
		}
		a.collectDecoders()
		if err := bspatchStream(a.patch, payloadAt, h, op.payloadLength, source, op.sourceOffset, op.sourceLength, sink, a.bsbufs, op.index); err != nil {
			return err
		}
	}
	if payload != nil {
		// Whatever a decoder left unread still belongs to the payload and its digest.
		if _, err := io.CopyBuffer(io.Discard, payload, a.buf); err != nil {
			return err
		}
		pr.pos += op.payloadLength
		payloadHash.Sum(payloadSha[:0])
	}
	return nil
}
