package main

/*
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "flbapi.h"
*/
import "C"

import (
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/newterms/newterms/internal/config"
)

// keysStatus is what FLBPluginRegister made of the config_map: whether
// Fluent Bit itself checks key names (5.1.1 on). Register runs before any
// instance exists; init reports it.
var keysStatus struct {
	sync.Mutex
	rc C.int
}

// keyNames are config.Keys() as C strings, made once: Fluent Bit keeps
// pointers to them for the life of the process.
var keyNames = sync.OnceValues(func() (**C.char, **C.char) {
	keys := config.Keys()
	names := (**C.char)(C.calloc(C.size_t(len(keys)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	descs := (**C.char)(C.calloc(C.size_t(len(keys)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	n, d := unsafe.Slice(names, len(keys)), unsafe.Slice(descs, len(keys))
	for i, k := range keys {
		n[i], d[i] = C.CString(k.Name), C.CString(k.Text())
	}
	return names, descs
})

// registerKeys hands Fluent Bit the plugin's keys, where it provably has
// the field for them (host.c).
func registerKeys(def unsafe.Pointer) {
	names, descs := keyNames()
	rc := C.nt_config_map(def, names, descs, C.int(len(config.Keys())))
	keysStatus.Lock()
	keysStatus.rc = rc
	keysStatus.Unlock()
}

// keysReport says, for the init log, who checks key names.
func keysReport(fbVersion string) string {
	keysStatus.Lock()
	rc := keysStatus.rc
	keysStatus.Unlock()
	switch rc {
	case C.NT_MAP_REGISTERED:
		if fbVersion != "" && versionBefore(fbVersion, 5, 1, 1) {
			return "the key list went into the registration's spare room, which Fluent Bit " + fbVersion + " ignores: unknown keys go unnoticed (run newterms config check)"
		}
		return "Fluent Bit checks key names (unknown keys fail the start and halt a reload)"
	case C.NT_MAP_NO_ROOM:
		return "unknown keys go unnoticed: this Fluent Bit has no config_map for Go plugins (5.1.1 has); run newterms config check"
	case C.NT_MAP_LAYOUT:
		return "unknown keys go unnoticed: this Fluent Bit's config_map layout is not the one known (5.1.1's); run newterms config check"
	case C.NT_MAP_NO_SYMBOLS:
		return "unknown keys go unnoticed: the host exports no flb_config_map_create; run newterms config check"
	}
	return "unknown keys go unnoticed: the key list could not be made"
}

// versionBefore compares a dotted version with major.minor.patch.
func versionBefore(v string, major, minor, patch int) bool {
	want := []int{major, minor, patch}
	parts := strings.SplitN(v, ".", 3)
	for i, w := range want {
		if i >= len(parts) {
			return true
		}
		n, err := strconv.Atoi(strings.TrimRightFunc(parts[i], func(r rune) bool { return r < '0' || r > '9' }))
		if err != nil {
			return false
		}
		if n != w {
			return n < w
		}
	}
	return false
}

// hostVersion is the Fluent Bit version, read on Fluent Bit's thread
// during init (host.c); "" when it cannot tell.
func hostVersion() string {
	var buf [64]C.char
	if C.nt_host_version(&buf[0], C.size_t(len(buf))) != 0 {
		return ""
	}
	return C.GoString(&buf[0])
}
