// Package sdnotify tells systemd about the service's state (sd_notify(3)): a datagram such as
// "READY=1" to the unix socket named by NOTIFY_SOCKET, which systemd sets for a service of
// Type=notify. Without NOTIFY_SOCKET it does nothing, so davd started any other way is
// unaffected.
package sdnotify

import (
	"net"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Notify sends state (newline-separated VAR=value assignments, e.g. "READY=1\nSTATUS=...")
// to systemd. sent is false when there is no NOTIFY_SOCKET.
func Notify(state string) (sent bool, err error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}

// Monotonic is CLOCK_MONOTONIC in microseconds, the MONOTONIC_USEC that systemd wants beside
// RELOADING=1 (sd_notify(3)).
func Monotonic() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}
