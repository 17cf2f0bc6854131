package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/parley-im/parley/msrp/relay"
)

// Handler serves /healthz (JSON, 503 when the store does not answer) and
// /metrics (Prometheus text exposition format 0.0.4, written by hand).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /metrics", s.metricsHandler)
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, code := "ok", http.StatusOK
	storeErr := ""
	if err := s.st.Ping(ctx); err != nil {
		status, code, storeErr = "unavailable", http.StatusServiceUnavailable, err.Error()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"status":      status,
		"store":       s.st.Backend(),
		"store_err":   storeErr,
		"node":        s.sip.Node(),
		"uptime_s":    int(time.Since(s.start).Seconds()),
		"sip":         s.addrs.SIP,
		"msrp_relay":  s.addrs.MSRPRelay,
		"msrps_relay": s.addrs.MSRPRelayTLS,
	})
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.WriteMetrics(r.Context(), w)
}

// WriteMetrics writes the Prometheus text exposition of the counters.
func (s *Server) WriteMetrics(ctx context.Context, w io.Writer) {
	m := s.sip.Metrics()
	metric := func(name, typ, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
	}
	metric("parley_sip_requests_total", "counter", "SIP requests received.", m.Requests.Load())
	metric("parley_sip_retransmissions_total", "counter", "Non-INVITE UDP requests answered again from a finished transaction (RFC 3261 §17.2.2).", m.Retransmissions.Load())
	metric("parley_registrations_total", "counter", "REGISTERs that added or refreshed a binding.", m.Registrations.Load())
	metric("parley_unregistrations_total", "counter", "Bindings removed by REGISTER.", m.Unregistrations.Load())
	metric("parley_auth_failures_total", "counter", "Requests refused for wrong credentials.", m.AuthFailures.Load())
	metric("parley_auth_throttled_total", "counter", "Requests refused 503 without a credentials check: too many failed authentications from the source IP or for the AOR.", m.AuthThrottled.Load())
	metric("parley_sessions_total", "counter", "INVITEs answered 2xx through the proxy.", m.Sessions.Load())
	metric("parley_sessions_active", "gauge", "Sessions not yet ended by BYE.", m.SessionsActive.Load())
	metric("parley_messages_delivered_total", "counter", "Pager MESSAGEs delivered at once (2xx).", m.Messages.Load())
	metric("parley_messages_stored_total", "counter", "Pager MESSAGEs stored for later delivery (202).", m.MessagesStored.Load())
	metric("parley_messages_forwarded_total", "counter", "Stored messages delivered later.", m.MessagesFwd.Load())
	metric("parley_messages_failed_total", "counter", "Stored messages given up.", m.MessagesFailed.Load())
	metric("parley_message_bytes_total", "counter", "Bytes of pager message bodies accepted.", m.MessageBytes.Load())
	metric("parley_not_found_total", "counter", "Requests for unknown users (404).", m.NotFound.Load())
	metric("parley_unavailable_total", "counter", "Requests for users with no reachable device (480).", m.Unavailable.Load())
	fmt.Fprintf(w, "# HELP parley_message_forward_seconds Time from receiving a MESSAGE to relaying the device's 2xx.\n# TYPE parley_message_forward_seconds summary\nparley_message_forward_seconds_sum %g\nparley_message_forward_seconds_count %d\n",
		float64(m.ForwardMicros.Load())/1e6, m.Forwards.Load())
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if rc, err := s.st.PendingRecipients(ctx, 1000); err == nil {
		depth := 0
		for _, r := range rc {
			if p, err := s.st.Pending(ctx, r, 1000); err == nil {
				depth += len(p)
			}
		}
		metric("parley_queue_recipients", "gauge", "Recipients with stored messages (up to 1000).", len(rc))
		metric("parley_queue_depth", "gauge", "Stored messages pending delivery (counted up to 1000 per recipient).", depth)
	}
	if rs := s.relays(); len(rs) > 0 {
		var rm relay.Metrics // the plain and the TLS relay together
		for _, r := range rs {
			m := r.Metrics()
			rm.ForwardLatency = mergeHistograms(rm.ForwardLatency, m.ForwardLatency)
			rm.ConnectionsOpen += m.ConnectionsOpen
			rm.SessionsLive += m.SessionsLive
			rm.AuthFailures += m.AuthFailures
			rm.BytesIn += m.BytesIn
			rm.BytesOut += m.BytesOut
			rm.Writes += m.Writes
			rm.Forwarded += m.Forwarded
			rm.Timeouts += m.Timeouts
		}
		metric("parley_msrp_relay_connections_open", "gauge", "Open MSRP relay connections.", rm.ConnectionsOpen)
		metric("parley_msrp_relay_sessions_live", "gauge", "Live MSRP relay Use-Path grants.", rm.SessionsLive)
		metric("parley_msrp_relay_auth_failures_total", "counter", "MSRP AUTH refusals.", rm.AuthFailures)
		metric("parley_msrp_relay_bytes_in_total", "counter", "Octets read by the MSRP relay.", rm.BytesIn)
		metric("parley_msrp_relay_bytes_out_total", "counter", "Octets written by the MSRP relay.", rm.BytesOut)
		metric("parley_msrp_relay_socket_writes_total", "counter", "Socket writes by the MSRP relay (bytes out per write shows its write coalescing).", rm.Writes)
		metric("parley_msrp_relay_forwarded_total", "counter", "MSRP requests forwarded.", rm.Forwarded)
		metric("parley_msrp_relay_timeouts_total", "counter", "408s generated for silent next hops.", rm.Timeouts)
		writeHistogram(w, "parley_msrp_relay_forward_latency_seconds",
			"Time forwarded MSRP requests spent inside the relay, from the head parsed to the last byte handed to the next hop (each SEND chunk counts).",
			rm.ForwardLatency)
	}
	if s.hist != nil {
		hs := s.hist.Stats()
		metric("parley_session_history_recorded_total", "counter", "Session-message history entries written.", hs.Recorded)
		metric("parley_session_history_dropped_total", "counter", "Session messages not recorded because the history queue was full.", hs.Dropped)
		metric("parley_session_history_unresolved_total", "counter", "Session messages not recorded because the peer stayed unknown.", hs.Unresolved)
		metric("parley_session_history_skipped_total", "counter", "Relayed session messages not recorded: aborted, empty or of unknown size.", hs.Skipped)
		metric("parley_session_history_not_kept_total", "counter", "Session messages recorded without their body (over the size bound).", hs.NotKept)
		metric("parley_session_history_failed_total", "counter", "Session-message history entries the store refused.", hs.Failed)
	}
	if s.cpim != nil {
		cs := s.cpim.Stats()
		metric("parley_cpim_relay_forwarded_total", "counter", "CPIM session messages relayed.", cs.Forwarded)
		metric("parley_cpim_relay_dropped_total", "counter", "CPIM session messages dropped.", cs.Dropped)
	}
}

// mergeHistograms adds b to a. Histograms of the relay package share
// their bounds; one with other bounds than a is skipped rather than
// mixed in wrongly.
func mergeHistograms(a, b relay.Histogram) relay.Histogram {
	if len(b.Counts) == 0 {
		return a
	}
	if len(a.Counts) == 0 {
		return relay.Histogram{Bounds: b.Bounds, Counts: append([]uint64(nil), b.Counts...), Count: b.Count, Sum: b.Sum}
	}
	if !slices.Equal(a.Bounds, b.Bounds) || len(a.Counts) != len(b.Counts) {
		return a
	}
	for i, n := range b.Counts {
		a.Counts[i] += n
	}
	a.Count += b.Count
	a.Sum += b.Sum
	return a
}

// writeHistogram writes h as a Prometheus histogram in seconds:
// cumulative _bucket{le} lines, le="+Inf", _sum and _count. h.Counts are
// per bucket (len(h.Bounds)+1, the last one above every bound). _count is
// the +Inf bucket, so the exposition is consistent even if h.Count was
// read at another instant than the buckets.
func writeHistogram(w io.Writer, name, help string, h relay.Histogram) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name)
	var cum uint64
	for i, b := range h.Bounds {
		if i < len(h.Counts) {
			cum += h.Counts[i]
		}
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, strconv.FormatFloat(b.Seconds(), 'g', -1, 64), cum)
	}
	for i := len(h.Bounds); i < len(h.Counts); i++ {
		cum += h.Counts[i]
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n",
		name, cum, name, strconv.FormatFloat(h.Sum.Seconds(), 'g', -1, 64), name, cum)
}
