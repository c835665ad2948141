// Package prefilter decides, from a record's raw bytes and before any
// parsing, that no rule can match it. Most CloudTrail records match no
// rule; reading their bytes once is far cheaper than parsing them.
//
// Every rule yields literals, one of which a record must contain for the
// rule to match (kql.Query.Literals): most often the values its query
// requires of event.action. All rules' literals form one matcher. A record
// passes when it holds any of them; a rule from which no literal can be
// derived turns the prefilter off, and the report says which.
//
// Most literals begin a JSON string. On amd64 with AVX2 a vector scan
// (Teddy, on the three bytes after each quote; scan_amd64.s) finds the few
// quotes that could open one, 64 bytes a round, and notes backslashes on
// the way; elsewhere a loop visits every quote. Both end in the same exact
// test. Not a library: the Aho-Corasick packages the module proxy serves
// took 0.69-8.1 µs on a 1.5 KB record with conf/rules' literals (coregx,
// cloudflare, petar-dambovaliev; the fastest only says whether any literal
// is there), against 0.15 µs for this scan.
//
// Exactness: literals are only taken from fields whose values are copied
// verbatim from the record, and never numbers, booleans, or text JSON
// escapes. Records the bytes could hide a literal in always pass: text
// that is not JSON (base64, gzip), and JSON holding \u or \/ escapes.
package prefilter

import (
	"bytes"
	"fmt"
	"math/bits"

	"github.com/newterms/newterms/internal/cloudtrail"
	"github.com/newterms/newterms/internal/kql"
	"github.com/newterms/newterms/internal/rules"
)

// Filter is immutable and safe for concurrent use.
type Filter struct {
	// starts holds the literals that begin a JSON string; slot maps their
	// first two bytes to 1 + an index in starts (0: none). subs may be
	// anywhere. Each literal has an id, a bit in the set a scan fills.
	first2 [1 << 16 / 64]uint64 // which slots are used: a table that stays in L1
	slot   [1 << 16]uint16
	starts [][]literal
	nib    nibbles
	subs   []literal
	n      int
	// rules: a record passes when, for some rule, every clause has a
	// literal the record holds.
	rules [][][]int
}

type literal struct {
	text string
	id   int
}

// nibbles are the Teddy tables of the vector scan (scan_amd64.s): for the
// k-th byte after a quote (k = 1..3), lo[k] and hi[k] map a nibble to the
// buckets (bits) of the literals whose byte k-1 has that nibble; a byte is
// in a bucket when both of its nibbles are. Each 16-byte table is written
// twice, once per 128-bit lane.
type nibbles [6][32]byte

// add puts a literal that starts a string into bucket (0..7).
func (t *nibbles) add(text string, bucket int) {
	bit := byte(1) << bucket
	for k := range 3 {
		lo, hi := &t[2*k], &t[2*k+1]
		if k >= len(text) {
			for i := range lo {
				lo[i] |= bit
				hi[i] |= bit
			}
			continue
		}
		c := text[k]
		lo[c&15] |= bit
		lo[16+c&15] |= bit
		hi[c>>4] |= bit
		hi[16+c>>4] |= bit
	}
}

// maxLiterals bounds the set a scan fills on the stack.
const maxLiterals = 1024

// Report says what the prefilter was built from.
type Report struct {
	Enabled  bool
	Literals int
	// Unfiltered names the rules no literal could be derived from.
	Unfiltered []string
}

// Build derives the filter from a rule set; nil when a rule defeats it.
func Build(set *rules.Set) (*Filter, Report) {
	f := &Filter{}
	ids := map[kql.Literal]int{}
	var rep Report
	for _, r := range set.Rules() {
		clauses, ok := r.Compiled().Literals(placement)
		if !ok {
			rep.Unfiltered = append(rep.Unfiltered, fmt.Sprintf("%q: no literal in its query (negations, ranges or computed fields only)", r.Name))
			continue
		}
		var rc [][]int
		for _, c := range clauses {
			var ci []int
			for _, l := range c {
				if !l.AtStart && len(l.Text) < 3 {
					continue
				}
				id, seen := ids[l]
				if !seen {
					id = f.n
					ids[l] = id
					f.n++
					if l.AtStart {
						k := key(l.Text)
						if f.slot[k] == 0 {
							f.starts = append(f.starts, nil)
							f.slot[k] = uint16(len(f.starts))
						}
						// One bucket per first two bytes, shared round
						// robin: the vector scan then only stops where
						// a known pair could begin.
						f.nib.add(l.Text, int(f.slot[k]-1)%8)
						f.starts[f.slot[k]-1] = append(f.starts[f.slot[k]-1], literal{l.Text, id})
						f.first2[k/64] |= 1 << (k % 64)
					} else {
						f.subs = append(f.subs, literal{l.Text, id})
					}
				}
				ci = append(ci, id)
			}
			if len(ci) == len(c) {
				rc = append(rc, ci)
			}
		}
		if len(rc) == 0 {
			rep.Unfiltered = append(rep.Unfiltered, fmt.Sprintf("%q: its literals are too short to look for", r.Name))
			continue
		}
		f.rules = append(f.rules, rc)
	}
	rep.Literals = f.n
	if len(rep.Unfiltered) > 0 || len(set.Rules()) == 0 || f.n > maxLiterals {
		if f.n > maxLiterals {
			rep.Unfiltered = append(rep.Unfiltered, fmt.Sprintf("%d literals, more than the %d a scan holds", f.n, maxLiterals))
		}
		return nil, rep
	}
	rep.Enabled = true
	return f, rep
}

func placement(field string) kql.Placement {
	switch cloudtrail.Placement(field) {
	case "whole":
		return kql.Whole
	case "substring":
		return kql.Substring
	}
	return kql.None
}

func key(s string) uint16 { return uint16(s[0])<<8 | uint16(s[1]) }

// MayMatch reports whether a rule could match the record; false means it
// certainly cannot. A nil Filter passes everything.
func (f *Filter) MayMatch(raw []byte) bool {
	if f == nil {
		return true
	}
	i := 0
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\t' || raw[i] == '\n' || raw[i] == '\r') {
		i++
	}
	if i == len(raw) || (raw[i] != '{' && raw[i] != '[') {
		return true // not JSON text: an encoded envelope
	}
	var present [maxLiterals / 64]uint64
	// found marks a literal and reports whether some rule is now met, so
	// that a record that matches stops the scan early.
	found := func(id int) bool {
		if present[id/64]&(1<<(id%64)) != 0 {
			return false
		}
		present[id/64] |= 1 << (id % 64)
		for _, clauses := range f.rules {
			if satisfied(clauses, &present) {
				return true
			}
		}
		return false
	}
	for _, s := range f.subs {
		if bytes.Contains(raw, []byte(s.text)) && found(s.id) {
			return true
		}
	}
	// Every quote may open a string: the vector scan finds the quotes whose
	// next bytes could begin a literal, and backslashes on the way; the
	// quote loop takes the rest.
	vector := haveSIMD && len(f.starts) > 0
	esc := false
	for vector {
		off, mask, e := scanAVX2(&f.nib, raw[i:])
		esc = esc || e
		i += off
		if mask == 0 {
			break
		}
		for ; mask != 0; mask &= mask - 1 {
			if f.startsAt(raw[i+bits.TrailingZeros64(mask)+1:], found) {
				return true
			}
		}
		i += 64
	}
	for b := raw[i:]; ; {
		q := bytes.IndexByte(b, '"')
		if q < 0 {
			break
		}
		b = b[q+1:]
		if f.startsAt(b, found) {
			return true
		}
	}
	// No rule is met, unless escapes hide a literal: then parse.
	if vector && !esc && bytes.IndexByte(raw[i:], '\\') < 0 {
		return false
	}
	return hidden(raw)
}

// startsAt tests the literals that could begin b, which follows a quote.
func (f *Filter) startsAt(b []byte, found func(int) bool) bool {
	if len(b) < 2 {
		return false
	}
	k := uint16(b[0])<<8 | uint16(b[1])
	if f.first2[k/64]&(1<<(k%64)) == 0 {
		return false
	}
	for _, l := range f.starts[f.slot[k]-1] {
		if bytes.HasPrefix(b, []byte(l.text)) && found(l.id) {
			return true
		}
	}
	return false
}

func satisfied(clauses [][]int, present *[maxLiterals / 64]uint64) bool {
	for _, c := range clauses {
		hit := false
		for _, id := range c {
			if present[id/64]&(1<<(id%64)) != 0 {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// hidden reports escapes that could spell a literal's characters.
func hidden(raw []byte) bool {
	for b := raw; ; {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		if c := b[i+1]; c == 'u' || c == '/' {
			return true
		}
		b = b[i+2:]
	}
}
