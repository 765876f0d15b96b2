package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// forwarder is a port-forward from 127.0.0.1 to one pod through the API
// server (the portforward subresource over SPDY, as kubectl port-forward):
// the only way the test process reaches anything inside the cluster.
//
// It speaks the protocol itself instead of using client-go's
// PortForwarder, which closes the whole forward as soon as one
// connection's remote end reports an error: during a drill connections
// through toxiproxy are reset on purpose, and the forward must outlive
// them. Each local connection gets its own pair of streams; an error ends
// that connection only. A dropped SPDY connection is dialled again for
// the next local connection.
type forwarder struct {
	pod    string
	dialer httpstream.Dialer
	ports  map[int]int // remote port -> local port on 127.0.0.1
	lns    []net.Listener
	ids    atomic.Int64

	mu     sync.Mutex
	conn   httpstream.Connection
	closed bool
	wg     sync.WaitGroup
	active map[net.Conn]struct{}
	last   error // the last stream error, for diagnostics
}

// errClosed: the forward was closed.
var errClosed = errors.New("kube: port-forward closed")

// forward opens a port-forward to ns/pod for the remote ports, each on a
// free port of 127.0.0.1.
func (c *Cluster) forward(ctx context.Context, ns, pod string, remote []int) (*forwarder, error) {
	transport, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s/%s: %w", ns, pod, err)
	}
	u := c.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	f := &forwarder{
		pod:    ns + "/" + pod,
		dialer: spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u),
		ports:  map[int]int{},
		active: map[net.Conn]struct{}{},
	}
	if _, err := f.connection(); err != nil {
		return nil, err
	}
	for _, p := range remote {
		ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("port-forward to %s: listen on 127.0.0.1: %w", f.pod, err)
		}
		f.lns = append(f.lns, ln)
		f.ports[p] = ln.Addr().(*net.TCPAddr).Port
		f.wg.Add(1)
		go f.accept(ln, p)
	}
	return f, nil
}

// connection is the SPDY connection, dialled again when it has closed.
func (f *forwarder) connection() (httpstream.Connection, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, errClosed
	}
	if f.conn != nil {
		select {
		case <-f.conn.CloseChan():
			f.conn = nil
		default:
			return f.conn, nil
		}
	}
	conn, proto, err := f.dialer.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, fmt.Errorf("port-forward to %s: %w", f.pod, err)
	}
	if proto != portforward.PortForwardProtocolV1Name {
		conn.Close()
		return nil, fmt.Errorf("port-forward to %s: the API server speaks %q, not %q", f.pod, proto, portforward.PortForwardProtocolV1Name)
	}
	f.conn = conn
	return conn, nil
}

func (f *forwarder) accept(ln net.Listener, remote int) {
	defer f.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			conn.Close()
			return
		}
		f.active[conn] = struct{}{}
		f.wg.Add(1)
		f.mu.Unlock()
		go func() {
			defer f.wg.Done()
			err := f.handle(conn, remote)
			f.mu.Lock()
			delete(f.active, conn)
			if err != nil {
				f.last = err
			}
			f.mu.Unlock()
		}()
	}
}

// handle copies one local connection to and from the pod's port.
func (f *forwarder) handle(local net.Conn, remote int) error {
	defer local.Close()
	sc, err := f.connection()
	if err != nil {
		return err
	}
	errStream, data, err := f.streams(sc, remote)
	if err != nil {
		return err
	}
	defer sc.RemoveStreams(errStream, data)
	msg := make(chan error, 1)
	go func() {
		b, err := io.ReadAll(errStream)
		switch {
		case err != nil:
			msg <- err
		case len(b) > 0:
			msg <- errors.New(string(b))
		default:
			msg <- nil
		}
	}()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(local, data); done <- struct{}{} }()
	go func() { _, _ = io.Copy(data, local); _ = data.Close(); done <- struct{}{} }()
	select {
	case <-done:
	case err := <-msg:
		// The pod's side failed (the port refused, the connection reset):
		// this connection ends, the forward goes on.
		_ = data.Reset()
		return err
	}
	_ = data.Reset()
	select {
	case err := <-msg:
		return err
	case <-time.After(time.Second):
		return nil
	}
}

// streams opens one connection's error and data streams to the remote port.
func (f *forwarder) streams(sc httpstream.Connection, remote int) (errStream, data httpstream.Stream, err error) {
	h := http.Header{}
	h.Set(corev1.StreamType, corev1.StreamTypeError)
	h.Set(corev1.PortHeader, strconv.Itoa(remote))
	h.Set(corev1.PortForwardRequestIDHeader, strconv.FormatInt(f.ids.Add(1), 10))
	errStream, err = sc.CreateStream(h)
	if err != nil {
		return nil, nil, fmt.Errorf("port-forward to %s: error stream: %w", f.pod, err)
	}
	errStream.Close() // nothing is written to it
	h.Set(corev1.StreamType, corev1.StreamTypeData)
	data, err = sc.CreateStream(h)
	if err != nil {
		sc.RemoveStreams(errStream)
		return nil, nil, fmt.Errorf("port-forward to %s: data stream: %w", f.pod, err)
	}
	return errStream, data, nil
}

// Addr is 127.0.0.1:<local port> of a forwarded remote port.
func (f *forwarder) Addr(remote int) string {
	return "127.0.0.1:" + strconv.Itoa(f.ports[remote])
}

// Close stops listening, ends every connection and the SPDY connection.
func (f *forwarder) Close() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	for _, ln := range f.lns {
		ln.Close()
	}
	for c := range f.active {
		c.Close()
	}
	conn := f.conn
	f.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
}
