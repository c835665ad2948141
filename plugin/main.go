// Command plugin is the Fluent Bit output plugin, built with
// -buildmode=c-shared into out_newterms.so. It is a thin shell: Fluent Bit's
// calls come in here and go straight to internal packages. No panic may
// cross back into Fluent Bit, so every export recovers.
package main

import "C"

import (
	"fmt"
	"os"
	"runtime/debug"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"

	"github.com/newterms/newterms/internal/asn"
	"github.com/newterms/newterms/internal/config"
	"github.com/newterms/newterms/internal/rules"
)

// instance is the state of one [OUTPUT] section.
type instance struct {
	cfg   config.Config
	asn   *asn.DB // nil: enrichment off
	rules *rules.Set
}

//export FLBPluginRegister
func FLBPluginRegister(def unsafe.Pointer) (rc int) {
	defer guard("register", &rc)
	return output.FLBPluginRegister(def, "newterms", "First-seen (New Terms) detection on AWS CloudTrail")
}

//export FLBPluginInit
func FLBPluginInit(plugin unsafe.Pointer) (rc int) {
	defer guard("init", &rc)
	cfg, err := config.FromLookup(func(key string) string { return output.FLBPluginConfigKey(plugin, key) })
	if err != nil {
		logf("error", "%v", err)
		return output.FLB_ERROR
	}
	inst := &instance{cfg: cfg}
	if inst.rules, err = loadRules(cfg); err != nil {
		logf("error", "%v", err)
		return output.FLB_ERROR
	}
	if cfg.ASNDatabase != "" {
		inst.asn, err = asn.Open(cfg.ASNDatabase, asn.Options{
			ReloadInterval: cfg.ASNReloadInterval,
			Logf:           func(format string, args ...any) { logf("info", format, args...) },
		})
		if err != nil {
			logf("error", "asn_database: %v", err)
			return output.FLB_ERROR
		}
	}
	output.FLBPluginSetContext(plugin, inst)
	return output.FLB_OK
}

//export FLBPluginFlushCtx
func FLBPluginFlushCtx(ctx, data unsafe.Pointer, length C.int, tag *C.char) (rc int) {
	defer guard("flush", &rc)
	if _, ok := output.FLBPluginGetContext(ctx).(*instance); !ok {
		logf("error", "flush for an instance that did not initialise")
		return output.FLB_ERROR
	}
	// Detection arrives with the engine; until then records are accepted
	// and dropped.
	return output.FLB_OK
}

//export FLBPluginExitCtx
func FLBPluginExitCtx(ctx unsafe.Pointer) (rc int) {
	defer guard("exit", &rc)
	if inst, ok := output.FLBPluginGetContext(ctx).(*instance); ok {
		inst.asn.Close()
	}
	return output.FLB_OK
}

// loadRules loads the configured rules; a rule that fails to load fails init,
// as does having no rule at all.
func loadRules(cfg config.Config) (*rules.Set, error) {
	var extra []*rules.Rule
	if cfg.Inline != nil {
		extra = append(extra, cfg.Inline)
	}
	set, rep, err := rules.LoadWith(extra, cfg.Rules...)
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	for _, s := range rep.Skipped {
		logf("info", "rule skipped: %s: %q: %s", s.File, s.Name, s.Reason)
	}
	for _, n := range rep.Notes {
		logf("warn", "%s", n)
	}
	if len(rep.Failed) > 0 {
		for _, f := range rep.Failed {
			logf("error", "rule failed: %s", f.Error())
		}
		return nil, fmt.Errorf("rules: %d rule files failed to load", len(rep.Failed))
	}
	if len(set.Rules()) == 0 {
		return nil, fmt.Errorf("rules: no rule loaded: set rules (files or directories) or the rule_* keys")
	}
	logf("info", "%d rules loaded", len(set.Rules()))
	return set, nil
}

// guard turns a panic into a logged FLB_ERROR.
func guard(where string, rc *int) {
	if r := recover(); r != nil {
		logf("error", "panic in %s: %v\n%s", where, r, debug.Stack())
		*rc = output.FLB_ERROR
	}
}

func logf(level, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%s] [output:newterms] %s\n", level, fmt.Sprintf(format, args...))
}

func main() {}
