package collector_test

import (
	"context"
	"net"
)

// closedAddr returns a 127.0.0.1 address nothing listens on.
func closedAddr() (string, error) {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}
