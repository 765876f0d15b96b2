package etcd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The cluster is driven through etcd's own JSON gateway to its gRPC API
// (served on the client port): POST /v3/kv/txn, /v3/kv/put, /v3/kv/range
// and /v3/maintenance/status, plain HTTP, no client library. 64-bit
// numbers travel as decimal strings and keys and values as base64, as the
// gateway's JSON mapping has them.

// gatewayError is the gateway's answer to a failed call: the gRPC code and
// etcd's message (e.g. "etcdserver: leader changed").
type gatewayError struct {
	Status  int    `json:"-"`
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *gatewayError) Error() string {
	return fmt.Sprintf("etcd answered %d: %s (gRPC code %d)", e.Status, e.Message, e.Code)
}

// call POSTs body as JSON to http://addr+path and decodes the answer into out.
func call(ctx context.Context, hc *http.Client, addr, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read %s answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		ge := &gatewayError{Status: resp.StatusCode}
		if json.Unmarshal(data, ge) != nil || ge.Message == "" {
			ge.Message = strings.TrimSpace(string(data))
		}
		return ge
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode %s answer: %w", path, err)
	}
	return nil
}

// num is a 64-bit number as the gateway writes it: a decimal string.
type num string

func (n num) uint() uint64 {
	v, _ := strconv.ParseUint(string(n), 10, 64)
	return v
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	return string(b), err
}

type header struct {
	ClusterID num `json:"cluster_id"`
	MemberID  num `json:"member_id"`
	Revision  num `json:"revision"`
	RaftTerm  num `json:"raft_term"`
}

type statusResponse struct {
	Header           header   `json:"header"`
	Version          string   `json:"version"`
	Leader           num      `json:"leader"`
	RaftIndex        num      `json:"raftIndex"`
	RaftTerm         num      `json:"raftTerm"`
	RaftAppliedIndex num      `json:"raftAppliedIndex"`
	Errors           []string `json:"errors"`
	IsLearner        bool     `json:"isLearner"`
}

type kv struct {
	Key            string `json:"key"`
	CreateRevision num    `json:"create_revision"`
	ModRevision    num    `json:"mod_revision"`
	Version        num    `json:"version"`
}

type rangeResponse struct {
	Header header `json:"header"`
	KVs    []kv   `json:"kvs"`
	More   bool   `json:"more"`
	Count  num    `json:"count"`
}

type txnResponse struct {
	Header    header `json:"header"`
	Succeeded bool   `json:"succeeded"`
}

// createTxn is the transaction that writes key only if it does not exist:
// a retry of a write that was applied is a no-op, never a second
// application.
func createTxn(key, value string) map[string]any {
	return map[string]any{
		"compare": []map[string]any{{"target": "CREATE", "key": b64(key), "create_revision": "0"}},
		"success": []map[string]any{{"request_put": map[string]any{"key": b64(key), "value": b64(value)}}},
	}
}

// prefixEnd is the range end that covers every key starting with prefix.
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}
