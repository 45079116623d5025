package smtpclient

import (
	"net"
	"sync/atomic"
)

// rawConn sits below TLS. It counts bytes, re-arms TCP_QUICKACK after each
// read and write, and remembers whether anything was read, so a reply cut
// short can be told from silence.
type rawConn struct {
	net.Conn
	bytesIn, bytesOut atomic.Int64
}

func (c *rawConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.bytesIn.Add(int64(n))
	setQuickAck(c.Conn)
	return n, err
}

func (c *rawConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.bytesOut.Add(int64(n))
	setQuickAck(c.Conn)
	return n, err
}
