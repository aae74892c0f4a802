package sqlite

import (
	"context"
	"database/sql"
	"strings"
)

// bulkRows is how many rows one multi-row INSERT carries: one statement per
// row costs more in the driver than the insert itself.
const bulkRows = 64

// bulk inserts rows through multi-row INSERT statements.
type bulk struct {
	tx   *sql.Tx
	head string // "INSERT INTO t(a, b) VALUES"
	cols int
	vals []any
	full *sql.Stmt // prepared for bulkRows rows
}

func newBulk(tx *sql.Tx, head string, cols int) *bulk {
	return &bulk{tx: tx, head: head, cols: cols}
}

func (b *bulk) add(ctx context.Context, vals ...any) error {
	b.vals = append(b.vals, vals...)
	if len(b.vals) >= b.cols*bulkRows {
		return b.flush(ctx)
	}
	return nil
}

func (b *bulk) stmt(rows int) string {
	row := "(" + marks(b.cols) + ")"
	return b.head + " " + strings.TrimSuffix(strings.Repeat(row+",", rows), ",")
}

func (b *bulk) flush(ctx context.Context) error {
	n := len(b.vals) / b.cols
	if n == 0 {
		return nil
	}
	var err error
	if n == bulkRows {
		if b.full == nil {
			if b.full, err = b.tx.PrepareContext(ctx, b.stmt(bulkRows)); err != nil {
				return err
			}
		}
		_, err = b.full.ExecContext(ctx, b.vals...)
	} else {
		_, err = b.tx.ExecContext(ctx, b.stmt(n), b.vals...)
	}
	b.vals = b.vals[:0]
	return err
}

func (b *bulk) close() {
	if b.full != nil {
		b.full.Close()
	}
}
