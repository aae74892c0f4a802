package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"slices"

	"github.com/loginguard/loginguard/logstore/internal/codec"
)

// The users table holds the per-identity summaries (codec.User) in blocks:
// row blk holds the identities whose dict id >> userBlockBits is blk, sorted
// by id, encoded by appendUser. Updating it once per Options.UserBatch sealed
// events touches about one identity per event (few identities repeat within
// a batch), too many for one upsert per identity; a block is read, merged in
// Go and written once per update.
const userBlockBits = 7

// User flags.
const (
	uSeen = 1 << iota
	uLogin
	uLogout
	uFail
	// uBreached: the user's breached-password counts follow (format 6 on;
	// without the flag they are 0).
	uBreached
)

// appendUser encodes u after the user with id prev in the same block: the id
// delta (uvarint), the flags, the source and last activity, the times present
// as deltas from the last activity, the IP, failures since success and
// display name (varints), then, with uBreached, the breached-password
// attempts and successes (uvarints).
func appendUser(b []byte, prev int64, u *codec.User) []byte {
	var fl byte
	for i, ok := range [...]bool{u.HasSeen, u.HasLogin, u.HasLogout, u.HasFail, u.Breached != 0 || u.BreachedOK != 0} {
		if ok {
			fl |= 1 << i
		}
	}
	b = binary.AppendUvarint(b, uint64(u.ID-prev))
	b = append(b, fl)
	b = binary.AppendVarint(b, u.Source)
	b = binary.AppendVarint(b, u.Seen)
	// Times as deltas from the last activity: shorter.
	for _, t := range [...]struct {
		ok bool
		v  int64
	}{{u.HasLogin, u.Login}, {u.HasLogout, u.Logout}, {u.HasFail, u.Failure}} {
		if t.ok {
			b = binary.AppendVarint(b, u.Seen-t.v)
		}
	}
	b = binary.AppendVarint(b, u.IP)
	b = binary.AppendVarint(b, u.Fails)
	b = binary.AppendVarint(b, u.Disp)
	if fl&uBreached != 0 {
		b = binary.AppendUvarint(b, uint64(u.Breached))
		b = binary.AppendUvarint(b, uint64(u.BreachedOK))
	}
	return b
}

var errCorruptUsers = errors.New("corrupt users block")

// decodeUsers calls fn for each user of a block, in id order.
func decodeUsers(blk int64, b []byte, fn func(u *codec.User)) error {
	prev := blk << userBlockBits
	next := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	for len(b) > 0 {
		d, n := binary.Uvarint(b)
		if n <= 0 || len(b) < n+1 {
			return errCorruptUsers
		}
		fl := b[n]
		b = b[n+1:]
		u := codec.User{ID: prev + int64(d)}
		prev = u.ID
		u.HasSeen, u.HasLogin, u.HasLogout, u.HasFail = fl&uSeen != 0, fl&uLogin != 0, fl&uLogout != 0, fl&uFail != 0
		var ok bool
		if u.Source, ok = next(); !ok {
			return errCorruptUsers
		}
		if u.Seen, ok = next(); !ok {
			return errCorruptUsers
		}
		for _, t := range [...]struct {
			has bool
			v   *int64
		}{{u.HasLogin, &u.Login}, {u.HasLogout, &u.Logout}, {u.HasFail, &u.Failure}} {
			if t.has {
				d, ok := next()
				if !ok {
					return errCorruptUsers
				}
				*t.v = u.Seen - d
			}
		}
		for _, p := range [...]*int64{&u.IP, &u.Fails, &u.Disp} {
			if *p, ok = next(); !ok {
				return errCorruptUsers
			}
		}
		if fl&uBreached != 0 {
			for _, p := range [...]*int64{&u.Breached, &u.BreachedOK} {
				v, n := binary.Uvarint(b)
				if n <= 0 {
					return errCorruptUsers
				}
				*p, b = int64(v), b[n:]
			}
		}
		fn(&u)
	}
	return nil
}

// eachUserBlock calls fn for each stored block whose number is in blks
// (sorted), or for every block when blks is nil.
func eachUserBlock(ctx context.Context, q querier, blks []int64, fn func(blk int64, v []byte) error) error {
	var rows *sql.Rows
	var err error
	switch {
	case blks == nil:
		rows, err = q.QueryContext(ctx, `SELECT blk, v FROM users ORDER BY blk`)
	case len(blks) == 0:
		return nil
	case int64(len(blks))*8 >= blks[len(blks)-1]-blks[0]:
		// Dense: one range scan, skipping the blocks not asked for.
		rows, err = q.QueryContext(ctx, `SELECT blk, v FROM users WHERE blk >= ? AND blk <= ? ORDER BY blk`, blks[0], blks[len(blks)-1])
	default:
		rows, err = q.QueryContext(ctx, `SELECT blk, v FROM users WHERE blk IN (SELECT value FROM json_each(?)) ORDER BY blk`, jsonInts(blks))
	}
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var blk int64
		var v []byte
		if err := rows.Scan(&blk, &v); err != nil {
			return err
		}
		if blks != nil {
			if _, ok := slices.BinarySearch(blks, blk); !ok {
				continue
			}
		}
		if err := fn(blk, v); err != nil {
			return err
		}
	}
	return rows.Err()
}

// editUsers rewrites the blocks holding ids (sorted; every block when ids is
// nil): edit returns each stored user's new value, or nil to delete it, and
// whether it changed. Called inside the writer's transaction.
func editUsers(ctx context.Context, tx *sql.Tx, sc *stmts, ids []int64, edit func(u *codec.User) (*codec.User, bool)) error {
	var blks []int64
	if ids != nil {
		blks = make([]int64, 0, len(ids))
		for _, id := range ids {
			if b := id >> userBlockBits; len(blks) == 0 || blks[len(blks)-1] != b {
				blks = append(blks, b)
			}
		}
	}
	put := newBulk(tx, sc, `INSERT OR REPLACE INTO users(blk, v) VALUES`, 2, "")
	var drop []int64
	if err := eachUserBlock(ctx, tx, blks, func(blk int64, v []byte) error {
		var users []*codec.User
		changed := false
		if err := decodeUsers(blk, v, func(u *codec.User) {
			c := *u
			n, ch := edit(&c)
			changed = changed || ch
			if n != nil {
				users = append(users, n)
			}
		}); err != nil || !changed {
			return err
		}
		if len(users) == 0 {
			drop = append(drop, blk)
			return nil
		}
		var b []byte
		prev := blk << userBlockBits
		for _, u := range users {
			b = appendUser(b, prev, u)
			prev = u.ID
		}
		return put.add(ctx, blk, b)
	}); err != nil {
		return err
	}
	if err := put.flush(ctx); err != nil {
		return err
	}
	if len(drop) > 0 {
		if _, err := tx.ExecContext(ctx, `DELETE FROM users WHERE blk IN (SELECT value FROM json_each(?))`, jsonInts(drop)); err != nil {
			return err
		}
	}
	return nil
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// saveUsers merges the summaries of newer events into the users table: each
// block holding one of them is read, merged (codec.User.Merge) and written.
func saveUsers(ctx context.Context, tx *sql.Tx, sc *stmts, users map[int64]*codec.User) error {
	if len(users) == 0 {
		return nil
	}
	upd := make([]*codec.User, 0, len(users))
	for _, u := range users {
		upd = append(upd, u)
	}
	slices.SortFunc(upd, func(a, b *codec.User) int { return cmpInt(a.ID, b.ID) })
	var blks []int64
	for _, u := range upd {
		if b := u.ID >> userBlockBits; len(blks) == 0 || blks[len(blks)-1] != b {
			blks = append(blks, b)
		}
	}
	put := newBulk(tx, sc, `INSERT OR REPLACE INTO users(blk, v) VALUES`, 2, "")
	// write encodes the block blk: its stored users (sorted) merged with
	// the updates of upd in that block, which it consumes.
	write := func(blk int64, stored []codec.User) error {
		var v []byte
		prev := blk << userBlockBits
		add := func(u *codec.User) {
			v = appendUser(v, prev, u)
			prev = u.ID
		}
		i := 0
		for len(upd) > 0 && upd[0].ID>>userBlockBits == blk {
			d := upd[0]
			for ; i < len(stored) && stored[i].ID < d.ID; i++ {
				add(&stored[i])
			}
			if i < len(stored) && stored[i].ID == d.ID {
				add(stored[i].Merge(d))
				i++
			} else {
				add(d)
			}
			upd = upd[1:]
		}
		for ; i < len(stored); i++ {
			add(&stored[i])
		}
		return put.add(ctx, blk, v)
	}
	var stored []codec.User
	if err := eachUserBlock(ctx, tx, blks, func(blk int64, v []byte) error {
		// Blocks with updates only, before this one.
		for len(upd) > 0 && upd[0].ID>>userBlockBits < blk {
			if err := write(upd[0].ID>>userBlockBits, nil); err != nil {
				return err
			}
		}
		stored = stored[:0]
		if err := decodeUsers(blk, v, func(u *codec.User) { stored = append(stored, *u) }); err != nil {
			return err
		}
		return write(blk, stored)
	}); err != nil {
		return err
	}
	for len(upd) > 0 {
		if err := write(upd[0].ID>>userBlockBits, nil); err != nil {
			return err
		}
	}
	return put.flush(ctx)
}

// deleteUsers removes the summaries of ids (sorted).
func deleteUsers(ctx context.Context, tx *sql.Tx, sc *stmts, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	return editUsers(ctx, tx, sc, ids, func(u *codec.User) (*codec.User, bool) {
		if _, ok := slices.BinarySearch(ids, u.ID); ok {
			return nil, true
		}
		return u, false
	})
}
