package main

// Colin Percival's bsdiff matching (bsdiff 4.3), producing the three BSDIFF40 streams: control
// tuples (add length, copy length, seek), the byte-wise difference of approximately matching
// regions (mostly zeros after relinking, so it compresses well), and the extra bytes with no
// match. Written from the published algorithm; the output is plain BSDIFF40 that any bspatch reads.

import "bytes"

type control struct{ add, copy, seek int64 }

type diffResult struct {
	controls []control
	diff     []byte
	extra    []byte
}

func matchLen(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// suffixAt is bsdiff's suffix array: the empty suffix first (qsufsort sorts it in), then sa.
// Searching the same array as bsdiff makes ties resolve the same way, so patches are identical.
func suffixAt(sa []int32, old []byte, i int) int {
	if i == 0 {
		return len(old)
	}
	return int(sa[i-1])
}

// search finds the longest prefix of target that occurs in old, by binary search over the
// suffix array entries st..en.
func search(sa []int32, old, target []byte, st, en int) (pos, length int) {
	for en-st >= 2 {
		mid := st + (en-st)/2
		suffix := old[suffixAt(sa, old, mid):]
		n := min(len(suffix), len(target))
		if bytes.Compare(suffix[:n], target[:n]) < 0 {
			st = mid
		} else {
			en = mid
		}
	}
	x := matchLen(old[suffixAt(sa, old, st):], target)
	y := matchLen(old[suffixAt(sa, old, en):], target)
	if x > y {
		return suffixAt(sa, old, st), x
	}
	return suffixAt(sa, old, en), y
}

func diff(old, target []byte, sa []int32) diffResult {
	var out diffResult
	// Every target byte lands in exactly one of diff and extra: sized once, never regrown.
	out.diff = make([]byte, 0, len(target))
	out.extra = make([]byte, 0, len(target)/8)
	oldSize, newSize := len(old), len(target)
	scan, length, pos := 0, 0, 0
	lastScan, lastPos, lastOffset := 0, 0, 0
	for scan < newSize {
		oldScore := 0
		scan += length
		for scsc := scan; scan < newSize; scan++ {
			pos, length = search(sa, old, target[scan:], 0, oldSize)
			for ; scsc < scan+length; scsc++ {
				if scsc+lastOffset < oldSize && old[scsc+lastOffset] == target[scsc] {
					oldScore++
				}
			}
			if (length == oldScore && length != 0) || length > oldScore+8 {
				break
			}
			if scan+lastOffset < oldSize && old[scan+lastOffset] == target[scan] {
				oldScore--
			}
		}
		if length == oldScore && scan != newSize {
			continue
		}
		// Extend the previous match forwards and this one backwards, then split their overlap.
		s, bestF, lenF := 0, 0, 0
		for i := 0; lastScan+i < scan && lastPos+i < oldSize; {
			if old[lastPos+i] == target[lastScan+i] {
				s++
			}
			i++
			if s*2-i > bestF*2-lenF {
				bestF, lenF = s, i
			}
		}
		lenB := 0
		if scan < newSize {
			s, bestB := 0, 0
			for i := 1; scan >= lastScan+i && pos >= i; i++ {
				if old[pos-i] == target[scan-i] {
					s++
				}
				if s*2-i > bestB*2-lenB {
					bestB, lenB = s, i
				}
			}
		}
		if lastScan+lenF > scan-lenB {
			overlap := (lastScan + lenF) - (scan - lenB)
			s, bestS, lenS := 0, 0, 0
			for i := 0; i < overlap; i++ {
				if target[lastScan+lenF-overlap+i] == old[lastPos+lenF-overlap+i] {
					s++
				}
				if target[scan-lenB+i] == old[pos-lenB+i] {
					s--
				}
				if s > bestS {
					bestS, lenS = s, i+1
				}
			}
			lenF += lenS - overlap
			lenB -= lenS
		}
		for i := 0; i < lenF; i++ {
			out.diff = append(out.diff, target[lastScan+i]-old[lastPos+i])
		}
		extraLen := (scan - lenB) - (lastScan + lenF)
		out.extra = append(out.extra, target[lastScan+lenF:lastScan+lenF+extraLen]...)
		out.controls = append(out.controls, control{int64(lenF), int64(extraLen), int64((pos - lenB) - (lastPos + lenF))})
		lastScan, lastPos, lastOffset = scan-lenB, pos-lenB, pos-scan
	}
	return out
}
