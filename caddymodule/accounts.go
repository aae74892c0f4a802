package caddymodule

import (
	"context"

	"github.com/loginguard/loginguard/admin"
	"github.com/loginguard/loginguard/gateway"
)

// lockouts is the admin's side of the app's lockout state.
func (a *App) lockouts() *gateway.Lockouts {
	return &gateway.Lockouts{
		Store: a.store, Emit: a.Emit, Telemetry: a.tel, Logger: a.logger, BlocksChanged: a.refreshBlocks,
		Realms: func() (realms []string) {
			a.realms.Range(func(k, _ any) bool {
				realms = append(realms, k.(string))
				return true
			})
			return realms
		},
		Actor: func(ctx context.Context) (string, string, bool) {
			act, ok := admin.ActorOf(ctx)
			return act.IP, act.UserAgent, ok
		},
	}
}

var _ admin.Lockouts = (*gateway.Lockouts)(nil)
