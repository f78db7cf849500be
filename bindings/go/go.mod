module github.com/stateful-executor/stateful-executor/bindings/go

go 1.22
