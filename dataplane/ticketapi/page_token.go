package ticketapi

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"silo.dev/silo/internal/page"
)

// Kinds of list a page token belongs to.
const (
	ticketList   = "tickets"
	workflowList = "workflows"
)

// cursor is a keyset position: the last row of the previous page in the
// order created_at, id.
type cursor struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// pageToken is the cursor encoded in next_page_token, with the list and the
// filter it was issued for, so that it cannot be replayed under another.
type pageToken struct {
	List      string    `json:"l"`
	CreatedAt time.Time `json:"c"`
	ID        uuid.UUID `json:"i"`
	Status    string    `json:"s,omitempty"`
}

// encodePageToken returns the opaque token for the page after position. It
// fails only for a created_at outside the years 0 to 9999, which
// time.Time's JSON encoding rejects.
func encodePageToken(list string, position cursor, status string) (string, error) {
	encoded, err := json.Marshal(pageToken{List: list, CreatedAt: position.CreatedAt, ID: position.ID, Status: status})
	if err != nil {
		return "", fmt.Errorf("encode page token after %s: %w", position.ID, err)
	}

	return base64.RawURLEncoding.EncodeToString(encoded), nil
}

// decodePageToken returns the cursor in token, nil for an empty token. A
// token issued for another list or another status filter is rejected.
func decodePageToken(token, list, status string) (*cursor, error) {
	if token == "" {
		return nil, nil
	}

	raw, err := base64.RawURLEncoding.DecodeString(token)
	var decoded pageToken
	if err == nil {
		err = json.Unmarshal(raw, &decoded)
	}
	if err != nil || decoded.List != list || decoded.ID == uuid.Nil || decoded.CreatedAt.IsZero() {
		return nil, invalid("page_token: malformed; pass next_page_token from the previous response unchanged")
	}
	if decoded.Status != status {
		return nil, invalid("page_token: issued for another status filter; start again without a token")
	}

	return &cursor{CreatedAt: decoded.CreatedAt, ID: decoded.ID}, nil
}

// pageSize returns the page size for a request's page_size field, as
// page.Size decides it.
func pageSize(requested int32) (int, error) {
	size, err := page.Size(requested)
	if err != nil {
		return 0, invalid("page_size: %v", err)
	}

	return size, nil
}

// filter is one equality condition of a list query.
type filter struct {
	column string
	value  any
}

// keysetQuery returns the query for one page of table: up to limit rows
// after the cursor in the order created_at, id, matching every filter. The
// query text contains only the conditions in use, so that PostgreSQL plans
// each variant with a matching index even for a generic plan. Table,
// columns and filter columns are SQL text and must be constants.
func keysetQuery(table, columns string, filters []filter, after *cursor, limit int) (string, []any) {
	var conditions []string
	var args []any
	for _, f := range filters {
		args = append(args, f.value)
		conditions = append(conditions, fmt.Sprintf("%s = $%d", f.column, len(args)))
	}
	if after != nil {
		args = append(args, after.CreatedAt, after.ID)
		conditions = append(conditions, fmt.Sprintf("(created_at, id) > ($%d, $%d)", len(args)-1, len(args)))
	}

	sql := "SELECT " + columns + " FROM " + table
	if len(conditions) > 0 {
		sql += " WHERE " + strings.Join(conditions, " AND ")
	}
	args = append(args, limit)
	sql += fmt.Sprintf(" ORDER BY created_at, id LIMIT $%d", len(args))

	return sql, args
}
