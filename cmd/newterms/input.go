package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/valyala/fastjson"
)

// unit is one input to decode: a line of NDJSON (or of base64), or a whole
// pretty-printed JSON document, with where it came from.
type unit struct {
	name string
	line int
	data []byte
}

// readInputs calls fn for each unit in the named files and directories
// (recursively, in name order), or in stdin when paths is empty or "-".
// .gz files and gzip content are decompressed. fn returns false to stop.
func readInputs(paths []string, stdin io.Reader, fn func(unit) bool) error {
	if len(paths) == 0 {
		paths = []string{"-"}
	}
	for _, p := range paths {
		if p == "-" {
			if cont, err := readStream("<stdin>", stdin, fn); !cont || err != nil {
				return err
			}
			continue
		}
		files, err := expand(p)
		if err != nil {
			return err
		}
		for _, f := range files {
			cont, err := readFile(f, fn)
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

func expand(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, path)
		}
		return nil
	})
	sort.Strings(files)
	return files, err
}

func readFile(path string, fn func(unit) bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	return readStream(path, f, fn)
}

// readStream splits a stream into units. It reads line by line unless the
// first line is an incomplete JSON value (a pretty-printed document), in
// which case the whole stream is one unit. A read error (a truncated gzip
// file) comes back after the units that arrived intact.
func readStream(name string, r io.Reader, fn func(unit) bool) (bool, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return false, fmt.Errorf("%s: %w", name, err)
		}
		defer zr.Close()
		src = zr
	}
	data, readErr := io.ReadAll(src)
	if readErr != nil {
		readErr = fmt.Errorf("%s: %w", name, readErr)
	}
	first := bytes.TrimSpace(firstLine(data))
	if len(first) > 0 && (first[0] == '{' || first[0] == '[') && fastjson.ValidateBytes(first) != nil &&
		fastjson.ValidateBytes(data) == nil {
		return fn(unit{name: name, line: 1, data: data}), readErr
	}
	line := 0
	for len(data) > 0 {
		line++
		l := firstLine(data)
		data = data[min(len(l)+1, len(data)):]
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if !fn(unit{name: name, line: line, data: l}) {
			return false, readErr
		}
	}
	return true, readErr
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
