package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits of a tenant slug.
const (
	MinSlugLength = 3
	MaxSlugLength = 63
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

// NormalizeSlug trims and lowercases slug and checks the result. Its errors
// state the rule that failed, without naming the field.
func NormalizeSlug(slug string) (string, error) {
	slug = strings.ToLower(strings.TrimSpace(slug))
	switch {
	case slug == "":
		return "", errors.New("required")
	case reservedSlugs[slug]:
		return "", fmt.Errorf("%q is reserved; choose another slug", slug)
	case !utf8.ValidString(slug) || len(slug) < MinSlugLength || len(slug) > MaxSlugLength:
		return "", fmt.Errorf("must be %d to %d characters, got %d", MinSlugLength, MaxSlugLength, utf8.RuneCountInString(slug))
	case !slugPattern.MatchString(slug):
		return "", fmt.Errorf("%q must contain only lowercase letters, digits and single hyphens, start with a letter and not end with a hyphen", slug)
	}

	return slug, nil
}
