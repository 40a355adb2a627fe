#!/usr/bin/env bash
# Regenerates the Go code of the KServe v2 gRPC protocol
# (engine/kserve/kservepb/*.pb.go) from grpc_predict_v2.proto with Debian's
# protoc, protoc-gen-go and protoc-gen-go-grpc. The generated files are
# committed: building facelive needs none of these tools.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in protoc protoc-gen-go protoc-gen-go-grpc; do
	if ! command -v "$tool" >/dev/null; then
		echo "gen-proto: $tool missing; apt-get install -y protobuf-compiler protoc-gen-go protoc-gen-go-grpc" >&2
		exit 1
	fi
done
dir=engine/kserve/kservepb
protoc -I "$dir" \
	--go_out="$dir" --go_opt=paths=source_relative \
	--go-grpc_out="$dir" --go-grpc_opt=paths=source_relative \
	"$dir/grpc_predict_v2.proto"
echo "gen-proto: $dir regenerated ($(protoc --version))"
