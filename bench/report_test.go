//go:build bench

package bench

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// benchmarksDoc is the page of benchmark results, relative to this
// package's folder, where go test runs.
const benchmarksDoc = "../docs/benchmarks.md"

// docHeader starts the page when no benchmark has written it yet.
const docHeader = `# Benchmarks

Results recorded by ` + "`make bench`" + `, which runs the tests named
TestBenchmark* in bench/. Each benchmark rewrites only its own section,
between the markers ` + "`<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->`" + `,
and keeps the rest of the page. Numbers from one machine are comparable
with each other, not with numbers from another machine.
`

// sectionMarkers returns the comment lines that enclose the section name.
func sectionMarkers(name string) (start, end string) {
	return "<!-- bench:" + name + ":start -->", "<!-- bench:" + name + ":end -->"
}

// replaceSection returns doc with the section name set to body. It replaces
// the text between the section's markers, or appends the section with its
// markers when doc has none. An empty doc gets docHeader first.
func replaceSection(doc, name, body string) (string, error) {
	start, end := sectionMarkers(name)
	section := start + "\n" + strings.TrimRight(body, "\n") + "\n" + end

	if doc == "" {
		doc = docHeader
	}

	startAt := strings.Index(doc, start)
	endAt := strings.Index(doc, end)
	switch {
	case startAt < 0 && endAt < 0:
		return strings.TrimRight(doc, "\n") + "\n\n" + section + "\n", nil
	case startAt < 0 || endAt < startAt:
		return "", fmt.Errorf("section %q has a missing or misplaced marker: want %s before %s", name, start, end)
	case strings.Count(doc, start) > 1 || strings.Count(doc, end) > 1:
		return "", fmt.Errorf("section %q has more than one %s or %s marker", name, start, end)
	}

	return doc[:startAt] + section + doc[endAt+len(end):], nil
}

// writeSection sets the section name of the file at path to body and
// creates the file when it does not exist.
func writeSection(path, name, body string) error {
	content, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", path, err)
	}

	doc, err := replaceSection(string(content), name, body)
	if err != nil {
		return fmt.Errorf("update %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}

	return nil
}

func TestReplaceSection(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{
			name: "empty page",
			doc:  "",
			want: docHeader + "\n<!-- bench:demo:start -->\nnew\n<!-- bench:demo:end -->\n",
		},
		{
			name: "page without section",
			doc:  "# Benchmarks\n\n<!-- bench:other:start -->\nother\n<!-- bench:other:end -->\n",
			want: "# Benchmarks\n\n<!-- bench:other:start -->\nother\n<!-- bench:other:end -->\n\n<!-- bench:demo:start -->\nnew\n<!-- bench:demo:end -->\n",
		},
		{
			name: "existing section",
			doc:  "# Benchmarks\n\n<!-- bench:demo:start -->\nold\nlines\n<!-- bench:demo:end -->\n\n<!-- bench:other:start -->\nother\n<!-- bench:other:end -->\n",
			want: "# Benchmarks\n\n<!-- bench:demo:start -->\nnew\n<!-- bench:demo:end -->\n\n<!-- bench:other:start -->\nother\n<!-- bench:other:end -->\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replaceSection(tc.doc, "demo", "new\n")
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestReplaceSectionBrokenMarkers(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"start only", "<!-- bench:demo:start -->\nold\n"},
		{"end only", "old\n<!-- bench:demo:end -->\n"},
		{"end before start", "<!-- bench:demo:end -->\nold\n<!-- bench:demo:start -->\n"},
		{"section twice", "<!-- bench:demo:start -->\na\n<!-- bench:demo:end -->\n<!-- bench:demo:start -->\nb\n<!-- bench:demo:end -->\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := replaceSection(tc.doc, "demo", "new")
			require.ErrorContains(t, err, `section "demo"`)
		})
	}
}

func TestWriteSectionCreatesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")

	require.NoError(t, writeSection(path, "demo", "first"))
	require.NoError(t, writeSection(path, "demo", "second"))

	content, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, docHeader+"\n<!-- bench:demo:start -->\nsecond\n<!-- bench:demo:end -->\n", string(content))
}
