package main

// stdout is the protocol: one JSON object per line. With --ack the applier waits for one line on
// stdin after each checkpoint event (the caller has stored it durably), and stops, keeping the
// partial output, when stdin reaches EOF: the parent is gone, nobody would record progress.

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"time"
)

type events struct {
	ack          *bufio.Reader
	lastProgress time.Time
}

// errParentGone: stdin closed while waiting for an ack.
var errParentGone = errors.New("stdin closed while waiting for the checkpoint ack")

func (e *events) emit(v any) {
	line, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	os.Stdout.Write(append(line, '\n'))
}

type progressEvent struct {
	Event        string `json:"event"`
	OpIndex      uint32 `json:"opIndex"`
	OpCount      uint32 `json:"opCount"`
	TargetOffset int64  `json:"targetOffset"`
	TargetLength int64  `json:"targetLength"`
}

// progress is throttled to a few lines a second; the last op always reports.
func (e *events) progress(opIndex, opCount uint32, targetOffset, targetLength int64) {
	now := time.Now()
	if opIndex != opCount && now.Sub(e.lastProgress) < 200*time.Millisecond {
		return
	}
	e.lastProgress = now
	e.emit(progressEvent{"progress", opIndex, opCount, targetOffset, targetLength})
}

func (e *events) checkpoint(c *checkpoint) error {
	e.emit(struct {
		Event      string      `json:"event"`
		Checkpoint *checkpoint `json:"checkpoint"`
	}{"checkpoint", c})
	if e.ack == nil {
		return nil
	}
	if _, err := e.ack.ReadString('\n'); err != nil {
		return errParentGone
	}
	return nil
}

type doneEvent struct {
	Event         string  `json:"event"`
	Path          string  `json:"path"`
	Sha256        string  `json:"sha256"`
	Length        int64   `json:"length"`
	OpCount       uint32  `json:"opCount"`
	ResumedFromOp int64   `json:"resumedFromOp"`
	SourceCheckMs float64 `json:"sourceCheckMs"`
	DurationMs    float64 `json:"durationMs"`
	PeakRssBytes  int64   `json:"peakRssBytes"`
}

func (e *events) fail(err error) {
	e.emit(struct {
		Event   string `json:"event"`
		Code    string `json:"code"`
		Message string `json:"message"`
	}{"error", errorCode(err), err.Error()})
}
