// Package rules loads New Terms rules, in the TOML layout of Elastic's
// detection-rules repository or inline from configuration, compiles their
// KQL queries, and matches them against CloudTrail events, testing each
// event only against the rules that can match it.
package rules

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/newterms/newterms/internal/kql"
)

// Rule is one New Terms rule, with the metadata that alerts carry.
type Rule struct {
	ID          string
	Name        string
	Description string
	Severity    string
	RiskScore   int
	Tags        []string
	Threat      []Threat
	Query       string
	// Fields are the new_terms fields, 1 to 3.
	Fields []string
	// Window is the history window; WindowText as written ("now-10d").
	Window     time.Duration
	WindowText string
	// Key identifies the rule's seen state: rule_id plus a hash of query,
	// fields and window, so that an edited rule starts afresh.
	Key string
	// File is where the rule came from ("" for an inline rule).
	File string

	query    *kql.Query
	fieldIDs []int
}

// Threat is one MITRE ATT&CK mapping of the rule.
type Threat struct {
	Framework  string      `json:"framework"`
	Tactic     Ref         `json:"tactic"`
	Techniques []Technique `json:"technique,omitempty"`
}

// Ref names a tactic, technique or sub-technique.
type Ref struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Reference string `json:"reference,omitempty"`
}

// Technique is a technique with its sub-techniques.
type Technique struct {
	Ref
	Subtechniques []Ref `json:"subtechnique,omitempty"`
}

// Compiled is the rule's compiled query.
func (r *Rule) Compiled() *kql.Query { return r.query }

// NeedsASN reports whether the rule reads source.as.* fields, which exist
// only with an ASN database.
func (r *Rule) NeedsASN() bool {
	for _, f := range slices.Concat(r.query.Fields(), r.Fields) {
		if strings.HasPrefix(f, "source.as.") {
			return true
		}
	}
	return false
}

// key computes the state identity of a rule.
func key(id, query string, fields []string, window time.Duration) string {
	h := sha256.New()
	h.Write([]byte(query))
	for _, f := range fields {
		h.Write([]byte{0})
		h.Write([]byte(f))
	}
	h.Write([]byte{0})
	h.Write([]byte(strconv.FormatInt(int64(window/time.Second), 10)))
	return id + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

// ParseWindow reads a history window start such as "now-10d" (units s, m,
// h, d, w), or a bare duration ("10d", "240h").
func ParseWindow(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	t = strings.TrimPrefix(t, "now-")
	if len(t) < 2 {
		return 0, fmt.Errorf("history window %q: want now-<n><unit>, unit one of s, m, h, d, w", s)
	}
	n, err := strconv.Atoi(t[:len(t)-1])
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("history window %q: want now-<n><unit> with a positive whole n", s)
	}
	unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[t[len(t)-1]]
	if unit == 0 {
		return 0, fmt.Errorf("history window %q: unit %q is not one of s, m, h, d, w", s, t[len(t)-1:])
	}
	return time.Duration(n) * unit, nil
}
