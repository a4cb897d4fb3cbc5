package main

import "fmt"

// opsError carries one of the OpsDeltaError codes of deltas/ops/errors.ts, so the TypeScript
// side rethrows the same typed error. Anything else (I/O) is a plain error with code "io".
type opsError struct {
	code    string
	message string
}

func (e *opsError) Error() string { return e.message }

func failf(code, format string, args ...any) error {
	return &opsError{code: code, message: fmt.Sprintf(format, args...)}
}

// errorCode is the code reported on stdout for err.
func errorCode(err error) string {
	if e, ok := err.(*opsError); ok {
		return e.code
	}
	return "io"
}
