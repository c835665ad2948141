package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"
)

// unit is one input to decode: a line of NDJSON (or of base64), an element
// of a {"Records":[...]} document, or a whole document printed over
// several lines, with where it came from. data is valid only during the
// call that receives it.
type unit struct {
	name string
	line int
	elem int // the element of Records, or -1
	data []byte
}

func (u unit) where() string {
	if u.elem >= 0 {
		return fmt.Sprintf("%s:%d: Records[%d]", u.name, u.line, u.elem)
	}
	return fmt.Sprintf("%s:%d", u.name, u.line)
}

// reader reads inputs as a stream: memory holds one unit (at most
// maxSize+1 bytes) and the buffers, whatever the inputs' size.
type reader struct {
	maxSize int
	// note tells what a directory walk left out; nil says nothing.
	note func(format string, a ...any)
	// read counts the bytes read from files and stdin, as stored
	// (compressed or not), for the progress bar.
	read atomic.Int64
}

// readInputs calls fn for each unit in the named files and directories
// (recursively: see expand for the order), or in stdin when paths is empty
// or "-". .gz files and gzip content are decompressed as they are read.
// fn returns false to stop.
func (rd *reader) readInputs(paths []string, stdin io.Reader, fn func(unit) bool) error {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	for _, p := range paths {
		if p == "-" {
			if cont, err := rd.readStream("<stdin>", stdin, fn); !cont || err != nil {
				return err
			}
			continue
		}
		files, err := rd.expand(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			cont, err := rd.readFile(f, fn)
			if err != nil {
				return err
			}
			if !cont {
				return nil
			}
		}
	}
	return nil
}

// expand lists the files under p. A directory is walked recursively; the
// files of CloudTrail's S3 layout (AWSLogs/[org/]<account>/CloudTrail/
// <region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_
// <id>.json.gz) come in the order of the time their path gives, which is
// event-time order up to the few minutes a file spans; other files come
// first, in name order. Digest and Insights files (CloudTrail-Digest/,
// CloudTrail-Insight/) hold no API events: they are left out, with a note.
func (rd *reader) expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	type file struct {
		path string
		at   time.Time // zero: not in the layout
	}
	var files []file
	skipped := map[string]int{}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "CloudTrail-Digest" || d.Name() == "CloudTrail-Insight") {
			n := 0
			filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
				if err == nil && d.Type().IsRegular() {
					n++
				}
				return nil
			})
			skipped[d.Name()] += n
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			files = append(files, file{path, layoutTime(path)})
		}
		return nil
	})
	sort.SliceStable(files, func(i, j int) bool {
		a, b := files[i], files[j]
		if !a.at.Equal(b.at) {
			return a.at.Before(b.at)
		}
		return a.path < b.path
	})
	if rd.note != nil {
		if n := skipped["CloudTrail-Digest"]; n > 0 {
			rd.note("%s: skipped %d digest files (CloudTrail-Digest/): they hold hashes of log files, no events", p, n)
		}
		if n := skipped["CloudTrail-Insight"]; n > 0 {
			rd.note("%s: skipped %d Insights files (CloudTrail-Insight/): they hold Insights events, no API events", p, n)
		}
	}
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.path
	}
	return out, err
}

// layoutTime is the time a file of CloudTrail's S3 layout covers, from its
// path: the date of its directories, and the minute of its name when the
// name has one; zero for a file elsewhere.
func layoutTime(path string) time.Time {
	parts := strings.Split(filepath.ToSlash(path), "/")
	for i := len(parts) - 6; i >= 0; i-- {
		if parts[i] != "CloudTrail" {
			continue
		}
		y, e1 := strconv.Atoi(parts[i+2])
		m, e2 := strconv.Atoi(parts[i+3])
		d, e3 := strconv.Atoi(parts[i+4])
		if e1 != nil || e2 != nil || e3 != nil || len(parts[i+2]) != 4 || m < 1 || m > 12 || d < 1 || d > 31 {
			return time.Time{}
		}
		at := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
		// <account>_CloudTrail_<region>_20260102T0305Z_<id>.json.gz
		for _, f := range strings.Split(parts[len(parts)-1], "_") {
			if t, err := time.Parse("20060102T1504Z", f); err == nil && t.Truncate(24*time.Hour).Equal(at) {
				return t
			}
		}
		return at
	}
	return time.Time{}
}

func (rd *reader) readFile(path string, fn func(unit) bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return rd.readStream(path, f, fn)
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n *atomic.Int64
}

func (c counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readStream splits a stream into units (see scanner). A read error (a
// truncated gzip file) comes back after the units that arrived intact.
func (rd *reader) readStream(name string, r io.Reader, fn func(unit) bool) (bool, error) {
	br := bufio.NewReaderSize(counter{r, &rd.read}, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	s := scanner{br: br, max: rd.maxSize, name: name}
	cont, err := s.run(fn)
	if err != nil {
		err = fmt.Errorf("%s: %w", name, err)
	}
	return cont, err
}

func validJSON(b []byte) bool { return fastjson.ValidateBytes(b) == nil }
