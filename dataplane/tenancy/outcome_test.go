package tenancy_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/emptypb"

	"silo.dev/silo/dataplane/tenancy"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/internal/silotest"
)

// dataProcedures lists every data plane procedure from the service
// descriptors, so a new procedure is covered without editing the tests.
func dataProcedures(t *testing.T) []protoreflect.MethodDescriptor {
	t.Helper()

	var methods []protoreflect.MethodDescriptor
	for _, file := range []protoreflect.FileDescriptor{silov1.File_silo_v1_ticket_proto, silov1.File_silo_v1_workflow_proto} {
		services := file.Services()
		for i := range services.Len() {
			for j := range services.Get(i).Methods().Len() {
				methods = append(methods, services.Get(i).Methods().Get(j))
			}
		}
	}
	require.NotEmpty(t, methods)

	return methods
}

func procedureName(m protoreflect.MethodDescriptor) string {
	return "/" + string(m.Parent().FullName()) + "/" + string(m.Name())
}

// call invokes any data plane procedure with an empty request message and
// returns the error. Refused calls never reach the handler, so the message
// does not matter; a streaming call is read until its first message or
// error.
func call(t *testing.T, baseURL string, m protoreflect.MethodDescriptor, headers map[string]string) error {
	t.Helper()

	var interceptors []connect.Interceptor
	for name, value := range headers {
		interceptors = append(interceptors, silotest.Header(name, value))
	}
	client := connect.NewClient[emptypb.Empty, emptypb.Empty](http.DefaultClient, baseURL+procedureName(m),
		connect.WithProtoJSON(), connect.WithInterceptors(interceptors...))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()

	if m.IsStreamingServer() {
		stream, err := client.CallServerStream(ctx, connect.NewRequest(&emptypb.Empty{}))
		if err != nil {
			return err
		}
		defer stream.Close()
		// An accepted watch sends nothing until a change; the deadline then
		// ends it, which counts as accepted.
		if !stream.Receive() && stream.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return stream.Err()
		}
		return nil
	}

	_, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))

	return err
}

func TestEveryProcedureHasRule(t *testing.T) {
	for _, m := range dataProcedures(t) {
		require.Contains(t, tenancy.Rules, procedureName(m), "no tenant role rule for %s", procedureName(m))
	}
	require.Len(t, tenancy.Rules, len(dataProcedures(t)), "a rule names a procedure that does not exist")
}

func TestResolutionOutcomes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"pia": {"tenant-a": silov1.TenantRole_TENANT_ROLE_OWNER},
	})
	pia := w.env.Token(t, "pia", false)
	piaScopedToA, err := w.env.UserClient(t, "pia").SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: "tenant-a"}))
	require.NoError(t, err)
	stranger := w.env.Token(t, "stranger", false)

	cases := []struct {
		name    string
		headers map[string]string
		code    connect.Code
	}{
		{name: "no tenant anywhere", headers: map[string]string{"Authorization": "Bearer " + stranger}, code: connect.CodeFailedPrecondition},
		{name: "empty header", headers: map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": " "}, code: connect.CodeInvalidArgument},
		{name: "malformed header", headers: map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": "Not A Slug!"}, code: connect.CodeInvalidArgument},
		{name: "unknown tenant", headers: map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": uuid.NewString()}, code: connect.CodePermissionDenied},
		{name: "unknown slug", headers: map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": "nobody-here"}, code: connect.CodePermissionDenied},
		{name: "not a member", headers: map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": w.b.GetId()}, code: connect.CodePermissionDenied},
		{name: "header contradicts token", headers: map[string]string{"Authorization": "Bearer " + piaScopedToA.Msg.GetToken(), "X-Tenant-ID": "tenant-b"}, code: connect.CodePermissionDenied},
		{name: "header matches token", headers: map[string]string{"Authorization": "Bearer " + piaScopedToA.Msg.GetToken(), "X-Tenant-ID": "tenant-a"}},
		{name: "member by header", headers: map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": "Tenant-A"}},
	}

	for _, m := range dataProcedures(t) {
		for _, tc := range cases {
			t.Run(string(m.Name())+"/"+tc.name, func(t *testing.T) {
				err := call(t, w.env.URL, m, tc.headers)

				if tc.code == 0 {
					require.NotContains(t, []connect.Code{connect.CodePermissionDenied, connect.CodeFailedPrecondition, connect.CodeUnauthenticated, connect.CodeUnavailable}, connect.CodeOf(err), "%v", err)
					return
				}
				require.Equal(t, tc.code, connect.CodeOf(err), "%v", err)
			})
		}
	}

	t.Run("refusals look alike", func(t *testing.T) {
		var messages []string
		for _, ref := range []string{uuid.NewString(), "nobody-here", w.b.GetId()} {
			err := call(t, w.env.URL, dataProcedures(t)[0], map[string]string{"Authorization": "Bearer " + pia, "X-Tenant-ID": ref})
			var connectErr *connect.Error
			require.ErrorAs(t, err, &connectErr)
			messages = append(messages, connectErr.Message())
		}
		require.Equal(t, messages[0], messages[1])
		require.Equal(t, messages[0], messages[2])
	})
}

func TestStatusOutcomes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, map[string]map[string]silov1.TenantRole{
		"quinn": {"tenant-a": silov1.TenantRole_TENANT_ROLE_OWNER},
	})
	headers := map[string]string{"Authorization": "Bearer " + w.env.Token(t, "quinn", false), "X-Tenant-ID": "tenant-a"}

	for _, status := range []string{"suspended", "deleting", "provisioning", "failed"} {
		_, err := w.env.Catalog.Exec(t.Context(), `UPDATE tenants SET status = $2 WHERE id = $1`, w.a.GetId(), status)
		require.NoError(t, err)

		for _, m := range dataProcedures(t) {
			t.Run(status+"/"+string(m.Name()), func(t *testing.T) {
				var err error
				require.Eventually(t, func() bool {
					err = call(t, w.env.URL, m, headers)
					return connect.CodeOf(err) == connect.CodeFailedPrecondition && strings.Contains(err.Error(), status)
				}, 5*time.Second, 20*time.Millisecond, "last error: %v", err)
			})
		}
	}
}
