package agent

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/ipkeeper/ipkeeper/internal/agentapi"
	"github.com/ipkeeper/ipkeeper/internal/ipam"
)

// The endpoints of the plugin's address checks (agentapi.Detection).

func (s *Server) handleQuarantine(w http.ResponseWriter, r *http.Request) {
	var req agentapi.QuarantineRequest
	validate := func() error {
		if err := validateAttachment(&req.Attachment, &req.Pod)(); err != nil {
			return err
		}
		if _, err := netip.ParseAddr(req.Address); err != nil {
			return fmt.Errorf("address %q: want an IP address without prefix length, such as 10.6.168.101", req.Address)
		}
		return nil
	}
	s.serve(w, r, "quarantine", &req, validate, func(ctx context.Context) (any, error) {
		addr := netip.MustParseAddr(req.Address)
		q, err := s.Alloc.Quarantine(ctx, &ipam.QuarantineRequest{
			Attachment: attachment(req.Attachment), Pod: podRef(req.Pod), Address: addr, HardwareAddr: req.HardwareAddr,
		}, s.now())
		if err != nil {
			return nil, err
		}
		s.Log.Info("Quarantined an address another host answered for", "address", req.Address, "pool", q.Spec.Pool,
			"hardwareAddr", req.HardwareAddr, "pod", req.Pod.Namespace+"/"+req.Pod.Name, "interface", req.IfName)
		s.Events.Warn(req.Pod, reasonIPConflict, fmt.Sprintf("interface %s: address %s of pool %s is in use by %s on the network; quarantined it (kubectl ipkeeper unquarantine %s clears it), taking another",
			req.IfName, req.Address, q.Spec.Pool, hardware(req.HardwareAddr), req.Address))
		return struct{}{}, nil
	})
}

func (s *Server) handleAbandon(w http.ResponseWriter, r *http.Request) {
	var req agentapi.AbandonRequest
	s.serve(w, r, "abandon", &req, validateAttachment(&req.Attachment, &req.Pod), func(ctx context.Context) (any, error) {
		released, err := s.Alloc.Abandon(ctx, &ipam.DelRequest{Attachment: attachment(req.Attachment), Pod: podRef(req.Pod), Network: req.Network})
		msg := fmt.Sprintf("interface %s: gateway %s of pool %s did not answer within %s; released %s",
			req.IfName, req.Gateway, req.Pool, time.Duration(req.WaitedMs)*time.Millisecond, orNone(released))
		if err != nil {
			msg = fmt.Sprintf("%s; releasing failed: %v", msg, err)
		}
		s.Events.Warn(req.Pod, reasonGatewayUnreachable, msg)
		return struct{}{}, err
	})
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func hardware(mac string) string {
	if mac == "" {
		return "another host"
	}
	return mac
}

func orNone(addrs []string) string {
	if len(addrs) == 0 {
		return "nothing"
	}
	return strings.Join(addrs, ", ")
}
