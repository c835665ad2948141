// Package logx is how the packages below the programs report what happens
// in the background: a function the program supplies (Fluent Bit's logger
// in the plugin, stderr in the CLI), with a level, and conditions that are
// logged once when they begin and once when they clear, however often
// they are seen in between.
package logx

import "sync"

// Level is a message's severity, as Fluent Bit's logger has them.
type Level int

const (
	Error Level = iota + 1
	Warn
	Info
)

func (l Level) String() string {
	switch l {
	case Error:
		return "error"
	case Warn:
		return "warn"
	}
	return "info"
}

// Func receives messages; a nil Func discards them.
type Func func(level Level, format string, args ...any)

func (f Func) Errorf(format string, args ...any) { f.log(Error, format, args) }
func (f Func) Warnf(format string, args ...any)  { f.log(Warn, format, args) }
func (f Func) Infof(format string, args ...any)  { f.log(Info, format, args) }

func (f Func) log(l Level, format string, args []any) {
	if f != nil {
		f(l, format, args...)
	}
}

// Condition is a failure that persists (a full disk, a bad database
// file, a receiver down): Fail logs it at error level when it begins,
// Clear logs at info when it ends. Safe for concurrent use.
type Condition struct {
	mu      sync.Mutex
	failing bool
}

// Fail reports the condition; only the first call of a run of failures
// logs. It says whether this call logged.
func (c *Condition) Fail(f Func, format string, args ...any) bool {
	c.mu.Lock()
	first := !c.failing
	c.failing = true
	c.mu.Unlock()
	if first {
		f.Errorf(format, args...)
	}
	return first
}

// Clear ends the condition; it logs only if the condition was failing.
func (c *Condition) Clear(f Func, format string, args ...any) {
	c.mu.Lock()
	was := c.failing
	c.failing = false
	c.mu.Unlock()
	if was {
		f.Infof(format, args...)
	}
}

// Failing says whether the condition holds.
func (c *Condition) Failing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failing
}
