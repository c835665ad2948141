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
			if !readStream("<stdin>", stdin, fn) {
				return nil
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
	return readStream(path, f, fn), nil
}

// readStream splits a stream into units. It reads line by line unless the
// first line is an incomplete JSON value (a pretty-printed document), in
// which case the whole stream is one unit.
func readStream(name string, r io.Reader, fn func(unit) bool) bool {
	br := bufio.NewReaderSize(r, 1<<20)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fn(unit{name: name, line: 1, data: []byte{0x1f, 0x8b}})
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	data, err := io.ReadAll(br)
	if err != nil {
		// A truncated gzip stream: hand over what arrived; the decoder
		// reports what is wrong with it.
		fmt.Fprintf(os.Stderr, "newterms: %s: %v\n", name, err)
	}
	first := bytes.TrimSpace(firstLine(data))
	if len(first) > 0 && (first[0] == '{' || first[0] == '[') && fastjson.ValidateBytes(first) != nil &&
		fastjson.ValidateBytes(data) == nil {
		return fn(unit{name: name, line: 1, data: data})
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
			return false
		}
	}
	return true
}

func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i]
	}
	return b
}
