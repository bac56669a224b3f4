package storage

import (
	"errors"
	"strings"
)

var (
	// ErrInvalidSetting is wrapped by errors about a Setting that fails Check.
	ErrInvalidSetting = errors.New("storage: invalid setting")
	// ErrInvalidAccess is wrapped by errors about an Access the platform built
	// wrongly (an external ID or session name AWS would reject).
	ErrInvalidAccess = errors.New("storage: invalid access")
)

// SettingError carries every problem Check found with a Setting.
type SettingError struct{ Fields []FieldError }

func (e *SettingError) Error() string {
	msgs := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		msgs[i] = f.Error()
	}
	return "storage: invalid setting: " + strings.Join(msgs, "; ")
}

func (e *SettingError) Unwrap() error { return ErrInvalidSetting }
