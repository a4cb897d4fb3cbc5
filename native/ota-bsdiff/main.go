// ota-bsdiff: a BSDIFF40 patch from one extent of an old file to one extent of a new file, for
// the ops delta generator (deltas/ops). Same format as bsdiff 4.3 / bsdiff-node, built on a
// faster suffix sort with a quarter of the memory, so ops can diff against larger source extents.
//
//	ota-bsdiff [--old-range OFFSET:LENGTH] [--new-range OFFSET:LENGTH] OLD NEW PATCH
//
// Prints one JSON line: {"patchBytes":N,"peakRssBytes":N}. Exit 1 on I/O errors, 2 on usage.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

type byteRange struct {
	offset, length int64
	set            bool
}

func (r *byteRange) String() string { return fmt.Sprintf("%d:%d", r.offset, r.length) }

func (r *byteRange) Set(value string) error {
	parts := strings.SplitN(value, ":", 2)
	if len(parts) != 2 {
		return fmt.Errorf("want OFFSET:LENGTH")
	}
	offset, err1 := strconv.ParseInt(parts[0], 10, 64)
	length, err2 := strconv.ParseInt(parts[1], 10, 64)
	if err1 != nil || err2 != nil || offset < 0 || length < 0 || length >= 1<<31 {
		return fmt.Errorf("want OFFSET:LENGTH with 0 <= LENGTH < 2 GiB")
	}
	*r = byteRange{offset, length, true}
	return nil
}

func readRange(path string, r byteRange) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if !r.set {
		info, err := f.Stat()
		if err != nil {
			return nil, err
		}
		r = byteRange{0, info.Size(), true}
	}
	buf := make([]byte, r.length)
	if _, err := f.ReadAt(buf, r.offset); err != nil && !(err == io.EOF && r.length == 0) {
		return nil, fmt.Errorf("%s: reading %d bytes at %d: %w", path, r.length, r.offset, err)
	}
	return buf, nil
}

func peakRssBytes() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(line, "VmHWM:"), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func run(oldPath, newPath, patchPath string, oldRange, newRange byteRange) (int64, error) {
	old, err := readRange(oldPath, oldRange)
	if err != nil {
		return 0, err
	}
	target, err := readRange(newPath, newRange)
	if err != nil {
		return 0, err
	}
	sa, err := suffixArray(old)
	if err != nil {
		return 0, err
	}
	result := diff(old, target, sa)
	out, err := os.Create(patchPath)
	if err != nil {
		return 0, err
	}
	buffered := bufio.NewWriterSize(out, 1<<20)
	n, err := writeBsdiff40(buffered, result, len(target))
	if err == nil {
		err = buffered.Flush()
	}
	if closeErr := out.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(patchPath)
	}
	return n, err
}

func main() {
	// The big buffers live until the end; collect garbage early rather than letting the heap double.
	debug.SetGCPercent(25)
	var oldRange, newRange byteRange
	flags := flag.NewFlagSet("ota-bsdiff", flag.ContinueOnError)
	flags.Var(&oldRange, "old-range", "OFFSET:LENGTH of OLD to diff against (default: all of it)")
	flags.Var(&newRange, "new-range", "OFFSET:LENGTH of NEW to rebuild (default: all of it)")
	if err := flags.Parse(os.Args[1:]); err != nil || flags.NArg() != 3 {
		fmt.Fprintln(os.Stderr, "usage: ota-bsdiff [--old-range OFFSET:LENGTH] [--new-range OFFSET:LENGTH] OLD NEW PATCH")
		os.Exit(2)
	}
	n, err := run(flags.Arg(0), flags.Arg(1), flags.Arg(2), oldRange, newRange)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ota-bsdiff: %v\n", err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]int64{"patchBytes": n, "peakRssBytes": peakRssBytes()})
}
