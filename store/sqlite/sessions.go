package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lakeport/lakeport/store"
)

var (
	_ store.Sessions       = (*Store)(nil)
	_ store.SignInFailures = (*Store)(nil)
)

func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (token_id, user_name, csrf, created_at, last_seen_at, ends_at, flash, tested) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.TokenID, ss.UserName, ss.CSRF, formatTime(ss.CreatedAt), formatTime(ss.LastSeenAt), formatTime(ss.EndsAt), ss.Flash, ss.Tested)
	if err != nil {
		return fmt.Errorf("sqlite: create session of token %s: %w", ss.TokenID, err)
	}
	return nil
}

func (s *Store) Session(ctx context.Context, tokenID string) (store.Session, error) {
	ss := store.Session{TokenID: tokenID}
	var created, seen, ends string
	err := s.db.QueryRowContext(ctx, `SELECT user_name, csrf, created_at, last_seen_at, ends_at, flash, tested FROM sessions WHERE token_id = ?`, tokenID).
		Scan(&ss.UserName, &ss.CSRF, &created, &seen, &ends, &ss.Flash, &ss.Tested)
	if errors.Is(err, sql.ErrNoRows) {
		return ss, fmt.Errorf("sqlite: session of token %s: %w", tokenID, store.ErrNotFound)
	}
	if err != nil {
		return ss, fmt.Errorf("sqlite: session of token %s: %w", tokenID, err)
	}
	ss.CreatedAt, ss.LastSeenAt, ss.EndsAt = parseTime(created), parseTime(seen), parseTime(ends)
	return ss, nil
}

func (s *Store) TouchSession(ctx context.Context, tokenID string, t, expires time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: touch session %s: %w", tokenID, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE token_id = ?`, formatTime(t), tokenID)
	if err != nil {
		return fmt.Errorf("sqlite: touch session %s: %w", tokenID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: touch session %s: %w", tokenID, store.ErrNotFound)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tokens SET expires_at = ? WHERE id = ?`, formatTime(expires), tokenID); err != nil {
		return fmt.Errorf("sqlite: move the expiry of session %s: %w", tokenID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: touch session %s: %w", tokenID, err)
	}
	return nil
}

func (s *Store) SetSessionFlash(ctx context.Context, tokenID, msg string) error {
	return s.updateSession(ctx, tokenID, "set the flash of", `flash = ?`, msg)
}

func (s *Store) SetSessionTested(ctx context.Context, tokenID string, sealed []byte) error {
	return s.updateSession(ctx, tokenID, "set the tested setting of", `tested = ?`, sealed)
}

func (s *Store) updateSession(ctx context.Context, tokenID, what, set string, v any) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET `+set+` WHERE token_id = ?`, v, tokenID)
	if err != nil {
		return fmt.Errorf("sqlite: %s session %s: %w", what, tokenID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("sqlite: %s session %s: %w", what, tokenID, store.ErrNotFound)
	}
	return nil
}

func (s *Store) TakeSessionFlash(ctx context.Context, tokenID string) (string, error) {
	// One write transaction (BEGIN IMMEDIATE): of concurrent takers, one sees the message.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("sqlite: take the flash of session %s: %w", tokenID, err)
	}
	defer tx.Rollback()
	var msg string
	err = tx.QueryRowContext(ctx, `SELECT flash FROM sessions WHERE token_id = ?`, tokenID).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && msg == "") {
		return "", nil
	}
	if err == nil {
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET flash = '' WHERE token_id = ?`, tokenID)
	}
	if err == nil {
		err = tx.Commit()
	}
	if err != nil {
		return "", fmt.Errorf("sqlite: take the flash of session %s: %w", tokenID, err)
	}
	return msg, nil
}

func (s *Store) AddSignInFailure(ctx context.Context, key []byte, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `INSERT INTO signin_failures (key, at) VALUES (?, ?)`, key, at.UnixNano()); err != nil {
		return fmt.Errorf("sqlite: record a sign-in failure: %w", err)
	}
	return nil
}

func (s *Store) SignInFailures(ctx context.Context, key []byte, since time.Time) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT count(*), min(at) FROM signin_failures WHERE key = ? AND at >= ?`, key, since.UnixNano()).Scan(&n, &oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: count sign-in failures: %w", err)
	}
	if !oldest.Valid {
		return n, time.Time{}, nil
	}
	return n, time.Unix(0, oldest.Int64).UTC(), nil
}

func (s *Store) ClearSignInFailures(ctx context.Context, key []byte) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM signin_failures WHERE key = ?`, key); err != nil {
		return fmt.Errorf("sqlite: clear sign-in failures: %w", err)
	}
	return nil
}

func (s *Store) PruneSignInFailures(ctx context.Context, before time.Time) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM signin_failures WHERE at < ?`, before.UnixNano()); err != nil {
		return fmt.Errorf("sqlite: prune sign-in failures: %w", err)
	}
	return nil
}
