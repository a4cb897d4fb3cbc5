// ota-apply-ops: the native device-side applier of the ops delta format (docs/delta-format.md,
// docs/native-applier.md). Same format, checks, error codes, partial file and checkpoints as
// applyOpsDelta in deltas/ops/apply.ts, in a few MB of RSS.
//
//	ota-apply-ops --source OLD --patch PATCH --out NEW [--source-check full|extent]
//	              [--checkpoint-bytes N] [--resume CHECKPOINT.json] [--ack]
//
// stdout: JSON lines (progress, checkpoint, done | error). Exit 0 done, 1 apply error, 2 usage,
// 3 stopped because stdin closed while waiting for a checkpoint ack (partial output kept).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func msSince(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }

func usage(msg string) {
	fmt.Fprintf(os.Stderr, "ota-apply-ops: %s\nusage: ota-apply-ops --source OLD --patch PATCH --out NEW [--source-check full|extent] [--checkpoint-bytes N] [--resume CHECKPOINT.json] [--ack]\n", msg)
	os.Exit(2)
}

func main() {
	// The heap holds a few buffers and one op's decoders (at most three bzip2 decoders, ~11 MB);
	// the apply loop collects them before the next op allocates its own (collectDecoders), which is
	// all the collection this program needs. The proportional GC is off: near a tight limit it ran
	// nearly non-stop and doubled the apply time. The memory limit stays as a backstop.
	debug.SetGCPercent(-1)
	debug.SetMemoryLimit(24 << 20)
	// Two Ps: the loop plus the goroutines that decode a BSDIFF op's bzip2 streams ahead of it
	// (readahead.go); 108 MB release pair 1.75 s -> 1.3 s. Not more: idle Ps woken by every forced
	// collection spun looking for work (at 1 GB, 9 s wall with all Ps vs 4.5 s with one).
	runtime.GOMAXPROCS(min(2, runtime.NumCPU()))

	flags := flag.NewFlagSet("ota-apply-ops", flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	var o applyOptions
	var ack bool
	flags.StringVar(&o.sourcePath, "source", "", "the source (old) image")
	flags.StringVar(&o.patchPath, "patch", "", "the ops patch (a regular file)")
	flags.StringVar(&o.outPath, "out", "", "where the target appears when complete and verified")
	flags.StringVar(&o.sourceCheck, "source-check", "full", "full: sha256 of the whole source first | extent: per-op hashes only")
	flags.Int64Var(&o.checkpointBytes, "checkpoint-bytes", defaultCheckpointBytes, "fdatasync and print a checkpoint at most this often (bytes of target; 0: never)")
	flags.StringVar(&o.resumePath, "resume", "", "a checkpoint JSON file to resume from (the partial output must still be there)")
	flags.BoolVar(&ack, "ack", false, "after each checkpoint line, wait for one line on stdin; stop (keeping the partial output) at EOF")
	if err := flags.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	switch {
	case flags.NArg() > 0:
		usage("unexpected argument " + flags.Arg(0))
	case o.sourcePath == "" || o.patchPath == "" || o.outPath == "":
		usage("--source, --patch and --out are required")
	case o.sourceCheck != "full" && o.sourceCheck != "extent":
		usage("--source-check must be full or extent, got " + o.sourceCheck)
	case o.checkpointBytes < 0:
		usage("--checkpoint-bytes must be >= 0")
	}

	ev := &events{}
	if ack {
		ev.ack = bufio.NewReaderSize(os.Stdin, 4096)
	}
	if path := os.Getenv("OTA_APPLY_OPS_CPUPROFILE"); path != "" { // for performance work only
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	a := &applier{opts: o, ev: ev, buf: make([]byte, ioBytes)}
	done, err := a.run()
	pprof.StopCPUProfile()
	if errors.Is(err, errParentGone) {
		ev.emit(map[string]string{"event": "stopped", "message": err.Error()})
		os.Exit(3)
	}
	if err != nil {
		ev.fail(err)
		os.Exit(1)
	}
	ev.emit(done)
}
