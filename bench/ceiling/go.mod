module github.com/davd/davd/bench/ceiling

go 1.26.8
