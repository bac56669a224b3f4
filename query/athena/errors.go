package athena

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/athena/types"
	"github.com/aws/smithy-go"

	"github.com/lakeport/lakeport/query"
)

// Athena's error categories (AthenaError.ErrorCategory).
const (
	categorySystem = 1
	categoryUser   = 2
)

// apiError wraps a failed API call. These are the engine's (or AWS's)
// trouble, never the SQL's: the SQL is judged only once the query runs.
func apiError(op string, err error) error {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("athena: %s: %s: %s: %w", op, ae.ErrorCode(), ae.ErrorMessage(), err)
	}
	return fmt.Errorf("athena: %s: %w", op, err)
}

var (
	linePos   = regexp.MustCompile(`line (\d+):(\d+)`)
	errorCode = regexp.MustCompile(`^([A-Z][A-Z0-9_]+): `)
)

// userCodes are Trino's error names for the query's own faults, for failures
// that come without an AthenaError.
var userCodes = map[string]bool{
	"SYNTAX_ERROR": true, "COLUMN_NOT_FOUND": true, "TABLE_NOT_FOUND": true, "SCHEMA_NOT_FOUND": true,
	"FUNCTION_NOT_FOUND": true, "TYPE_MISMATCH": true, "INVALID_CAST_ARGUMENT": true,
	"DIVISION_BY_ZERO": true, "INVALID_FUNCTION_ARGUMENT": true, "NOT_SUPPORTED": true,
	"AMBIGUOUS_NAME": true, "MISSING_GROUP_BY": true, "INVALID_LITERAL": true,
	"NUMERIC_VALUE_OUT_OF_RANGE": true, "MISSING_ATTRIBUTE": true, "EXPRESSION_NOT_AGGREGATE": true,
}

// failure turns a FAILED query into the query package's errors: the user's
// fault (AthenaError category 2, or a Trino user error name) is a
// *query.SQLError wrapping ErrBadSQL; exhausted resources wrap ErrResources;
// Athena's own time limit wraps ErrTimeout; the rest is internal.
func failure(id string, st *types.QueryExecutionStatus, p *plan, orig string) error {
	msg := aws.ToString(st.StateChangeReason)
	cat, typ := int32(0), int32(-1)
	if ae := st.AthenaError; ae != nil {
		if msg == "" {
			msg = aws.ToString(ae.ErrorMessage)
		}
		if ae.ErrorCategory != nil {
			cat = *ae.ErrorCategory
		}
		if ae.ErrorType != nil {
			typ = *ae.ErrorType
		}
	}
	if msg == "" {
		msg = "the query failed"
	}
	// Say connector names, not the Glue databases they map to.
	for db, conn := range p.names {
		msg = strings.ReplaceAll(msg, db, conn)
	}
	code := ""
	if m := errorCode.FindStringSubmatch(msg); m != nil {
		code = m[1]
	}
	var class error
	switch {
	case typ >= 0 && typ < 100:
		class = query.ErrResources
	case typ == 206 || typ == 210:
		return fmt.Errorf("%w: Athena stopped query %s: %s", query.ErrTimeout, id, msg)
	case cat == categoryUser:
		class = query.ErrBadSQL
	case cat == 0 && (userCodes[code] || linePos.MatchString(msg)):
		class = query.ErrBadSQL
	default:
		return fmt.Errorf("athena: query %s failed (error category %d, type %d): %s", id, cat, typ, msg)
	}
	se := &query.SQLError{Kind: code, Message: msg, Err: class}
	if se.Kind == "" {
		se.Kind = "Athena"
	}
	if m := linePos.FindStringSubmatchIndex(msg); m != nil {
		line, _ := strconv.Atoi(msg[m[2]:m[3]])
		col, _ := strconv.Atoi(msg[m[4]:m[5]])
		se.Line, se.Column = p.origPosition(orig, line, col)
		se.Message = msg[:m[0]] + fmt.Sprintf("line %d:%d", se.Line, se.Column) + msg[m[1]:]
	}
	return se
}
