package dav

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/davd/davd/storage"
)

// contentRange is a parsed Content-Range of a partial PUT (RFC 9110 §14.4, §14.5): the body
// replaces bytes first to last (inclusive) of the target; complete is the representation's whole
// length, or -1 for "*".
type contentRange struct {
	first, last, complete int64
}

// errRange is a Content-Range that is not a byte range a PUT can apply.
var errRange = errors.New("invalid Content-Range")

// parseContentRange parses "bytes first-last/complete" (complete may be "*"). The unsatisfied
// form "bytes */complete" describes no content and is refused, as are other units, signs,
// spaces inside the numbers and a last position at or past the complete length (§14.4: such a
// range is invalid).
func parseContentRange(v string) (contentRange, error) {
	unit, spec, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return contentRange{}, errRange
	}
	rng, total, ok := strings.Cut(strings.TrimLeft(spec, " "), "/")
	if !ok {
		return contentRange{}, errRange
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return contentRange{}, errRange
	}
	cr := contentRange{complete: -1}
	var err error
	if cr.first, err = parsePos(a); err != nil {
		return contentRange{}, err
	}
	if cr.last, err = parsePos(b); err != nil {
		return contentRange{}, err
	}
	if total != "*" {
		if cr.complete, err = parsePos(total); err != nil {
			return contentRange{}, err
		}
		if cr.last >= cr.complete {
			return contentRange{}, errRange
		}
	}
	if cr.last < cr.first {
		return contentRange{}, errRange
	}
	return cr, nil
}

// parsePos parses a non-negative decimal position: digits only, at most 18 of them (so that
// sums of positions cannot overflow an int64).
func parsePos(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, errRange
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errRange
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// rangeNotSatisfiable is the 416 of a partial PUT that would leave a hole: it starts past the
// current end. Content-Range "bytes */size" tells the client where to resume (RFC 9110
// §15.5.17).
func rangeNotSatisfiable(w http.ResponseWriter, size int64) error {
	w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(size, 10))
	return errStatus(http.StatusRequestedRangeNotSatisfiable, errors.New("Content-Range starts past the end"))
}

// spliced is the new content of a partial PUT, read once from start to end: the old content
// before the range, the body (exactly the range's length), and the old content after it, up to
// the new size. The storage's Put writes it like any body, so the replacement is as atomic as a
// whole PUT: readers see the old file or the new one, and a failure keeps the old one.
type spliced struct {
	old        storage.File // nil when there is no old content
	body       io.Reader
	cr         contentRange
	size       int64 // the new length
	pos        int64 // bytes produced so far
	tailSought bool
}

// newSize is the length after applying cr to content of length old: the range may extend the
// content; a known complete length cuts off whatever the old content had beyond it.
func (cr contentRange) newSize(old int64) int64 {
	n := max(old, cr.last+1)
	if cr.complete >= 0 && n > cr.complete {
		n = cr.complete
	}
	return n
}

// Read produces the new content in order: head, body, tail.
func (s *spliced) Read(p []byte) (int, error) {
	if s.pos >= s.size {
		return 0, io.EOF
	}
	switch {
	case s.pos < s.cr.first: // the head: old content before the range
		return s.readOld(p, s.cr.first)
	case s.pos <= s.cr.last: // the body
		if int64(len(p)) > s.cr.last+1-s.pos {
			p = p[:s.cr.last+1-s.pos]
		}
		n, err := s.body.Read(p)
		s.pos += int64(n)
		if s.pos <= s.cr.last {
			if err == io.EOF {
				return n, storage.ErrShortBody
			}
			return n, err
		}
		// The range is complete. The body must end here: a byte more is a body longer than
		// its Content-Range, and the whole PUT fails (checked now, whatever the storage reads
		// next, so that no backend can store a range whose body went on).
		if err == nil {
			var one [1]byte
			if m, _ := io.ReadFull(s.body, one[:]); m > 0 {
				return n, errStatus(http.StatusBadRequest, errors.New("PUT body longer than its Content-Range"))
			}
		}
		return n, nil
	default: // the tail: old content after the range, up to the new size
		if !s.tailSought {
			if _, err := s.old.Seek(s.pos, io.SeekStart); err != nil {
				return 0, err
			}
			s.tailSought = true
		}
		return s.readOld(p, s.size)
	}
}

// readOld reads old content up to position end (exclusive). The old content was measured by
// the Stat before: ending sooner means it changed meanwhile, and the PUT fails rather than store
// a mix.
func (s *spliced) readOld(p []byte, end int64) (int, error) {
	if int64(len(p)) > end-s.pos {
		p = p[:end-s.pos]
	}
	n, err := s.old.Read(p)
	s.pos += int64(n)
	if err == io.EOF {
		err = nil
		if s.pos < end {
			err = fmt.Errorf("partial PUT: the old content ended early: %w", io.ErrUnexpectedEOF)
		}
	}
	return n, err
}
