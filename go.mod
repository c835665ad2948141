module github.com/newterms/newterms

go 1.26

require github.com/valyala/fastjson v1.6.10

require (
	github.com/fluent/fluent-bit-go v0.0.0-20230731091245-a7a013e2473c
	github.com/ugorji/go/codec v1.1.7 // indirect
)
