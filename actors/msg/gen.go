// Package msg holds the protobuf messages of Latch's grains. The generated latch.pb.go is
// committed so `go build` needs no protoc; regenerate with
//
//	PATH="$PATH:$(go env GOPATH)/bin" go generate ./actors/msg
package msg

//go:generate sh -c "protoc --go_out=. --go_opt=paths=source_relative *.proto"
