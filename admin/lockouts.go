package admin

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/loginguard/loginguard/admin/api"
	"github.com/loginguard/loginguard/state"
)

// DefaultLockDuration is the duration of an admin's lock or block that gives none.
const DefaultLockDuration = 15 * time.Minute

// maxBody is the largest request body.
const maxBody = 64 << 10

// decodeBody decodes the JSON body of r into v, refusing unknown fields.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.Is(err, io.EOF):
			return badParam("body", "empty; want a JSON object")
		case errors.As(err, &mbe):
			return badParam("body", "larger than %d bytes", maxBody)
		}
		return badParam("body", "invalid JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if dec.More() {
		return badParam("body", "more than one JSON value")
	}
	return nil
}

// lockoutList serves GET /api/v1/lockouts.
func (h *handler) lockoutList(w http.ResponseWriter, r *http.Request, _ *call) error {
	if h.lockouts == nil {
		return errNoLockouts
	}
	accts, err := h.lockouts.LockedAccounts(r.Context())
	if err != nil {
		return err
	}
	ips, err := h.lockouts.BlockedIPs(r.Context())
	if err != nil {
		return err
	}
	if accts == nil {
		accts = []state.AccountStatus{}
	}
	if ips == nil {
		ips = []state.IPBlock{}
	}
	writeJSON(w, http.StatusOK, api.Lockouts{Accounts: accts, IPs: ips})
	return nil
}

// lock serves POST /api/v1/lockouts/accounts {principal, duration?}. It
// answers the account's state after the lock.
func (h *handler) lock(w http.ResponseWriter, r *http.Request, c *call) error {
	if h.lockouts == nil {
		return errNoLockouts
	}
	var req api.LockRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	account := strings.ToLower(strings.TrimSpace(req.Principal))
	if account == "" {
		return badParam("principal", "required")
	}
	if len(account) > maxText {
		return badParam("principal", "longer than %d bytes", maxText)
	}
	d, err := parseDuration("duration", req.Duration, DefaultLockDuration)
	if err != nil {
		return err
	}
	if err := h.lockouts.LockAccount(WithActor(r.Context(), actorOf(r, c)), account, d, c.token.who()); err != nil {
		return err
	}
	st, err := h.lockouts.AccountStatus(r.Context(), account)
	if err != nil {
		h.log.Warn("admin lock: reading the account's state", "account", account, "error", err)
		st = state.AccountStatus{Account: account, Locked: true, Permanent: d <= 0}
		if d > 0 {
			st.LockedUntil = h.now().Add(d).UTC()
		}
	}
	writeJSON(w, http.StatusOK, st)
	return nil
}

// unlock serves DELETE /api/v1/lockouts/accounts/{principal}.
func (h *handler) unlock(w http.ResponseWriter, r *http.Request, c *call) error {
	if h.lockouts == nil {
		return errNoLockouts
	}
	account := strings.ToLower(strings.TrimSpace(c.tail))
	if account == "" || len(account) > maxText {
		return badParam("principal", "malformed account %q", c.tail)
	}
	was, err := h.lockouts.UnlockAccount(WithActor(r.Context(), actorOf(r, c)), account, c.token.who())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.UnlockResult{Account: account, WasLocked: was})
	return nil
}

// block serves POST /api/v1/lockouts/ips {ip|cidr, duration?}. It answers the
// block as listed.
func (h *handler) block(w http.ResponseWriter, r *http.Request, c *call) error {
	if h.lockouts == nil {
		return errNoLockouts
	}
	var req api.BlockRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	name, v := "ip", strings.TrimSpace(req.IP)
	switch cv := strings.TrimSpace(req.CIDR); {
	case v != "" && cv != "":
		return badParam("cidr", "give either ip or cidr, not both")
	case cv != "":
		name, v = "cidr", cv
	case v == "":
		return badParam("ip", "required (or cidr)")
	}
	p, err := state.ParseIPRange(v)
	if err != nil {
		return badParam(name, "invalid IP address or CIDR %q", v)
	}
	d, err := parseDuration("duration", req.Duration, DefaultLockDuration)
	if err != nil {
		return err
	}
	cidr := p.String()
	if err := h.checkWideBlock(r, p, req.Force); err != nil {
		return err
	}
	if err := h.lockouts.BlockIP(WithActor(r.Context(), actorOf(r, c)), cidr, d, c.token.who()); err != nil {
		return err
	}
	b := state.IPBlock{CIDR: cidr, Permanent: d <= 0}
	if d > 0 {
		b.Until = h.now().Add(d).UTC()
	}
	if list, err := h.lockouts.BlockedIPs(r.Context()); err == nil {
		for _, x := range list {
			if x.CIDR == cidr {
				b = x
			}
		}
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}

// unblock serves DELETE /api/v1/lockouts/ips/{ip}; a CIDR's slash may be
// escaped (%2F) or not. A range that is not blocked is a 404.
func (h *handler) unblock(w http.ResponseWriter, r *http.Request, c *call) error {
	if h.lockouts == nil {
		return errNoLockouts
	}
	p, err := state.ParseIPRange(c.tail)
	if err != nil {
		return badParam("ip", "invalid IP address or CIDR %q", c.tail)
	}
	cidr := p.String()
	was, err := h.lockouts.UnblockIP(WithActor(r.Context(), actorOf(r, c)), cidr, c.token.who())
	if err != nil {
		return err
	}
	if !was {
		return notFound("Could not find a block of %s.", cidr)
	}
	writeJSON(w, http.StatusOK, api.UnblockResult{CIDR: cidr, Unblocked: true})
	return nil
}

// checkWideBlock refuses, unless forced, a block wider than the handler's
// limits (a /0 turns every login into 403) or one that covers the admin's own
// address (it would lock the admin out of the portal).
func (h *handler) checkWideBlock(r *http.Request, p netip.Prefix, force bool) error {
	if force {
		return nil
	}
	limit := h.wideV4
	if p.Addr().Is6() {
		limit = h.wideV6
	}
	if p.Bits() < limit {
		return badParam("force", "%s is wider than /%d: send \"force\": true to block it anyway", p, limit)
	}
	if ip, err := netip.ParseAddr(remoteIP(r)); err == nil && p.Contains(ip.Unmap()) {
		return badParam("force", "%s covers your own address %s: send \"force\": true to block it anyway", p, ip.Unmap())
	}
	return nil
}
