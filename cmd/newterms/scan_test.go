package main

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
)

func scanAll(t testing.TB, in string, max int) (units []string, err error) {
	s := scanner{br: bufio.NewReaderSize(strings.NewReader(in), 32), max: max, name: "in"}
	_, err = s.run(func(u unit) bool {
		units = append(units, fmt.Sprintf("%d/%d %s", u.line, u.elem, u.data))
		return true
	})
	return units, err
}

// The scanner's units: "line/element data" (element -1: not in Records).
// The reader's buffer is 32 bytes, so that units span many windows.
func TestScanner(t *testing.T) {
	cases := []struct {
		name string
		in   string
		max  int
		want []string
		err  string
	}{
		{"ndjson", "{\"a\":1}\n\n  \n{\"b\":\"x\\\"y\"}\r\n{\"c\":3}", 100, []string{`1/-1 {"a":1}`, "4/-1 {\"b\":\"x\\\"y\"}\r", `5/-1 {"c":3}`}, ""},
		{"base64 lines", "eyJhIjoxfQ==\neyJiIjoyfQ==\n", 100, []string{"1/-1 eyJhIjoxfQ==", "2/-1 eyJiIjoyfQ=="}, ""},
		{"records on one line", `{"Records":[{"a":"]}"},{"b":[1,{"c":"\\\\"}]}]}` + "\n" + `{"d":1}`, 100,
			[]string{`1/0 {"a":"]}"}`, `1/1 {"b":[1,{"c":"\\\\"}]}`, `2/-1 {"d":1}`}, ""},
		{"records pretty", "{\n  \"Records\" : [\n    {\n      \"a\": 1\n    },\n    {\"b\": 2}\n  ]\n}\n", 100,
			[]string{"3/0 {\n      \"a\": 1\n    }", "6/1 {\"b\": 2}"}, ""},
		{"members after records", `{"Records":[{"a":1}],"x":{"y":"}"}}` + "\n{\"z\":1}\n", 100, []string{`1/0 {"a":1}`, `2/-1 {"z":1}`}, ""},
		{"empty records", `{"Records":[]}`, 100, nil, ""},
		{"scalars in records", `{"Records":["s\"]",12,true,{"a":1}]}`, 100, []string{`1/0 "s\"]"`, "1/1 12", "1/2 true", `1/3 {"a":1}`}, ""},
		{"truncated records", `{"Records":[{"a":1},{"b":`, 100, []string{`1/0 {"a":1}`}, "unexpected EOF"},
		{"malformed records", `{"Records":[{"a":1},}` + "\n{\"b\":1}\n", 100, []string{`1/0 {"a":1}`, "1/-1 }", `2/-1 {"b":1}`}, ""},
		{"document", "{\n  \"eventVersion\": \"1.08\",\n  \"x\": [\n    1\n  ]\n}\n{\"b\":1}\n", 100,
			[]string{"1/-1 {\n  \"eventVersion\": \"1.08\",\n  \"x\": [\n    1\n  ]\n}", `7/-1 {"b":1}`}, ""},
		{"broken first line", "{\"a\":[\n{\"b\":1}\n{\"c\":2}\n", 100, []string{`1/-1 {"a":[`, `2/-1 {"b":1}`, `3/-1 {"c":2}`}, ""},
		{"line too long", "{\"a\":\"0123456789\"}\n{\"b\":1}\n", 8, []string{`1/-1 {"a":"012`, `2/-1 {"b":1}`}, ""},
		{"element too long", `{"Records":[{"a":"0123456789"},{"b":1}]}`, 8, []string{`1/0 {"a":"012`, `1/1 {"b":1}`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := scanAll(t, c.in, c.max)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("units\n%q\nwant\n%q", got, c.want)
			}
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Errorf("error %v, want %q", err, c.err)
			}
		})
	}
}

// FuzzScanner: any input ends, with units of at most max+1 bytes; NDJSON
// of lines that neither open a Records array nor end in a bracket comes
// out line for line.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{"{\"a\":1}\n{\"b\":2}", `{"Records":[{"a":"]"},[1]]}`, "{\n\"Records\":[\n\"x\\\\\",{}]\n}", "[\n{\"a\":\n", `{"Records":[,,}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s := scanner{br: bufio.NewReaderSize(strings.NewReader(in), 16), max: 64, name: "in"}
		n := 0
		s.run(func(u unit) bool {
			if len(u.data) > 65 {
				t.Fatalf("a unit of %d bytes", len(u.data))
			}
			n++
			return true
		})
		if n > len(in) {
			t.Fatalf("%d units from %d bytes", n, len(in))
		}
	})
}
