package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// ErrUnreachable wraps every failure to reach the agent (no socket, refused,
// timed out). The plugin turns it into CNI code 11, "try again later".
var ErrUnreachable = errors.New("ipkeeper agent unreachable")

// Client talks to the agent over its unix socket.
type Client struct {
	socket string
	http   *http.Client
}

// NewClient returns a client of the agent listening on socket.
func NewClient(socket string, timeout time.Duration) *Client {
	dialer := &net.Dialer{Timeout: 2 * time.Second}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, "unix", socket)
		},
		DisableKeepAlives: true,
	}
	return &Client{socket: socket, http: &http.Client{Transport: transport, Timeout: timeout}}
}

// Add asks for the addresses of one interface.
func (c *Client) Add(ctx context.Context, req *AddRequest) (*AddResponse, error) {
	var resp AddResponse
	if err := c.post(ctx, PathAdd, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Del releases the addresses of one interface.
func (c *Client) Del(ctx context.Context, req *DelRequest) error {
	return c.post(ctx, PathDel, req, nil)
}

// Quarantine reports an address another host answered for.
func (c *Client) Quarantine(ctx context.Context, req *QuarantineRequest) error {
	return c.post(ctx, PathQuarantine, req, nil)
}

// Abandon gives back the addresses of an interface whose ADD fails.
func (c *Client) Abandon(ctx context.Context, req *AbandonRequest) error {
	return c.post(ctx, PathAbandon, req, nil)
}

// Check verifies the addresses of one interface.
func (c *Client) Check(ctx context.Context, req *CheckRequest) error {
	return c.post(ctx, PathCheck, req, nil)
}

// GC releases the addresses of sandboxes that are not in the request's list.
func (c *Client) GC(ctx context.Context, req *GCRequest) (*GCResponse, error) {
	var resp GCResponse
	if err := c.post(ctx, PathGC, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// Ready returns nil when the agent answers its readiness probe with 200.
func (c *Client) Ready(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://agent"+PathReadyz, nil)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("agent at %s is not ready: %s", c.socket, bytes.TrimSpace(body))
	}
	return nil
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return c.unreachable(err)
	}
	if resp.StatusCode == http.StatusNotFound && !json.Valid(data) {
		// The mux of an agent without the endpoint: plain text, no JSON.
		return fmt.Errorf("%s: %w", path, ErrNotServed)
	}
	if resp.StatusCode/100 != 2 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode agent answer: %w", err)
	}
	return nil
}

func (c *Client) unreachable(err error) error {
	return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.socket, err)
}

func decodeError(status int, data []byte) error {
	e := &Error{}
	if err := json.Unmarshal(data, e); err != nil || e.Msg == "" {
		return &Error{Code: CodeTryAgainLater, Msg: fmt.Sprintf("agent answered HTTP %d", status), Details: string(bytes.TrimSpace(data))}
	}
	return e
}
