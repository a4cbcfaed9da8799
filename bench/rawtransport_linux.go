package bench

import (
	"errors"
	"net"
	"syscall"
)

// connAlive reports whether an idle connection can still carry a request: it peeks at
// the socket without blocking (recv with MSG_PEEK|MSG_DONTWAIT). Nothing to read means
// alive; end of stream means the server closed it; unread bytes mean the server spoke
// out of turn (a 408 before closing, say): not usable either.
func connAlive(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = errors.Is(rerr, syscall.EAGAIN)
		return true
	})
	return err == nil && alive
}
