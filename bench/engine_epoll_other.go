//go:build !linux

package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// epollSupported reports whether this build has the epoll engine.
const epollSupported = false

func driveEpoll(context.Context, string, []RawWorker, []*shard, *openSchedule, *closedWindow, time.Duration, *atomic.Int64) (int64, error) {
	return 0, errors.New("--engine epoll needs Linux")
}
