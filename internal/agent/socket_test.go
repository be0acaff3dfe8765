package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

// What reaches the socket that is not a request: a body larger than any
// request, a body cut short and an empty one are refused with code 7 saying
// which, before any work.
func TestOversizedAndTruncatedRequestsAreRefusedSayingWhich(t *testing.T) {
	alloc := &recordingAllocator{}
	_, sock, _ := serve(t, alloc, true)
	giant := `{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"},"network":"` + strings.Repeat("n", maxBody) + `"}`
	for name, tc := range map[string]struct{ body, want string }{
		"oversized":                   {giant, "request body larger than 4194304 bytes"},
		"oversized, as trailing data": {`{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"}}` + strings.Repeat(" ", maxBody), "request body larger than 4194304 bytes"},
		"truncated":                   {`{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns"`, "truncated"},
		"empty":                       {``, "request body is empty"},
		"not an object":               {`"c1"`, "cannot unmarshal string"},
	} {
		t.Run(name, func(t *testing.T) {
			status, e := postRaw(t, sock, agentapi.PathAdd, tc.body)
			if status != http.StatusBadRequest || e.Code != agentapi.CodeInvalidConfig || !strings.Contains(e.Error(), tc.want) {
				t.Fatalf("status %d, %q; want 400, code %d, saying %q", status, e.Error(), agentapi.CodeInvalidConfig, tc.want)
			}
			t.Logf("refused: %s", e.Error())
		})
	}
	if alloc.calls != 0 {
		t.Fatalf("%d refused requests reached the allocator", alloc.calls)
	}
}

// A client that opens a connection and sends its request slowly (or never
// finishes it) is cut off after the read time-out, and holds up no one else
// meanwhile.
func TestASlowClientIsCutOffAndHoldsUpNoOne(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "agent.sock")
	alloc := &recordingAllocator{}
	s := &Server{Socket: sock, Alloc: alloc, Events: &recordedEvents{}, Metrics: NewMetrics(prometheus.NewRegistry()),
		Log: logr.Discard(), Ready: func() bool { return true }, ReadTimeout: 300 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	if err := wait.PollUntilContextTimeout(t.Context(), 10*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return s.Serving() == nil, nil
	}); err != nil {
		t.Fatal("socket never served")
	}
	for name, partial := range map[string]string{
		"headers never end": "POST " + agentapi.PathAdd + " HTTP/1.1\r\nHost: agent\r\n",
		"body never ends":   "POST " + agentapi.PathAdd + " HTTP/1.1\r\nHost: agent\r\nContent-Length: 200\r\n\r\n{\"containerID\":",
	} {
		t.Run(name, func(t *testing.T) {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, partial); err != nil {
				t.Fatal(err)
			}
			// Another client is answered while the slow one hangs.
			c := agentapi.NewClient(sock, 5*time.Second)
			if _, err := c.Add(t.Context(), &agentapi.AddRequest{Attachment: agentapi.Attachment{ContainerID: "c", IfName: "eth0"}, Pod: agentapi.PodRef{Namespace: "ns", Name: "p"}}); err != nil {
				t.Fatalf("ADD next to a slow client: %v", err)
			}
			// The slow one is cut off: the server answers or closes, well
			// before this read's own deadline.
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "read time-out") {
					t.Fatalf("a request never completed was answered %s %s; want 400 naming the read time-out", resp.Status, body)
				}
				err = errors.New(strings.TrimSpace(string(body)))
			} else if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v; want it cut off after the 300ms read time-out", time.Since(start))
			}
			t.Logf("cut off after %v (%v)", time.Since(start).Round(10*time.Millisecond), err)
		})
	}
	if alloc.calls != 2 {
		t.Fatalf("%d calls reached the allocator, want the 2 complete requests", alloc.calls)
	}
}

// Only root may allocate or release: a client whose (filesystem) user is
// not root cannot connect to the socket, though it may reach its directory.
func TestANonRootClientCannotConnect(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to act as another user")
	}
	dir, err := os.MkdirTemp("", "agent-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "agent.sock")
	startServer(t, sock)
	const nobody = 65534
	if err := connectAs(t, nobody, sock); !errors.Is(err, unix.EACCES) {
		t.Fatalf("connect as uid %d: %v; want permission denied", nobody, err)
	}
	if err := connectAs(t, 0, sock); err != nil {
		t.Fatalf("connect as root: %v", err)
	}
	// The check itself works: were the socket open to all, nobody could
	// connect.
	if err := os.Chmod(sock, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := connectAs(t, nobody, sock); err != nil {
		t.Fatalf("connect as uid %d to a socket of mode 0666: %v; the test's change of user does not work", nobody, err)
	}
}

// connectAs connects to sock with the filesystem user and group uid, which
// decide the socket's permission check, on this thread only.
func connectAs(t *testing.T, uid int, sock string) error {
	t.Helper()
	runtime.LockOSThread()
	if err := unix.Setfsgid(uid); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setfsuid(uid); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err == nil {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: sock})
		unix.Close(fd)
	}
	// The thread goes back to root before it may run anything else; were
	// that to fail, it stays locked and ends with the test's goroutine.
	if unix.Setfsuid(0) != nil || unix.Setfsgid(0) != nil {
		t.Fatal("cannot restore the thread's filesystem user")
	}
	runtime.UnlockOSThread()
	return err
}
