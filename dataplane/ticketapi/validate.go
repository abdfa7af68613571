package ticketapi

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on ticket and workflow fields. Lengths are in characters (Unicode
// code points), as char_length in the tenant schema's CHECK constraints
// counts them.
const (
	maxTitleLength        = 500
	maxStatusLength       = 63
	maxAssigneeLength     = 255
	maxWorkflowNameLength = 255
	// maxWorkflowStatuses caps the statuses of one workflow.
	maxWorkflowStatuses = 50
)

// defaultStatus is the status of a ticket created without one.
const defaultStatus = "open"

// defaultWorkflowStatuses returns the statuses of a workflow created
// without any, the same as the column default of workflows.statuses.
func defaultWorkflowStatuses() []string {
	return []string{"open", "in_progress", "done"}
}

// normalizeLine trims a single-line text field and checks that it has 1 to
// maxLength characters and no control characters.
func normalizeLine(field, value string, maxLength int) (string, error) {
	value = strings.TrimSpace(value)
	length := utf8.RuneCountInString(value)
	switch {
	case value == "":
		return "", invalid("%s: required", field)
	case !utf8.ValidString(value):
		return "", invalid("%s: must be valid UTF-8", field)
	case length > maxLength:
		return "", invalid("%s: must be at most %d characters, got %d", field, maxLength, length)
	case strings.IndexFunc(value, unicode.IsControl) >= 0:
		return "", invalid("%s: must not contain control characters", field)
	}

	return value, nil
}

func normalizeTitle(title string) (string, error) {
	return normalizeLine("title", title, maxTitleLength)
}

func normalizeStatus(field, status string) (string, error) {
	return normalizeLine(field, status, maxStatusLength)
}

// validateAssignee checks an assignee and returns nil for none. Unlike
// titles it is not trimmed, because it is a user id that must match
// exactly.
func validateAssignee(assignee string) (*string, error) {
	length := utf8.RuneCountInString(assignee)
	switch {
	case assignee == "":
		return nil, nil
	case !utf8.ValidString(assignee):
		return nil, invalid("assignee: must be valid UTF-8")
	case length > maxAssigneeLength:
		return nil, invalid("assignee: must be at most %d characters, got %d", maxAssigneeLength, length)
	case strings.IndexFunc(assignee, unicode.IsControl) >= 0:
		return nil, invalid("assignee: must not contain control characters")
	}

	return &assignee, nil
}

// validateDescription checks a free-text description, which may span
// lines.
func validateDescription(description string) (string, error) {
	if !utf8.ValidString(description) {
		return "", invalid("description: must be valid UTF-8")
	}

	return description, nil
}

// normalizeStatuses trims and checks the statuses of a new workflow and
// returns the default statuses for an empty list.
func normalizeStatuses(statuses []string) ([]string, error) {
	if len(statuses) == 0 {
		return defaultWorkflowStatuses(), nil
	}
	if len(statuses) > maxWorkflowStatuses {
		return nil, invalid("statuses: must be at most %d, got %d", maxWorkflowStatuses, len(statuses))
	}

	normalized := make([]string, 0, len(statuses))
	seen := make(map[string]bool, len(statuses))
	for i, status := range statuses {
		status, err := normalizeStatus(fmt.Sprintf("statuses[%d]", i), status)
		if err != nil {
			return nil, err
		}
		if seen[status] {
			return nil, invalid("statuses[%d]: %q is listed twice; list each status once", i, status)
		}
		seen[status] = true
		normalized = append(normalized, status)
	}

	return normalized, nil
}

// parseID parses a required UUID given in field.
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

// parseOptionalID parses a UUID given in field and returns nil for an
// empty one.
func parseOptionalID(field, id string) (*uuid.UUID, error) {
	if id == "" {
		return nil, nil
	}
	parsed, err := parseID(field, id)
	if err != nil {
		return nil, err
	}

	return &parsed, nil
}
