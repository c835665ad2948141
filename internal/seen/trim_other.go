//go:build !(cgo && linux)

package seen

func trimCHeap() {}
