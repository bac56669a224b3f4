package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lakeport/lakeport/store"
)

var (
	_ store.Sessions       = (*Store)(nil)
	_ store.SignInFailures = (*Store)(nil)
)

func (s *Store) CreateSession(ctx context.Context, ss store.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (token_id, user_name, csrf, created_at, last_seen_at, ends_at, flash, tested) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ss.TokenID, ss.UserName, ss.CSRF, ss.CreatedAt.UTC(), ss.LastSeenAt.UTC(), nullTime(ss.EndsAt), ss.Flash, ss.Tested)
	return wrap(err, "create session of token "+ss.TokenID)
}

func (s *Store) Session(ctx context.Context, tokenID string) (store.Session, error) {
	ss := store.Session{TokenID: tokenID}
	var ends pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT user_name, csrf, created_at, last_seen_at, ends_at, flash, tested FROM sessions WHERE token_id = $1`, tokenID).
		Scan(&ss.UserName, &ss.CSRF, &ss.CreatedAt, &ss.LastSeenAt, &ends, &ss.Flash, &ss.Tested)
	ss.CreatedAt, ss.LastSeenAt, ss.EndsAt = ss.CreatedAt.UTC(), ss.LastSeenAt.UTC(), timeOf(ends)
	return ss, wrap(err, "session of token "+tokenID)
}

func (s *Store) TouchSession(ctx context.Context, tokenID string, t, expires time.Time) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE token_id = $2`, t.UTC(), tokenID)
		if err := affected(tag, err, "touch session "+tokenID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tokens SET expires_at = $1 WHERE id = $2`, expires.UTC(), tokenID)
		return wrap(err, "move the expiry of session "+tokenID)
	})
}

func (s *Store) SetSessionFlash(ctx context.Context, tokenID, msg string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET flash = $1 WHERE token_id = $2`, msg, tokenID)
	return affected(tag, err, "set the flash of session "+tokenID)
}

func (s *Store) SetSessionTested(ctx context.Context, tokenID string, sealed []byte) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET tested = $1 WHERE token_id = $2`, sealed, tokenID)
	return affected(tag, err, "set the tested setting of session "+tokenID)
}

func (s *Store) TakeSessionFlash(ctx context.Context, tokenID string) (string, error) {
	// The row lock makes concurrent takers wait; the first clears it, the others then
	// read it empty.
	var msg string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT flash FROM sessions WHERE token_id = $1 FOR UPDATE`, tokenID).Scan(&msg)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && msg == "") {
			msg = ""
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sessions SET flash = '' WHERE token_id = $1`, tokenID)
		return err
	})
	if err != nil {
		return "", wrap(err, "take the flash of session "+tokenID)
	}
	return msg, nil
}

func (s *Store) AddSignInFailure(ctx context.Context, key []byte, at time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO signin_failures (key, at) VALUES ($1, $2)`, key, at.UTC())
	return wrap(err, "record a sign-in failure")
}

func (s *Store) SignInFailures(ctx context.Context, key []byte, since time.Time) (int, time.Time, error) {
	var n int
	var oldest pgtype.Timestamptz
	err := s.pool.QueryRow(ctx, `SELECT count(*), min(at) FROM signin_failures WHERE key = $1 AND at >= $2`, key, since.UTC()).Scan(&n, &oldest)
	return n, timeOf(oldest), wrap(err, "count sign-in failures")
}

func (s *Store) ClearSignInFailures(ctx context.Context, key []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM signin_failures WHERE key = $1`, key)
	return wrap(err, "clear sign-in failures")
}

func (s *Store) PruneSignInFailures(ctx context.Context, before time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM signin_failures WHERE at < $1`, before.UTC())
	return wrap(err, "prune sign-in failures")
}
