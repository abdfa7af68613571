package tenantapi

import (
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/google/uuid"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/page"
)

// pageToken is the keyset position encoded in next_page_token, with the
// filter it was issued for so that it cannot be replayed under another.
type pageToken struct {
	CreatedAt time.Time      `json:"c"`
	ID        uuid.UUID      `json:"i"`
	Status    catalog.Status `json:"s,omitempty"`
}

func encodePageToken(t catalog.Tenant, status catalog.Status) string {
	encoded, _ := json.Marshal(pageToken{CreatedAt: t.CreatedAt, ID: t.ID, Status: status})

	return base64.RawURLEncoding.EncodeToString(encoded)
}

// decodePageToken returns the cursor in token, nil for an empty token.
func decodePageToken(token string, status catalog.Status) (*catalog.Cursor, error) {
	if token == "" {
		return nil, nil
	}

	raw, err := base64.RawURLEncoding.DecodeString(token)
	var decoded pageToken
	if err == nil {
		err = json.Unmarshal(raw, &decoded)
	}
	if err != nil || decoded.ID == uuid.Nil || decoded.CreatedAt.IsZero() {
		return nil, invalid("page_token: malformed; pass next_page_token from the previous response unchanged")
	}
	if decoded.Status != status {
		return nil, invalid("page_token: issued for another status filter; start again without a token")
	}

	return &catalog.Cursor{CreatedAt: decoded.CreatedAt, ID: decoded.ID}, nil
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

// encodeStringToken wraps a plain keyset position (a user id, an event id)
// as an opaque page token.
func encodeStringToken(position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(position))
}

// decodeStringToken returns the position in a token from
// encodeStringToken; "" for an empty token.
func decodeStringToken(token string) (string, error) {
	decoded, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", invalid("page_token: malformed; pass next_page_token from the previous response unchanged")
	}

	return string(decoded), nil
}
