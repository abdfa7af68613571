//go:build bench

package bench

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/internal/pgtest"
)

// logEntryStart matches the first line of an entry in the server log under
// log_line_prefix '%m [%p] ', PostgreSQL's default since version 10: time,
// process id, severity and message. Lines that do not match continue the
// entry above.
var logEntryStart = regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d+ \S+ \[(\d+)\] ([A-Z]+):  (.*)$`)

// statementMessage matches the message that log_statement = 'all' writes
// for a statement over the simple protocol ("statement: ...") or the
// extended protocol ("execute <name>: ...").
var statementMessage = regexp.MustCompile(`^(?s)(?:statement|execute [^:]+): (.*)$`)

// Parts of a statement that differ from tenant to tenant.
var (
	objectNamePattern = regexp.MustCompile(`t_[0-9a-f]{32}`)
	verifierPattern   = regexp.MustCompile(`SCRAM-SHA-256\$[^']+`)
)

// logWindow is a range of server log lines, from line start up to, but not
// including, line end.
type logWindow struct {
	start, end int
}

// logEntry is one entry of the server log.
type logEntry struct {
	pid     int
	message string
}

// logLineCount returns the number of lines in the server log so far.
func logLineCount(t *testing.T) int {
	t.Helper()

	return len(pgtest.LogLines(t))
}

// checkSameStatements fails the test unless every statement that the
// baseline sent to provision tenant also appears among the statements of
// the silo round before it. The silo round's statements are all statements
// in siloLog. The baseline's are those in baselineLog from its own
// connection and from connections as the tenant's role. Statements are
// compared after tenant names, SCRAM verifiers and whitespace are
// normalized.
func checkSameStatements(t *testing.T, base *baseline, tenant catalog.Tenant, siloLog, baselineLog logWindow) {
	t.Helper()

	lines := pgtest.LogLines(t)
	pid, err := base.backendPID(t.Context())
	require.NoError(t, err)

	siloEntries := parseLog(lines[siloLog.start:siloLog.end])
	baselineEntries := parseLog(lines[baselineLog.start:baselineLog.end])
	baselinePIDs := []int{pid}
	for _, entry := range baselineEntries {
		if strings.HasPrefix(entry.message, "connection authorized: user="+tenant.RoleName+" ") {
			baselinePIDs = append(baselinePIDs, entry.pid)
		}
	}
	require.GreaterOrEqual(t, len(baselinePIDs), 3, "want the baseline connection, a migration connection and the stamp connection")

	siloStatements := map[string]bool{}
	for _, entry := range siloEntries {
		if statement, ok := normalizedStatement(entry.message); ok {
			siloStatements[statement] = true
		}
	}

	var baselineStatements []string
	for _, entry := range baselineEntries {
		statement, ok := normalizedStatement(entry.message)
		if !ok || !slices.Contains(baselinePIDs, entry.pid) {
			continue
		}
		baselineStatements = append(baselineStatements, statement)
		require.True(t, siloStatements[statement], "the baseline sent a statement that silo did not send: %s", statement)
	}

	// The statements that make up the benchmark must have been found, or a
	// change of the log format would make this check pass without checking.
	for _, prefix := range []string{
		"CREATE ROLE", "CREATE DATABASE", "REVOKE CONNECT", "CREATE TABLE tenant_identity",
		"INSERT INTO tenant_identity", "UPDATE tenants SET status = 'active'",
	} {
		found := slices.ContainsFunc(baselineStatements, func(s string) bool { return strings.Contains(s, prefix) })
		require.True(t, found, "no %q among the baseline's statements in the server log", prefix)
	}
}

// parseLog splits server log lines into entries.
func parseLog(lines []string) []logEntry {
	var entries []logEntry
	for _, line := range lines {
		match := logEntryStart.FindStringSubmatch(line)
		if match == nil {
			if len(entries) > 0 {
				entries[len(entries)-1].message += "\n" + line
			}
			continue
		}

		pid, err := strconv.Atoi(match[1])
		if err != nil {
			continue
		}
		entries = append(entries, logEntry{pid: pid, message: match[3]})
	}

	return entries
}

// normalizedStatement returns the statement in a log message with tenant
// names, SCRAM verifiers and runs of whitespace replaced, and false for a
// message that is no statement.
func normalizedStatement(message string) (string, bool) {
	match := statementMessage.FindStringSubmatch(message)
	if match == nil {
		return "", false
	}

	statement := objectNamePattern.ReplaceAllString(match[1], "t_ID")
	statement = verifierPattern.ReplaceAllString(statement, "VERIFIER")

	return strings.Join(strings.Fields(statement), " "), true
}

func TestNormalizedStatement(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    string
		ok      bool
	}{
		{"simple protocol", `statement: REVOKE CONNECT, TEMPORARY ON DATABASE "t_0123456789abcdef0123456789abcdef" FROM PUBLIC`,
			`REVOKE CONNECT, TEMPORARY ON DATABASE "t_ID" FROM PUBLIC`, true},
		{"extended protocol", "execute stmtcache_ab12: \n\t\tSELECT tenant_id\n\t\tFROM tenant_identity",
			`SELECT tenant_id FROM tenant_identity`, true},
		{"verifier", `statement: CREATE ROLE "t_0123456789abcdef0123456789abcdef" PASSWORD 'SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy'`,
			`CREATE ROLE "t_ID" PASSWORD 'VERIFIER'`, true},
		{"connection", "connection authorized: user=postgres database=postgres", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := normalizedStatement(tc.message)
			require.Equal(t, tc.ok, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseLog(t *testing.T) {
	lines := []string{
		"2026-01-02 03:04:05.678 UTC [41] LOG:  statement: SELECT 1",
		"2026-01-02 03:04:05.679 UTC [42] LOG:  execute <unnamed>: SELECT a",
		"\tFROM b",
		"2026-01-02 03:04:05.680 UTC [42] DETAIL:  parameters: $1 = 'x'",
	}

	require.Equal(t, []logEntry{
		{pid: 41, message: "statement: SELECT 1"},
		{pid: 42, message: "execute <unnamed>: SELECT a\n\tFROM b"},
		{pid: 42, message: "parameters: $1 = 'x'"},
	}, parseLog(lines))
}
