module github.com/newterms/newterms

go 1.26.0

require github.com/valyala/fastjson v1.6.10

require (
	github.com/maxmind/mmdbwriter v1.2.0 // indirect
	github.com/oschwald/maxminddb-golang/v2 v2.9.0 // indirect
	github.com/pelletier/go-toml/v2 v2.4.3 // indirect
	go4.org/netipx v0.0.0-20231129151722-fdeea329fbba // indirect
	golang.org/x/sys v0.49.0 // indirect
)

require (
	github.com/fluent/fluent-bit-go v0.0.0-20230731091245-a7a013e2473c
	github.com/ugorji/go/codec v1.1.7 // indirect
)
