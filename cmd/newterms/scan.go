package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// scanner splits one decompressed stream into units without holding more
// than one of them: lines (NDJSON, base64), each element of a
// {"Records":[...]} document (CloudTrail's S3 files, on one line or
// pretty-printed), and a document printed over several lines. A unit is
// cut at max+1 bytes, so that the decoder reports it too large while
// memory stays bounded; the rest of it is read and dropped.
type scanner struct {
	br   *bufio.Reader
	max  int
	name string
	line int    // the line of the next byte, from 1
	buf  []byte // the unit being gathered, when it is not a slice of br's buffer
}

// errMalformed stops reading a Records array whose text is not JSON: what
// follows is read as lines.
var errMalformed = errors.New("malformed Records array")

func (s *scanner) run(fn func(unit) bool) (bool, error) {
	s.line = 1
	for {
		c, err := s.skip(false)
		if err != nil {
			return true, eofOK(err)
		}
		if c == '{' {
			if n := s.recordsAhead(); n > 0 {
				if cont, err := s.records(n, fn); !cont || err != nil {
					return cont, err
				}
				continue
			}
		}
		line := s.line
		data, err := s.readLine()
		if err != nil && !errors.Is(err, io.EOF) {
			if len(bytes.TrimSpace(data)) > 0 && !fn(unit{name: s.name, line: line, data: data, elem: -1}) {
				return false, nil
			}
			return true, err
		}
		// A line that ends by opening an object or an array begins a
		// document printed over several lines (json.Indent, jq, the AWS
		// CLI): read as one unit, up to the end of its value.
		if last := lastByte(data); (last == '{' || last == '[') && len(data) <= s.max {
			doc, rerr := s.valueFrom(data)
			if !s.emitDocument(line, doc, fn) {
				return false, nil
			}
			if rerr != nil {
				return true, eofOK(rerr)
			}
			continue
		}
		if !fn(unit{name: s.name, line: line, data: data, elem: -1}) {
			return false, nil
		}
		if err != nil {
			return true, nil
		}
	}
}

// emitDocument hands a multi-line document on as one unit; if it is not
// one JSON value after all (a broken first line of NDJSON), its lines go
// one by one, as they would have without the attempt.
func (s *scanner) emitDocument(line int, doc []byte, fn func(unit) bool) bool {
	if len(doc) > s.max || validJSON(doc) {
		return fn(unit{name: s.name, line: line, data: doc, elem: -1})
	}
	for i, l := range bytes.Split(doc, []byte("\n")) {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if !fn(unit{name: s.name, line: line + i, data: l, elem: -1}) {
			return false
		}
	}
	return true
}

func eofOK(err error) error {
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func lastByte(b []byte) byte {
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[len(b)-1]
}

// skip consumes white space (and commas, between elements) and returns
// the next byte, unread.
func (s *scanner) skip(commas bool) (byte, error) {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return 0, err
		}
		switch {
		case c == '\n':
			s.line++
		case c == ' ' || c == '\t' || c == '\r' || commas && c == ',':
		default:
			s.br.UnreadByte()
			return c, nil
		}
	}
}

// readLine reads the rest of the line, without its newline. The result is
// valid until the next read.
func (s *scanner) readLine() ([]byte, error) {
	l, err := s.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		s.buf = append(s.buf[:0], l...)
		for errors.Is(err, bufio.ErrBufferFull) {
			l, err = s.br.ReadSlice('\n')
			if len(s.buf) <= s.max {
				s.buf = append(s.buf, l[:min(len(l), s.max+1-len(s.buf))]...)
			}
		}
		if err == nil { // l ends with the newline, which the cut may have left out
			s.buf = append(s.buf[:min(len(s.buf), s.max+1)], '\n')
		}
		l = s.buf
	}
	if len(l) > 0 && l[len(l)-1] == '\n' {
		s.line++
		l = l[:len(l)-1]
	}
	return l[:min(len(l), s.max+1)], err
}

// recordsAhead returns the length of `{"Records":[` (with any white space)
// at the reader, or 0.
func (s *scanner) recordsAhead() int {
	b, _ := s.br.Peek(min(256, s.br.Size()))
	i := 0
	next := func(want string) bool {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
			i++
		}
		if !bytes.HasPrefix(b[i:], []byte(want)) {
			return false
		}
		i += len(want)
		return true
	}
	if next("{") && next(`"Records"`) && next(":") && next("[") {
		return i
	}
	return 0
}

// records hands on each element of the Records array that begins n bytes
// ahead, then reads past the end of its object.
func (s *scanner) records(n int, fn func(unit) bool) (bool, error) {
	head, _ := s.br.Peek(n)
	s.line += bytes.Count(head, []byte("\n"))
	s.br.Discard(n)
	for elem := 0; ; elem++ {
		c, err := s.skip(true)
		if err != nil {
			return true, unexpected(err)
		}
		if c == ']' {
			s.br.ReadByte()
			break
		}
		line := s.line
		var data []byte
		switch c {
		case '{', '[':
			data, err = s.valueFrom(nil)
		default:
			data, err = s.scalar()
		}
		if err != nil && !errors.Is(err, errMalformed) {
			// A read error (a truncated file) inside the element: what
			// came of it is not a record.
			return true, unexpected(err)
		}
		if len(data) > 0 && !fn(unit{name: s.name, line: line, data: data, elem: elem}) {
			return false, nil
		}
		if errors.Is(err, errMalformed) {
			// Out of step with the text: hand on the rest of the line as
			// it is (the decoder names what is wrong) and go on by lines.
			l, err := s.readLine()
			if len(bytes.TrimSpace(l)) > 0 && !fn(unit{name: s.name, line: line, data: l, elem: -1}) {
				return false, nil
			}
			return true, eofOK(err)
		}
	}
	// The members after Records, if any, are read past: the decoder reads
	// no other member of such a document either.
	c, err := s.skip(false)
	if err != nil {
		return true, unexpected(err)
	}
	if c == '}' {
		s.br.ReadByte()
		return true, nil
	}
	st := valueScan{depth: 1}
	_, err = s.scan(&st, false)
	return true, unexpected(err)
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// scalar reads an array element that is not an object or an array: a
// string, a number, a literal (which the decoder will refuse). A byte
// that begins no value is errMalformed.
func (s *scanner) scalar() ([]byte, error) {
	s.buf = s.buf[:0]
	c, _ := s.br.ReadByte()
	if c == '"' {
		s.buf = append(s.buf, c)
		st := valueScan{inStr: true, depth: 0}
		return s.scanInto(&st)
	}
	if c == '}' || c == ':' {
		s.br.UnreadByte()
		return nil, errMalformed
	}
	s.buf = append(s.buf, c)
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return s.buf, err
		}
		if c == ',' || c == ']' || c == '}' || c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			s.br.UnreadByte()
			return s.buf, nil
		}
		if len(s.buf) <= s.max {
			s.buf = append(s.buf, c)
		}
	}
}

// valueFrom reads an object or an array whose first bytes, prefix, are
// read already (none: it begins at the reader).
func (s *scanner) valueFrom(prefix []byte) ([]byte, error) {
	var st valueScan
	if len(prefix) > 0 {
		s.buf = append(s.buf[:0], prefix...)
		s.buf = append(s.buf, '\n')
		if n, done := st.feed(s.buf); done {
			// The value ended on its first line after all.
			s.buf = s.buf[:n]
			return s.buf, nil
		}
	} else {
		s.buf = s.buf[:0]
	}
	return s.scanInto(&st)
}

func (s *scanner) scanInto(st *valueScan) ([]byte, error) {
	_, err := s.scan(st, true)
	return s.buf, err
}

// scan consumes the reader up to the end of the value st is in, keeping
// at most max+1 of its bytes in s.buf when keep is set.
func (s *scanner) scan(st *valueScan, keep bool) (bool, error) {
	for {
		if _, err := s.br.Peek(1); err != nil {
			return false, err
		}
		win, _ := s.br.Peek(s.br.Buffered())
		n, done := st.feed(win)
		s.line += bytes.Count(win[:n], []byte("\n"))
		if keep && len(s.buf) <= s.max {
			s.buf = append(s.buf, win[:min(n, s.max+1-len(s.buf))]...)
		}
		s.br.Discard(n)
		if done {
			return true, nil
		}
	}
}

// valueScan follows JSON's strings and brackets, byte by byte over
// windows of the text, to find where a value ends. It does not validate:
// the decoder does.
type valueScan struct {
	depth int
	inStr bool
	esc   bool // inside a string, an odd run of backslashes ended the last window
}

// feed scans b and returns how many of its bytes belong to the value, and
// whether the value ended there.
func (v *valueScan) feed(b []byte) (int, bool) {
	i := 0
	for i < len(b) {
		if v.inStr {
			k := bytes.IndexByte(b[i:], '"')
			if k < 0 {
				v.esc = oddRun(b[i:], v.esc)
				return len(b), false
			}
			escaped := oddRun(b[i:i+k], v.esc)
			v.esc = false
			i += k + 1
			if !escaped {
				v.inStr = false
				if v.depth == 0 { // a string on its own (an element)
					return i, true
				}
			}
			continue
		}
		switch b[i] {
		case '"':
			v.inStr = true
		case '{', '[':
			v.depth++
		case '}', ']':
			v.depth--
			if v.depth <= 0 {
				return i + 1, true
			}
		}
		i++
	}
	return i, false
}

// oddRun reports whether b ends with an odd number of backslashes, given
// whether the text before b did (carry).
func oddRun(b []byte, carry bool) bool {
	n := 0
	for n < len(b) && b[len(b)-1-n] == '\\' {
		n++
	}
	if n == len(b) {
		return carry != (n%2 == 1)
	}
	return n%2 == 1
}
