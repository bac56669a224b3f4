package lake

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
)

// merge stages a copy-on-write upsert in txn: one overwrite snapshot whose
// delete filter matches the incoming keys. iceberg-go's Overwrite with a
// filter (table/transaction.go Transaction.Overwrite →
// performCopyOnWriteDeletion) deletes files whose rows all match, rewrites
// files with some matching rows, and adds the new rows, in one snapshot.
//
// The filter is "key IN (…)" for a one-column key and an OR of ANDs for a
// composite key; the cost grows with the number of distinct keys in the
// commit, so keep merge commits to batch size (thousands to a few hundred
// thousand keys).
func (t *Table) merge(ctx context.Context, txn *table.Transaction, sc *arrow.Schema, batches []arrow.RecordBatch, pk []string, props iceberg.Properties) error {
	keyCols := make([]int, len(pk))
	for i, name := range pk {
		idx := sc.FieldIndices(name)
		if len(idx) != 1 {
			return fmt.Errorf("%w: column %q", ErrNoPrimaryKey, name)
		}
		keyCols[i] = idx[0]
	}

	// Last occurrence of each key wins.
	type pos struct{ batch, row int }
	last := map[string]pos{}
	var keyOrder []string
	var keyLits [][]iceberg.Literal
	var buf []byte
	for bi, b := range batches {
		for r := 0; r < int(b.NumRows()); r++ {
			var ok bool
			buf, ok = appendKey(buf[:0], b, keyCols, r)
			if !ok {
				continue // a null key column: appended as is
			}
			k := string(buf)
			if _, seen := last[k]; !seen {
				lits := make([]iceberg.Literal, len(keyCols))
				for i, c := range keyCols {
					lit, err := literalAt(b.Column(c), r)
					if err != nil {
						return fmt.Errorf("merge key %q: %w", pk[i], err)
					}
					lits[i] = lit
				}
				keyOrder = append(keyOrder, k)
				keyLits = append(keyLits, lits)
			}
			last[k] = pos{bi, r}
		}
	}

	deduped := make([]arrow.RecordBatch, 0, len(batches))
	defer func() {
		for _, b := range deduped {
			b.Release()
		}
	}()
	mem := memory.DefaultAllocator
	for bi, b := range batches {
		mask := array.NewBooleanBuilder(mem)
		drop := 0
		for r := 0; r < int(b.NumRows()); r++ {
			var ok bool
			buf, ok = appendKey(buf[:0], b, keyCols, r)
			keep := !ok || last[string(buf)] == pos{bi, r}
			if !keep {
				drop++
			}
			mask.Append(keep)
		}
		m := mask.NewBooleanArray()
		mask.Release()
		if drop == 0 {
			m.Release()
			b.Retain()
			deduped = append(deduped, b)
			continue
		}
		out, err := compute.FilterRecordBatch(ctx, b, m, compute.DefaultFilterOptions())
		m.Release()
		if err != nil {
			return fmt.Errorf("dedup batch: %w", err)
		}
		deduped = append(deduped, out)
	}

	if len(keyOrder) == 0 {
		return withReader(sc, deduped, func(r array.RecordReader) error { return txn.Append(ctx, r, props) })
	}
	filter := keyFilter(pk, keyLits)
	return withReader(sc, deduped, func(r array.RecordReader) error {
		return txn.Overwrite(ctx, r, props, table.WithOverwriteFilter(filter))
	})
}

func keyFilter(pk []string, keys [][]iceberg.Literal) iceberg.BooleanExpression {
	if len(pk) == 1 {
		lits := make([]iceberg.Literal, len(keys))
		for i, k := range keys {
			lits[i] = k[0]
		}
		return iceberg.SetPredicate(iceberg.OpIn, iceberg.Reference(pk[0]), lits)
	}
	ors := make([]iceberg.BooleanExpression, len(keys))
	for i, k := range keys {
		var and iceberg.BooleanExpression = iceberg.LiteralPredicate(iceberg.OpEQ, iceberg.Reference(pk[0]), k[0])
		for j := 1; j < len(pk); j++ {
			and = iceberg.NewAnd(and, iceberg.LiteralPredicate(iceberg.OpEQ, iceberg.Reference(pk[j]), k[j]))
		}
		ors[i] = and
	}
	// A balanced tree keeps the expression shallow.
	for len(ors) > 1 {
		next := ors[:0:0]
		for i := 0; i < len(ors); i += 2 {
			if i+1 < len(ors) {
				next = append(next, iceberg.NewOr(ors[i], ors[i+1]))
			} else {
				next = append(next, ors[i])
			}
		}
		ors = next
	}
	return ors[0]
}

// appendKey appends an unambiguous encoding of row r's key to buf; ok is
// false when a key column is null.
func appendKey(buf []byte, b arrow.RecordBatch, cols []int, r int) ([]byte, bool) {
	for _, c := range cols {
		col := b.Column(c)
		if col.IsNull(r) {
			return buf, false
		}
		v := col.ValueStr(r)
		buf = binary.AppendUvarint(buf, uint64(len(v)))
		buf = append(buf, v...)
	}
	return buf, true
}

// literalAt is the Iceberg literal of a key value.
func literalAt(col arrow.Array, r int) (iceberg.Literal, error) {
	switch a := col.(type) {
	case *array.String:
		return iceberg.NewLiteral(a.Value(r)), nil
	case *array.LargeString:
		return iceberg.NewLiteral(a.Value(r)), nil
	case *array.Int64:
		return iceberg.NewLiteral(a.Value(r)), nil
	case *array.Int32:
		return iceberg.NewLiteral(a.Value(r)), nil
	case *array.Boolean:
		return iceberg.NewLiteral(a.Value(r)), nil
	case *array.Float64:
		if math.IsNaN(a.Value(r)) {
			return nil, fmt.Errorf("NaN cannot be a key")
		}
		return iceberg.NewLiteral(a.Value(r)), nil
	case *array.Date32:
		return iceberg.NewLiteral(iceberg.Date(a.Value(r))), nil
	case *array.Timestamp:
		return iceberg.NewLiteral(iceberg.Timestamp(a.Value(r))), nil
	case *array.Time64:
		return iceberg.NewLiteral(iceberg.Time(a.Value(r))), nil
	}
	return nil, fmt.Errorf("unsupported key type %s", col.DataType())
}
