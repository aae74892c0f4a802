package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/loginguard/loginguard/admin"
)

// table is rows under a header, with an optional title.
type table struct {
	title  string
	header []string
	rows   [][]string
}

// writeTables prints tables for people: aligned columns, a blank line
// between two tables, "(none)" for an empty one.
func writeTables(w io.Writer, ts ...table) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, t := range ts {
		if i > 0 {
			fmt.Fprintln(tw)
		}
		if t.title != "" {
			fmt.Fprintln(tw, t.title)
		}
		fmt.Fprintln(tw, strings.Join(t.header, "\t"))
		if len(t.rows) == 0 {
			fmt.Fprintln(tw, "(none)")
		}
		for _, r := range t.rows {
			fmt.Fprintln(tw, strings.Join(clean(r), "\t"))
		}
		// Flush per table so that each table aligns on its own.
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

// clean replaces control characters (a tab would break the alignment, an
// escape sequence would reach the terminal) with spaces.
func clean(r []string) []string {
	out := make([]string, len(r))
	for i, s := range r {
		out[i] = strings.Map(func(c rune) rune {
			if c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) {
				return ' '
			}
			return c
		}, s)
	}
	return out
}

// writeCSV prints one table as CSV, every cell neutralised against CSV
// injection.
func writeCSV(w io.Writer, t table) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(t.header); err != nil {
		return err
	}
	rec := make([]string, 0, len(t.header))
	for _, r := range t.rows {
		rec = rec[:0]
		for _, v := range r {
			rec = append(rec, admin.Neutralise(v))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// show prints raw as JSON, the tables for people, or csvTable as CSV.
func (e *env) show(raw []byte, csvTable table, tables ...table) error {
	switch e.output {
	case "json":
		return e.printJSON(raw)
	case "csv":
		return writeCSV(e.out, csvTable)
	}
	return writeTables(e.out, tables...)
}

// humanTime formats a time for a table: UTC, to the second; "-" for none.
func humanTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// isoTime formats a time for CSV: RFC 3339 UTC; "" for none.
func isoTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// truncate shortens s to n runes for a table cell.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
