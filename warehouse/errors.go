package warehouse

import "errors"

var (
	// ErrInvalidOrgID is wrapped when an organization ID cannot name a
	// folder of the managed warehouse.
	ErrInvalidOrgID = errors.New("warehouse: invalid organization ID")
	// ErrUnknownMode is wrapped when the storage mode is neither managed nor
	// customer_hosted.
	ErrUnknownMode = errors.New("warehouse: unknown storage mode")
	// ErrNoCredentials is wrapped when the role of a customer bucket cannot
	// be assumed; the wrapped AWS error says why.
	ErrNoCredentials = errors.New("warehouse: cannot get credentials for the bucket")
)
