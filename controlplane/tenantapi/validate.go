package tenantapi

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Limits on tenant fields.
const (
	maxNameLength   = 255
	maxUserIDLength = 255
	minSlugLength   = 3
	maxSlugLength   = 63
	// maxConfigBytes caps the config object, measured as compact JSON.
	maxConfigBytes = 64 << 10
)

// slugPattern accepts lowercase letters, digits and single hyphens,
// starting with a letter and not ending with a hyphen.
var slugPattern = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// reservedSlugs are words that routes, tools or PostgreSQL give a meaning
// of their own, so no tenant may be called by them.
var reservedSlugs = map[string]bool{
	"admin": true, "api": true, "current": true, "switch": true, "me": true,
	"www": true, "silo": true, "postgres": true, "template0": true,
	"template1": true, "public": true, "root": true, "system": true,
	"tenants": true, "users": true, "healthz": true, "readyz": true,
	"metrics": true, "internal": true,
}

// normalizeSlug trims and lowercases slug and checks the result.
func normalizeSlug(slug string) (string, error) {
	slug = strings.ToLower(strings.TrimSpace(slug))
	switch {
	case slug == "":
		return "", invalid("slug: required")
	case reservedSlugs[slug]:
		return "", invalid("slug: %q is reserved; choose another slug", slug)
	case !utf8.ValidString(slug) || len(slug) < minSlugLength || len(slug) > maxSlugLength:
		return "", invalid("slug: must be %d to %d characters, got %d", minSlugLength, maxSlugLength, utf8.RuneCountInString(slug))
	case !slugPattern.MatchString(slug):
		return "", invalid("slug: %q must contain only lowercase letters, digits and single hyphens, start with a letter and not end with a hyphen", slug)
	}

	return slug, nil
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

// parseID parses a tenant id given in field.
func parseID(field, id string) (uuid.UUID, error) {
	if id == "" {
		return uuid.Nil, invalid("%s: required", field)
	}
	parsed, err := uuid.Parse(id)
	if err != nil {
		return uuid.Nil, invalid("%s: %q is not a UUID", field, id)
	}

	return parsed, nil
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
