module github.com/davd/davd

go 1.26.8
