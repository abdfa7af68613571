// Package page holds the page size rules that every List procedure of the
// API shares.
package page

import "fmt"

// Page sizes of List procedures.
const (
	// DefaultSize is the page size when a request sets none.
	DefaultSize = 50
	// MaxSize is the largest page; larger requests get this many.
	MaxSize = 1000
)

// Size returns the page size for a request's page_size field: DefaultSize
// for 0, and at most MaxSize. A negative value is an error.
func Size(requested int32) (int, error) {
	switch {
	case requested < 0:
		return 0, fmt.Errorf("must not be negative, got %d", requested)
	case requested == 0:
		return DefaultSize, nil
	case requested > MaxSize:
		return MaxSize, nil
	}

	return int(requested), nil
}
