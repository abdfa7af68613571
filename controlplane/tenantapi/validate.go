package tenantapi

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"silo.dev/silo/controlplane/catalog"
)

// Limits on tenant fields.
const (
	maxNameLength   = 255
	maxUserIDLength = 255
	// maxConfigBytes caps the config object, measured as compact JSON.
	maxConfigBytes = 64 << 10
)

// normalizeSlug trims and lowercases slug and checks the result.
func normalizeSlug(slug string) (string, error) {
	normalized, err := catalog.NormalizeSlug(slug)
	if err != nil {
		return "", invalid("slug: %v", err)
	}

	return normalized, nil
}

// normalizeName trims name and checks the result.
func normalizeName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return "", invalid("name: required")
	case !utf8.ValidString(name):
		return "", invalid("name: must be valid UTF-8")
	case utf8.RuneCountInString(name) > maxNameLength:
		return "", invalid("name: must be at most %d characters, got %d", maxNameLength, utf8.RuneCountInString(name))
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return "", invalid("name: must not contain control characters")
	}

	return name, nil
}

// encodeConfig returns config as a JSON object, {} when config is nil, and
// checks its size.
func encodeConfig(config *structpb.Struct) ([]byte, error) {
	if config == nil {
		return []byte("{}"), nil
	}
	encoded, err := protojson.Marshal(config)
	if err != nil {
		return nil, invalid("config: not representable as JSON: %v", err)
	}
	if len(encoded) > maxConfigBytes {
		return nil, invalid("config: must be at most %d bytes of JSON, got %d", maxConfigBytes, len(encoded))
	}

	return encoded, nil
}

// validateUserID checks a user id given in field: the identity provider's
// subject, 1 to 255 characters without control characters.
func validateUserID(field, userID string) (string, error) {
	switch {
	case userID == "":
		return "", invalid("%s: required", field)
	case !utf8.ValidString(userID):
		return "", invalid("%s: must be valid UTF-8", field)
	case utf8.RuneCountInString(userID) > maxUserIDLength:
		return "", invalid("%s: must be at most %d characters, got %d", field, maxUserIDLength, utf8.RuneCountInString(userID))
	case strings.IndexFunc(userID, unicode.IsControl) >= 0:
		return "", invalid("%s: must not contain control characters", field)
	}

	return userID, nil
}
