// Package clusterpb holds the cluster-private protobuf messages of package cluster. The
// generated latch_cluster.pb.go is committed; regenerate with
//
//	PATH="$PATH:$(go env GOPATH)/bin" go generate ./cluster/clusterpb
package clusterpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative latch_cluster.proto
