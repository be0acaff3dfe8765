package nodesim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Attachment is one pod interface of a sandbox.
type Attachment struct {
	Network  string          `json:"network"`
	IfName   string          `json:"ifName"`
	Default  bool            `json:"default,omitempty"`
	ConfList json.RawMessage `json:"confList"`
	// Result is the CNI result (spec 1.0.0) once ADD succeeded.
	Result json.RawMessage `json:"result,omitempty"`
}

// Sandbox is the record of one pod sandbox, written before anything is made
// so that a restarted simulator can adopt or clean up what it finds.
type Sandbox struct {
	Namespace   string       `json:"namespace"`
	Name        string       `json:"name"`
	UID         types.UID    `json:"uid"`
	ContainerID string       `json:"containerID"`
	NetNS       string       `json:"netns"`
	Complete    bool         `json:"complete"`
	Attachments []Attachment `json:"attachments"`
	Created     time.Time    `json:"created"`
}

// Key is the pod's namespace/name.
func (s *Sandbox) Key() string { return s.Namespace + "/" + s.Name }

func newContainerID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random container id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// store keeps one JSON file per sandbox under dir. Each sandbox is only
// touched by the worker that holds its pod's key.
type store struct {
	dir   string
	mu    sync.Mutex
	byUID map[types.UID]*Sandbox
}

func openStore(dir string) (*store, error) {
	s := &store{dir: dir, byUID: map[types.UID]*Sandbox{}}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create sandbox dir: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	for _, f := range files {
		data, err := readFile(f)
		if err != nil {
			return nil, err
		}
		var sb Sandbox
		if err := json.Unmarshal(data, &sb); err != nil {
			return nil, fmt.Errorf("decode sandbox %s: %w", filepath.Base(f), err)
		}
		s.byUID[sb.UID] = &sb
	}
	return s, nil
}

func (s *store) path(uid types.UID) string { return filepath.Join(s.dir, string(uid)+".json") }

// put writes the record atomically.
func (s *store) put(sb *Sandbox) error {
	data, err := json.MarshalIndent(sb, "", "  ")
	if err != nil {
		return fmt.Errorf("encode sandbox: %w", err)
	}
	tmp := s.path(sb.UID) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write sandbox: %w", err)
	}
	if err := os.Rename(tmp, s.path(sb.UID)); err != nil {
		return fmt.Errorf("commit sandbox: %w", err)
	}
	s.mu.Lock()
	s.byUID[sb.UID] = sb
	s.mu.Unlock()
	return nil
}

func (s *store) remove(uid types.UID) error {
	if err := os.Remove(s.path(uid)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove sandbox record: %w", err)
	}
	s.mu.Lock()
	delete(s.byUID, uid)
	s.mu.Unlock()
	return nil
}

func (s *store) get(uid types.UID) *Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byUID[uid]
}

// byKey returns the sandboxes of every pod incarnation named namespace/name.
func (s *store) byKey(key string) []*Sandbox {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Sandbox
	for _, sb := range s.byUID {
		if sb.Key() == key {
			out = append(out, sb)
		}
	}
	return out
}

// keys returns the pod keys of all sandboxes, sorted.
func (s *store) keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, sb := range s.byUID {
		if !seen[sb.Key()] {
			seen[sb.Key()] = true
			out = append(out, sb.Key())
		}
	}
	sort.Strings(out)
	return out
}

func readFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

// netnsName names a sandbox's network namespace after its container id.
func netnsName(prefix, containerID string) string {
	return prefix + strings.ToLower(containerID[:12])
}
