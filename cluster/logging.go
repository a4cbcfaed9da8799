package cluster

import (
	"bytes"
	"context"
	"log"
	"log/slog"
)

// minLevel is a slog.Handler that drops records below a minimum level before they reach
// the wrapped handler. It tames protoactor-go and memberlist, which log routine events
// at Info (and an expected dead peer at Error).
type minLevel struct {
	min  slog.Leveler
	next slog.Handler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min.Level() && h.next.Enabled(ctx, l)
}

func (h minLevel) Handle(ctx context.Context, r slog.Record) error { return h.next.Handle(ctx, r) }

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.min, h.next.WithAttrs(as)}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.min, h.next.WithGroup(name)}
}

// memberlistLog adapts memberlist's *log.Logger output ("[WARN] memberlist: ...") to
// slog, mapping its bracketed level prefixes to slog levels.
type memberlistLog struct{ logger *slog.Logger }

func newMemberlistLogger(l *slog.Logger) *log.Logger {
	return log.New(memberlistLog{l}, "", 0)
}

func (w memberlistLog) Write(p []byte) (int, error) {
	line := bytes.TrimSpace(p)
	level := slog.LevelInfo
	for _, pre := range []struct {
		tag   string
		level slog.Level
	}{
		{"[DEBUG] ", slog.LevelDebug},
		{"[INFO] ", slog.LevelInfo},
		{"[WARN] ", slog.LevelWarn},
		{"[ERR] ", slog.LevelError},
		{"[ERROR] ", slog.LevelError},
	} {
		if rest, ok := bytes.CutPrefix(line, []byte(pre.tag)); ok {
			line, level = rest, pre.level
			break
		}
	}
	w.logger.Log(context.Background(), level, string(line))
	return len(p), nil
}
