package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/region-nouvelle-aquitaine/idp/idp/provider"
)

// EventKeysRotated: an operator made the next signing key current.
const EventKeysRotated = "admin.keys.rotated"

var errNoKeys = errors.New("this configuration has no OpenID provider (reset-only mode), hence no signing key")

func keyCommands() []command {
	return []command{
		{
			Name: "keys list", Summary: "list the signing keys: kid, algorithm, state (next, current, retired), dates",
			Run: func(ctx context.Context, d *Deps, c *call) error { return ListKeys(ctx, d.Keys, c.Out) },
		},
		{
			Name: "keys rotate", Changes: true, Summary: "make the next signing key current now (of oidc.signing_algorithm) and publish a new next key",
			Run: func(ctx context.Context, d *Deps, c *call) error { return RotateKeys(ctx, d.Keys, c) },
		},
	}
}

// ListKeys prints every key of the ring, never a private part.
func ListKeys(ctx context.Context, k *provider.Keyring, w io.Writer) error {
	if k == nil {
		return errNoKeys
	}
	keys, err := k.List(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Signing keys: %d\n", len(keys))
	for _, e := range keys {
		fmt.Fprintf(w, "  %s  alg=%s  state=%s  created=%s  current=%s  retired=%s\n",
			e.ID, e.Algorithm, e.State, when(e.CreatedAt), when(e.CurrentAt), when(e.RetiredAt))
	}
	return nil
}

// RotateKeys rotates now: the running replicas sign with the new current
// key within seconds; the old one stays published until its tokens expire.
func RotateKeys(ctx context.Context, k *provider.Keyring, c *call) error {
	if k == nil {
		return errNoKeys
	}
	if err := k.Rotate(ctx); err != nil {
		return err
	}
	keys, err := k.List(ctx)
	if err != nil {
		return err
	}
	for _, e := range keys {
		if e.State == provider.KeyCurrent {
			c.Audit.Record(ctx, EventKeysRotated, slog.String("kid", e.ID), slog.String("alg", e.Algorithm))
			fmt.Fprintf(c.Out, "Key %s (%s) is now current; running replicas sign with it within seconds.\n", e.ID, e.Algorithm)
		}
	}
	return nil
}
