package agentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// ErrUnreachable wraps every failure to reach the agent (no socket, refused,
// timed out). The plugin turns it into CNI code 11, "try again later".
var ErrUnreachable = errors.New("ipkeeper agent unreachable")

// maxAnswer bounds what the client reads of an answer, headers included.
const maxAnswer = 1 << 20

// Client talks to the agent over its unix socket.
//
// It speaks HTTP/1.0 itself, one request per connection, instead of
// importing net/http: the plugin is a new process for every CNI call, and
// net/http with what it brings along (TLS, x509, HTTP/2) doubled the
// plugin's binary (9.7 MB, 4.8 without) and cost ≈ 0.5 ms of CPU per call
// of its 3 (docs/benchmarks.md). An HTTP/1.0 request gets an answer that is
// never chunked and ends when the agent closes the connection, so reading
// it needs no more than the status line and Content-Length.
type Client struct {
	socket  string
	timeout time.Duration
}

// NewClient returns a client of the agent listening on socket; timeout
// bounds each request, connecting included.
func NewClient(socket string, timeout time.Duration) *Client {
	return &Client{socket: socket, timeout: timeout}
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
	status, body, err := c.do(ctx, "GET", PathReadyz, nil)
	if err != nil {
		return err
	}
	if status != 200 {
		return fmt.Errorf("agent at %s is not ready: %s", c.socket, bytes.TrimSpace(body))
	}
	return nil
}

func (c *Client) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	status, data, err := c.do(ctx, "POST", path, body)
	if err != nil {
		return err
	}
	if status == 404 && !json.Valid(data) {
		// The mux of an agent without the endpoint: plain text, no JSON.
		return fmt.Errorf("%s: %w", path, ErrNotServed)
	}
	if status/100 != 2 {
		return decodeError(status, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode agent answer: %w", err)
	}
	return nil
}

// do sends one request on a connection of its own and returns the answer's
// status code and body. Every failure to connect, send or read is
// ErrUnreachable.
func (c *Client) do(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	deadline := time.Now().Add(c.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dialer := net.Dialer{Timeout: min(2*time.Second, time.Until(deadline))}
	conn, err := dialer.DialContext(ctx, "unix", c.socket)
	if err != nil {
		return 0, nil, c.unreachable(err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := conn.SetDeadline(deadline); err != nil {
		return 0, nil, c.unreachable(err)
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "%s %s HTTP/1.0\r\nHost: agent\r\n", method, path)
	if body != nil {
		fmt.Fprintf(&req, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	req.WriteString("\r\n")
	req.Write(body)
	if _, err := conn.Write(req.Bytes()); err != nil {
		return 0, nil, c.unreachable(err)
	}
	answer, err := io.ReadAll(io.LimitReader(conn, maxAnswer+1))
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return 0, nil, c.unreachable(err)
	}
	if len(answer) > maxAnswer {
		return 0, nil, c.unreachable(fmt.Errorf("answer longer than %d bytes", maxAnswer))
	}
	status, data, err := parseAnswer(answer)
	if err != nil {
		return 0, nil, c.unreachable(err)
	}
	return status, data, nil
}

// parseAnswer splits an HTTP/1.x answer to an HTTP/1.0 request into its
// status code and body.
func parseAnswer(answer []byte) (int, []byte, error) {
	head, body, ok := bytes.Cut(answer, []byte("\r\n\r\n"))
	if !ok {
		return 0, nil, fmt.Errorf("answer ends before its headers do (%d bytes)", len(answer))
	}
	lines := strings.Split(string(head), "\r\n")
	proto, rest, _ := strings.Cut(lines[0], " ")
	code, _, _ := strings.Cut(rest, " ")
	status, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || err != nil || status < 100 || status > 999 {
		return 0, nil, fmt.Errorf("answer's status line %q is not HTTP/1.x", lines[0])
	}
	for _, line := range lines[1:] {
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimSpace(value)
		switch {
		case strings.EqualFold(name, "Transfer-Encoding") && !strings.EqualFold(value, "identity"):
			return 0, nil, fmt.Errorf("answer has transfer encoding %q, which an HTTP/1.0 client does not take", value)
		case strings.EqualFold(name, "Content-Length"):
			n, err := strconv.Atoi(value)
			if err != nil || n < 0 {
				return 0, nil, fmt.Errorf("answer's Content-Length %q is not a length", value)
			}
			if n > len(body) {
				return 0, nil, fmt.Errorf("answer ends after %d of its %d bytes", len(body), n)
			}
			body = body[:n]
		}
	}
	return status, body, nil
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
