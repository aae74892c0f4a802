package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"math/bits"
	"strings"
	"sync"
)

// bulkRows is the most rows one multi-row INSERT carries (a power of two):
// one statement per row costs more in the driver than the insert itself.
const bulkRows = 64

// stmts caches the writer's prepared statements by their text, so that a
// statement is parsed once per store rather than once per use (parsing a
// 64-row INSERT at every use was a measurable share of ingest). Used with
// Store.mu held.
//
// The writer pool has one connection, held by the open transaction, so a
// statement first met inside a transaction is prepared on it for that use
// and on the pool by ready, once the transaction is over.
type stmts struct {
	db    *sql.DB
	m     map[string]*sql.Stmt
	later map[string]bool
}

// in returns the statement prepared for query, bound to tx.
func (c *stmts) in(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	if st := c.m[query]; st != nil {
		return tx.StmtContext(ctx, st), nil
	}
	if c.later == nil {
		c.later = map[string]bool{}
	}
	c.later[query] = true
	return tx.PrepareContext(ctx, query)
}

// ready prepares on the pool the statements met since the last call. Called
// with no transaction open.
func (c *stmts) ready(ctx context.Context) error {
	for q := range c.later {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		c.m[q] = st
		delete(c.later, q)
	}
	return nil
}

// exec runs query in tx through its cached statement.
func (c *stmts) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	st, err := c.in(ctx, tx, query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(ctx, args...)
	return err
}

func (c *stmts) close() error {
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	clear(c.m)
	return errors.Join(errs...)
}

type shape struct {
	head, tail string
	cols, n    int
}

var (
	shapesMu sync.Mutex
	shapes   = map[shape]string{}
)

// rowsStmt returns head followed by n rows of cols placeholders, then tail.
func rowsStmt(head string, cols, n int, tail string) string {
	k := shape{head, tail, cols, n}
	shapesMu.Lock()
	defer shapesMu.Unlock()
	if q, ok := shapes[k]; ok {
		return q
	}
	row := "(" + marks(cols) + ")"
	q := head + " " + strings.TrimSuffix(strings.Repeat(row+",", n), ",") + tail
	shapes[k] = q
	return q
}

// chunk returns the rows of the next statement for n pending rows: the
// largest power of two not above n or bulkRows, so that at most
// log2(bulkRows)+1 statement shapes per table are ever prepared.
func chunk(n int) int {
	if n >= bulkRows {
		return bulkRows
	}
	return 1 << (bits.Len(uint(n)) - 1)
}

// bulk inserts rows through multi-row INSERT statements.
type bulk struct {
	tx   *sql.Tx
	sc   *stmts
	head string // "INSERT INTO t(a, b) VALUES"
	tail string // after the rows, e.g. an upsert clause
	cols int
	vals []any
}

func newBulk(tx *sql.Tx, sc *stmts, head string, cols int, tail string) *bulk {
	return &bulk{tx: tx, sc: sc, head: head, tail: tail, cols: cols}
}

func (b *bulk) add(ctx context.Context, vals ...any) error {
	b.vals = append(b.vals, vals...)
	if len(b.vals) >= b.cols*bulkRows {
		return b.flush(ctx)
	}
	return nil
}

func (b *bulk) flush(ctx context.Context) error {
	vals := b.vals
	for n := len(vals) / b.cols; n > 0; n = len(vals) / b.cols {
		c := chunk(n)
		if err := b.sc.exec(ctx, b.tx, rowsStmt(b.head, b.cols, c, b.tail), vals[:c*b.cols]...); err != nil {
			return err
		}
		vals = vals[c*b.cols:]
	}
	clear(b.vals)
	b.vals = b.vals[:0]
	return nil
}
