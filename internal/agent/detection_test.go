package agent

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
)

func detecting(s *Server) {
	s.Detection = &agentapi.Detection{IPConflict: true, IPConflictTimeoutMs: 200, Gateway: true, GatewayTimeoutMs: 1000}
}

// Version skew, both ways. A plugin older than detection sends no canProbe
// and reads no detection: its ADD works as before. A newer plugin reads
// detection from this agent, and none from an agent with detection off
// (which is what an older agent answers).
func TestDetectionIsToleratedAcrossVersions(t *testing.T) {
	_, sock, _ := serve(t, &recordingAllocator{}, true, detecting)
	const olderPlugin = `{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"}}`
	if status, e := postRaw(t, sock, agentapi.PathAdd, olderPlugin); status != http.StatusOK {
		t.Fatalf("ADD of an older plugin: status %d (%s), want 200", status, e.Error())
	}
	c, _, _ := serve(t, &recordingAllocator{}, true, detecting)
	req := &agentapi.AddRequest{Attachment: agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}, Pod: agentapi.PodRef{Namespace: "ns", Name: "p"}, CanProbe: true}
	resp, err := c.Add(t.Context(), req)
	if err != nil || resp.Detection == nil || !resp.Detection.IPConflict || resp.Detection.GatewayTimeoutMs != 1000 {
		t.Fatalf("ADD: %+v, %v; want the detection settings", resp, err)
	}
	off, _, _ := serve(t, &recordingAllocator{}, true)
	if resp, err := off.Add(t.Context(), req); err != nil || resp.Detection != nil {
		t.Fatalf("ADD with detection off: %+v, %v; want no detection", resp, err)
	}
}

func TestQuarantineAndAbandonReportOnThePod(t *testing.T) {
	alloc := &recordingAllocator{}
	c, sock, ev := serve(t, alloc, true, detecting)
	at := agentapi.Attachment{ContainerID: "c1", IfName: "eth0"}
	pod := agentapi.PodRef{Namespace: "ns", Name: "p"}
	if status, e := postRaw(t, sock, agentapi.PathQuarantine, `{"containerID":"c1","ifName":"eth0","pod":{"namespace":"ns","name":"p"},"address":"10.6.168.101/16"}`); status != http.StatusBadRequest || !strings.Contains(e.Error(), `address "10.6.168.101/16"`) {
		t.Fatalf("quarantine of an address in CIDR form: %d %v; want 400 naming the field and value", status, e.Error())
	}
	if alloc.calls != 0 {
		t.Fatal("an invalid report reached the allocator")
	}
	if err := c.Quarantine(t.Context(), &agentapi.QuarantineRequest{Attachment: at, Pod: pod, Address: "10.6.168.101", HardwareAddr: "02:00:00:00:00:99"}); err != nil {
		t.Fatalf("quarantine: %v", err)
	}
	if err := c.Abandon(t.Context(), &agentapi.AbandonRequest{Attachment: at, Pod: pod, Pool: "p", Gateway: "10.6.0.1", WaitedMs: 1000}); err != nil {
		t.Fatalf("abandon: %v", err)
	}
	want := []string{
		"IPConflict: interface eth0: address 10.6.168.101 of pool p is in use by 02:00:00:00:00:99 on the network; quarantined it (kubectl ipkeeper unquarantine 10.6.168.101 clears it), taking another",
		"GatewayUnreachable: interface eth0: gateway 10.6.0.1 of pool p did not answer within 1s; released 10.6.168.101",
	}
	if strings.Join(ev.msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(ev.msgs, "\n"), strings.Join(want, "\n"))
	}
}
