package kql

// Kind tells which of a Value's forms is its own.
type Kind uint8

const (
	String Kind = iota + 1
	Number
	Bool
)

func (k Kind) String() string {
	switch k {
	case String:
		return "string"
	case Number:
		return "number"
	case Bool:
		return "bool"
	}
	return "invalid"
}

// Value is one value of a document's field, as the evaluator reads it. Str
// always holds the text form (a number as written, "true"/"false"), which
// keyword, IP, date and boolean tests compare; Num holds a Number's value,
// which numeric tests compare. There is no null: as in Elasticsearch, where
// null is not indexed, a field whose value is null has no values at all.
//
// Str may borrow the document's buffers: the evaluator never keeps it.
type Value struct {
	Kind Kind
	Str  string
	Num  float64
}

// StringValue is a Value of kind String.
func StringValue(s string) Value { return Value{Kind: String, Str: s} }

// Source is the document a query is matched against: the values of each
// field, by the ids that the Resolver handed out at compile time. No
// values means the field is missing.
type Source interface {
	Values(id int) []Value
}
