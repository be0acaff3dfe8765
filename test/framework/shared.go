package framework

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// Shared is one cluster for a whole test package, started by the first test
// that asks for it and removed when the package's tests end:
//
//	var localCluster = framework.NewShared(framework.Options{Nodes: 2})
//
//	func TestMain(m *testing.M) { os.Exit(localCluster.Main(m)) }
//
//	func TestX(t *testing.T) { env := localCluster.Get(t) … }
type Shared struct {
	opts Options
	once sync.Once
	env  *Env
	stop func() error
	err  error

	mu   sync.Mutex
	logf func(string, ...any) // the starting test's log while it starts, then nil
}

// NewShared describes a package-wide cluster; nothing starts until Get.
func NewShared(opts Options) *Shared { return &Shared{opts: opts} }

// Get returns the package's cluster, starting it on first use. It skips the
// test when the cluster needs root and fails it when the cluster cannot start.
func (s *Shared) Get(t testing.TB) *Env {
	t.Helper()
	if reason := skipReason(s.opts); reason != "" {
		t.Skip(reason)
	}
	s.once.Do(func() {
		s.setLog(t.Logf)
		s.env, s.stop, s.err = start(s.opts, s.log)
		s.setLog(nil) // the starting test may end long before the cluster
	})
	if s.err != nil {
		t.Fatalf("start local cluster: %v", s.err)
	}
	return s.env
}

// Main runs the package's tests and then removes the cluster if one was
// started; use it as the body of TestMain.
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	if s.stop != nil {
		if err := s.stop(); err != nil {
			fmt.Fprintf(os.Stderr, "tear down local cluster: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

func (s *Shared) setLog(fn func(string, ...any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logf = fn
}

func (s *Shared) log(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logf != nil {
		s.logf(format, args...)
	}
}
