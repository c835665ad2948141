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
// escapes. Records whose bytes could hide a literal always pass:
//
//   - text that is not JSON: base64 or gzip, which the decoder opens;
//   - JSON in which a key the decoder opens as text of its own (data,
//     message, Message, CloudTrailEvent: the Lambda awslogs.data, Firehose
//     records[].data, CloudWatch Logs logEvents[].message, SNS Message,
//     lookup-events' CloudTrailEvent) holds a string that could be base64,
//     of JSON or of gzip. The scan stops at these keys as at literals, so
//     a record without them costs nothing more;
//   - JSON holding \u or \/ after any backslashes, which could spell
//     anything at some depth of JSON in a string.
//
// JSON held in a string (a CloudWatch Logs message, an SNS Message, a
// CloudTrailEvent) needs no rule of its own: its quotes come escaped, \",
// so each of its values still follows a quote, and the escapes that could
// hide a literal are the ones above. Gzip cannot sit in a JSON string
// unencoded (its bytes are not UTF-8), so it is always under base64.
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
	id   int // envelopeKey: not a rule's literal
}

// envelopeKeys are the keys whose string values the decoder opens as text
// of their own (cloudtrail's nestedText): CloudWatch Logs logEvents[].message,
// the Lambda awslogs.data and Firehose records[].data, lookup-events'
// CloudTrailEvent, SNS Message. A value there that is not JSON text may be
// base64, of JSON or gzip, that no scan of the raw bytes can see into.
var envelopeKeys = []string{"data", "message", "Message", "CloudTrailEvent"}

// envelopeKey is the id of the envelope keys among the literals.
const envelopeKey = -1

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
						f.addStart(literal{l.Text, id})
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
	for _, k := range envelopeKeys {
		f.addStart(literal{k, envelopeKey})
	}
	f.fillBuckets()
	rep.Enabled = true
	return f, rep
}

// fillBuckets puts the literals of each first two bytes in one of the
// vector scan's eight buckets, the one whose stops it adds the fewest to:
// a bucket lets through every byte whose two nibbles it holds, so unlike
// literals sharing one pass triples neither begins with ("sig" and "mes"
// pass "ses"). Shared round robin, the seed rules and the envelope keys
// stopped the scan at every "session".
func (f *Filter) fillBuckets() {
	var alone [8]nibbles // each bucket's literals in bucket 0 of a table
	for _, lits := range f.starts {
		best, least := 0, -1
		for b := range alone {
			t := alone[b]
			for _, l := range lits {
				t.add(l.text, 0)
			}
			if more := passes(&t) - passes(&alone[b]); least < 0 || more < least {
				best, least = b, more
			}
		}
		for _, l := range lits {
			alone[best].add(l.text, 0)
			f.nib.add(l.text, best)
		}
	}
}

// passes counts the triples of printable bytes bucket 0 of t lets through.
func passes(t *nibbles) int {
	n := 1
	for k := range 3 {
		c := 0
		for ch := 0x20; ch < 0x7f; ch++ {
			if t[2*k][ch&15]&1 != 0 && t[2*k+1][ch>>4]&1 != 0 {
				c++
			}
		}
		n *= c
	}
	return n
}

// addStart files a literal that begins a JSON string under its first two
// bytes.
func (f *Filter) addStart(l literal) {
	k := key(l.text)
	if f.slot[k] == 0 {
		f.starts = append(f.starts, nil)
		f.slot[k] = uint16(len(f.starts))
	}
	f.starts[f.slot[k]-1] = append(f.starts[f.slot[k]-1], l)
	f.first2[k/64] |= 1 << (k % 64)
}

func placement(field string) kql.Placement {
	switch cloudtrail.PlacementOf(field) {
	case cloudtrail.Whole:
		return kql.Whole
	case cloudtrail.Substring:
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
		if !bytes.HasPrefix(b, []byte(l.text)) {
			continue
		}
		if l.id == envelopeKey {
			if encodedValue(b[len(l.text):]) {
				return true
			}
		} else if found(l.id) {
			return true
		}
	}
	return false
}

// encodedValue reports whether b, which follows a quote and an envelope
// key's name, could be the rest of that key and a string value that the
// decoder takes for base64. False when the name goes on ("database"), is
// a value ("bucketName":"data"), holds a non-string or JSON text (searched
// where it is, like the record), or text that is not base64
// ("HIDDEN_DUE_TO_SECURITY_REASONS"). Inside JSON that is itself in a
// string, quotes and whitespace come escaped; an escape it cannot place
// answers true, and \u and \/, which could spell anything, make hidden
// pass the record anyway.
func encodedValue(b []byte) bool {
	i := 0
	for i < len(b) && b[i] == '\\' {
		i++
	}
	if i == len(b) || b[i] != '"' {
		return false
	}
	colon := false
	for i++; i < len(b); i++ {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
		case ':':
			if colon {
				return false
			}
			colon = true
		case '\\':
			for i < len(b) && b[i] == '\\' {
				i++
			}
			switch {
			case i == len(b):
				return true
			case b[i] == '"':
				return colon && base64Text(b[i+1:])
			case b[i] != 'n' && b[i] != 't' && b[i] != 'r':
				return true
			}
		case '"':
			return colon && base64Text(b[i+1:])
		default:
			return false
		}
	}
	return false
}

// base64Text reports whether a string's text, b on, could be base64 once
// the decoder has trimmed its spaces: base64 characters up to the closing
// quote, or an escape. Bytes past ASCII may be Unicode spaces.
func base64Text(b []byte) bool {
	seen := false
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '+', c == '/', c == '=':
			seen = true
		case c == '"':
			return seen
		case c == '\\':
			return true
		case c == ' ', c == '\t', c == '\n', c == '\r', c == '\v', c == '\f', c >= 0x80:
		default:
			return false
		}
	}
	return true
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

// hidden reports escapes that could spell a literal's characters: \u or
// \/ after any number of backslashes, since in JSON held in a string
// (an SNS Message, a CloudTrailEvent) the inner text's \u reads \\u.
func hidden(raw []byte) bool {
	for b := raw; ; {
		i := bytes.IndexByte(b, '\\')
		if i < 0 || i+1 >= len(b) {
			return false
		}
		if c := b[i+1]; c == 'u' || c == '/' {
			return true
		}
		b = b[i+1:]
	}
}
