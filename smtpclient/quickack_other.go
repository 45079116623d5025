//go:build !linux

package smtpclient

import "net"

// setQuickAck is a no-op where TCP_QUICKACK does not exist.
func setQuickAck(net.Conn) {}
