package cluster

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/latchid/latch/cluster/clusterpb"
)

// Unknown message types (CONVENTIONS.md: "a node that receives a type it does not know
// must not crash").
//
// protoactor-go's remote/proto_serializer.go looks the wire type name up in
// protoregistry.GlobalTypes and calls New() on the result without checking it, so a
// message type this binary does not link (sent by a newer release) is a nil-pointer
// panic in the gRPC stream handler: the whole process dies. The endpoint writer always
// uses serializer id 0 (the proto serializer), so registering another serializer cannot
// help, and the serializer table is package state we cannot replace.
//
// The guard sits where we can reach: a gRPC stream interceptor on the remoting server
// (remote.Config.ServerOptions). It wraps the stream so that every received
// MessageBatch is checked before protoactor's endpoint reader sees it:
//   - an envelope whose type is not registered here is rewritten into a
//     clusterpb.Unsupported{type_name}, which every grain (unsupportedMiddleware) and the
//     placement actor answer with the same message, so the sender fails fast with
//     ErrUnsupported instead of timing out;
//   - an envelope whose type, target, sender or serializer index is out of range (which
//     would also panic in the endpoint reader) is dropped and logged;
//   - as a last resort, a panic in the handler is recovered: the stream closes, the
//     peer reconnects, and the process keeps serving.

// guardInterceptor returns the stream interceptor described above.
func guardInterceptor(logger *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				logger.Error("recovered from a panic while reading from a peer; closing its stream",
					"method", info.FullMethod, "panic", fmt.Sprint(r))
				err = status.Error(codes.Internal, "latch: message handling failed")
			}
		}()
		return handler(srv, &guardedStream{ServerStream: ss, logger: logger})
	}
}

// guardedStream checks every received RemoteMessage. grpc-go calls RecvMsg from the
// handler goroutine only.
type guardedStream struct {
	grpc.ServerStream
	logger *slog.Logger
}

func (g *guardedStream) RecvMsg(m any) error {
	if err := g.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if rm, ok := m.(*remote.RemoteMessage); ok {
		if b := rm.GetMessageBatch(); b != nil {
			sanitizeBatch(b, g.logger)
		}
	}
	return nil
}

// unsupportedTypeName is the wire name of clusterpb.Unsupported.
var unsupportedTypeName = string(proto.MessageName(&clusterpb.Unsupported{}))

// numSerializers is how many serializers protoactor-go registers at init (proto, json).
const numSerializers = 2

// sanitizeBatch rewrites unknown message types into clusterpb.Unsupported and drops
// envelopes that would make protoactor's endpoint reader index out of range.
func sanitizeBatch(b *remote.MessageBatch, logger *slog.Logger) {
	var unknown map[int32]string
	for i, name := range b.TypeNames {
		if _, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name)); err != nil {
			if unknown == nil {
				unknown = map[int32]string{}
			}
			unknown[int32(i)] = name
		}
	}
	kept := b.Envelopes[:0]
	for _, e := range b.Envelopes {
		if reason := malformed(e, b); reason != "" {
			logger.Warn("dropping malformed message from a peer", "reason", reason)
			continue
		}
		if name, ok := unknown[e.TypeId]; ok {
			data, err := proto.Marshal(&clusterpb.Unsupported{TypeName: name})
			if err != nil {
				continue
			}
			e.MessageData, e.SerializerId = data, 0
			logger.Warn("received a message type this node does not know; answering Unsupported",
				"type", name, "target", b.Targets[e.Target].GetId())
		}
		kept = append(kept, e)
	}
	clear(b.Envelopes[len(kept):])
	b.Envelopes = kept
	for i := range unknown {
		b.TypeNames[i] = unsupportedTypeName
	}
}

// malformed explains why protoactor's endpoint reader would panic on e, or returns "".
func malformed(e *remote.MessageEnvelope, b *remote.MessageBatch) string {
	switch {
	case e == nil:
		return "nil envelope"
	case e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames):
		return "type index out of range"
	case e.Target < 0 || int(e.Target) >= len(b.Targets) || b.Targets[e.Target] == nil:
		return "target index out of range"
	case e.Sender < 0 || int(e.Sender) > len(b.Senders) || (e.Sender > 0 && b.Senders[e.Sender-1] == nil):
		return "sender index out of range"
	case e.SerializerId < 0 || e.SerializerId >= numSerializers:
		return "unknown serializer"
	}
	return ""
}

// unsupportedMiddleware answers clusterpb.Unsupported for every grain kind, so grain
// code never sees it and the caller gets ErrUnsupported at once.
func unsupportedMiddleware(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		if u, ok := env.Message.(*clusterpb.Unsupported); ok {
			if env.Sender != nil {
				c.ActorSystem().Root.Send(env.Sender, u)
			}
			return
		}
		next(c, env)
	}
}

// Unhandled answers a request a grain does not handle (the default branch of its
// Receive) with clusterpb.Unsupported, so the caller fails at once with ErrUnsupported
// instead of waiting for its deadline. Messages without a sender are dropped.
func Unhandled(ctx actor.Context) {
	if ctx.Sender() == nil {
		return
	}
	name := fmt.Sprintf("%T", ctx.Message())
	if m, ok := ctx.Message().(proto.Message); ok {
		name = string(proto.MessageName(m))
	}
	ctx.Respond(&clusterpb.Unsupported{TypeName: name})
}

// panicLogMiddleware logs a grain's panic at Error with its stack, then re-panics so
// protoactor's supervisor restarts the grain as usual. protoactor itself logs the
// failure at Info only ("[ACTOR] Recovering"), below the default LibraryLogLevel.
func panicLogMiddleware(logger *slog.Logger) actor.ReceiverMiddleware {
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			defer func() {
				if r := recover(); r != nil {
					logger.Error("grain panicked; restarting it", "grain", c.Self().GetId(),
						"message", fmt.Sprintf("%T", env.Message), "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
					panic(r)
				}
			}()
			next(c, env)
		}
	}
}
