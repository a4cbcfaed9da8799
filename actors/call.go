package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"google.golang.org/protobuf/proto"

	"github.com/latchid/latch/actors/msg"
	"github.com/latchid/latch/cluster"
	"github.com/latchid/latch/oidcflow/oauth"
	"github.com/latchid/latch/persistence"
)

// ErrUnexpectedReply means a grain answered with a message type the caller did not
// expect: a programming error, or members running incompatible releases.
var ErrUnexpectedReply = errors.New("actors: unexpected reply type")

// Call sends m to the grain kind/identity and returns its reply as a T.
//
// The deadline comes from ctx (cluster.Config.RequestTimeout when ctx has none), and
// what is left of it travels with m: the grain ends its store writes and its own
// requests by then too (cluster.Budget). A dead or unreachable owner fails by then with
// an error matching cluster.ErrUnavailable (and context.DeadlineExceeded when the
// deadline passed) that is also an *oauth.Error temporarily_unavailable (503), so the
// HTTP edge answers 503 with Retry-After, never 500. A *msg.Failure reply becomes an *oauth.Error with the same
// code, description and status, so a remote invalid_grant is still invalid_grant
// (errors.Is(err, oauth.InvalidGrant(""))). Any other reply type is ErrUnexpectedReply.
func Call[T proto.Message](ctx context.Context, n *cluster.Node, kind, identity string, m proto.Message) (T, error) {
	var zero T
	res, err := n.Request(ctx, kind, identity, m)
	if err != nil {
		if errors.Is(err, cluster.ErrUnavailable) {
			return zero, &unavailableError{cause: err}
		}
		return zero, err
	}
	switch r := res.(type) {
	case T:
		return r, nil
	case *msg.Failure:
		return zero, FailureError(r)
	}
	return zero, fmt.Errorf("%w: %s/%s answered %s, want %T", ErrUnexpectedReply, kind, identity,
		proto.MessageName(res), zero)
}

// unavailableError is a grain that could not be reached in time. It matches both the
// protocol error the client gets (errors.As *oauth.Error: temporarily_unavailable, 503)
// and its cause (errors.Is cluster.ErrUnavailable, context.DeadlineExceeded); Error
// gives the cause, for the log.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string { return e.cause.Error() }

func (e *unavailableError) Unwrap() []error {
	return []error{oauth.TemporarilyUnavailable("the service is temporarily unavailable; retry later"), e.cause}
}

// FailureError turns a grain's Failure reply back into the protocol error it carries.
func FailureError(f *msg.Failure) *oauth.Error {
	status := int(f.GetStatus())
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return &oauth.Error{Code: f.GetCode(), Description: f.GetDescription(), Status: status}
}

// FailureOf is what a grain replies when a request fails with err: an *oauth.Error
// travels as is; anything else is logged and becomes server_error, whose description
// never shows the cause (CONVENTIONS.md "Errors").
func FailureOf(logger *slog.Logger, err error) *msg.Failure {
	var oe *oauth.Error
	switch {
	case errors.As(err, &oe):
	case errors.Is(err, persistence.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		// The grain's shard had no leader or quorum in time (a failover), or the budget
		// ran out: the client may retry (503 with Retry-After), nothing is lost.
		logger.Warn("grain request unavailable", "error", err)
		oe = oauth.TemporarilyUnavailable("the service is busy; retry shortly")
	default:
		logger.Error("grain request failed", "error", err)
		oe = oauth.ServerError()
	}
	return &msg.Failure{Code: oe.Code, Description: oe.Description, Status: int32(oe.Status)}
}
