module github.com/davd/davd

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/studio-b12/gowebdav v0.13.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
	golang.org/x/term v0.47.0
)
