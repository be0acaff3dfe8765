package ipam

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ipkeeper/ipkeeper/api/ipkeeper/v1alpha1"
)

// A quarantined address is taken from the pod in place, never handed out
// again, said in the exhaustion message, and not released by any of the
// pod's later DELs; Abandon gives a live pod's address back.
func TestQuarantineKeepsTheAddressFromEveryPod(t *testing.T) {
	s, c := newMemStore(), newMemCluster("node1")
	a := agentFor(t, "node1", s, c, testPool("10.6.168.101-10.6.168.102"))
	c2 := newMemCluster("node2")
	a2 := agentFor(t, "node2", s, c2, testPool("10.6.168.101-10.6.168.102"))
	web, other := statelessPod("web", poolAnno), statelessPod("other", poolAnno)
	c.addPod(web)
	c.addPod(other)
	first, err := a.Add(t.Context(), addReq(web, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	bad := first.IPs[0].Address.Addr()
	q, err := a.Quarantine(t.Context(), &QuarantineRequest{Attachment: addReq(web, "c1").Attachment, Pod: addReq(web, "c1").Pod,
		Address: bad, HardwareAddr: "02:00:00:00:00:99"}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !q.Quarantined() || q.Spec.Holder != (v1alpha1.ClaimHolder{}) || q.Spec.Quarantine.DetectedBy != "default/web" {
		t.Fatalf("quarantine claim %+v", q.Spec)
	}
	again, err := a.Add(t.Context(), addReq(web, "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.IPs[0].Address.Addr() == bad {
		t.Fatalf("the pod got the quarantined %s again", bad)
	}
	_, err = a.Add(t.Context(), addReq(other, "c2"))
	var allocErr *AllocationError
	if !errors.As(err, &allocErr) || !strings.Contains(allocErr.Msg, "in use 2, of them 1 quarantined") {
		t.Fatalf("ADD with the last address quarantined: %v; want the pool exhausted, saying 1 is quarantined", err)
	}
	// Another node's agent, which knows the quarantine claim by its metadata
	// only, says so too.
	third := statelessPod("third", poolAnno)
	c2.addPod(third)
	if _, err = a2.Add(t.Context(), addReq(third, "c3")); !errors.As(err, &allocErr) || !strings.Contains(allocErr.Msg, "in use 2, of them 1 quarantined") {
		t.Fatalf("ADD on node2 with the last address quarantined: %v; want the pool exhausted, saying 1 is quarantined", err)
	}
	c.endPod(web)
	if err := a.Del(t.Context(), delReq(web, "c1")); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.holders()[bad.String()]; !ok {
		t.Fatalf("the pod's DEL released the quarantined %s (claims %v)", bad, s.holders())
	}

	got, err := a.Add(t.Context(), addReq(other, "c2"))
	if err != nil {
		t.Fatal(err)
	}
	released, err := a.Abandon(t.Context(), delReq(other, "c2"))
	if err != nil || len(released) != 1 || released[0] != got.IPs[0].Address.Addr().String() {
		t.Fatalf("Abandon: %v, %v; want %s released though the pod lives", released, err, got.IPs[0].Address.Addr())
	}
	if len(s.holders()) != 1 {
		t.Fatalf("claims after abandon: %v, want only the quarantine", s.holders())
	}
}
