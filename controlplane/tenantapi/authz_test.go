package tenantapi_test

import (
	"fmt"
	"slices"
	"testing"

	"connectrpc.com/connect"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"silo.dev/silo/controlplane/tenantapi"
	silov1 "silo.dev/silo/gen/silo/v1"
	"silo.dev/silo/gen/silo/v1/silov1connect"
	"silo.dev/silo/internal/silotest"
)

// outcome is what the authorization table should make of one call.
type outcome int

const (
	allow outcome = iota // the handler runs
	hide                 // NotFound, as for a tenant that does not exist
	deny                 // PermissionDenied
)

// actors of the authorization matrix, in the order they call.
var actors = []string{"outsider", "viewer", "member", "tenant-admin", "owner", "platform-admin"}

// call invokes one procedure on tenant id as the user behind client. user
// is the caller's name, which keeps the targets of user changes apart.
type call func(t *testing.T, client silov1connect.TenantServiceClient, id, user string) error

var procedureCalls = map[string]struct {
	call     call
	outcomes map[string]outcome
}{
	"CreateTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, _, user string) error {
			_, err := c.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: "New", Slug: "new-" + user}))
			return err
		},
		outcomes: onlyPlatformAdmin(deny),
	},
	"ListTenants": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, _, _ string) error {
			_, err := c.ListTenants(t.Context(), connect.NewRequest(&silov1.ListTenantsRequest{}))
			return err
		},
		outcomes: onlyPlatformAdmin(deny),
	},
	"GetTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.GetTenant(t.Context(), connect.NewRequest(&silov1.GetTenantRequest{Id: id}))
			return err
		},
		outcomes: map[string]outcome{"outsider": hide, "viewer": allow, "member": allow, "tenant-admin": allow, "owner": allow, "platform-admin": allow},
	},
	"UpdateTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, user string) error {
			_, err := c.UpdateTenant(t.Context(), connect.NewRequest(&silov1.UpdateTenantRequest{
				Tenant: &silov1.Tenant{Id: id, Name: "Renamed by " + user}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"name"}},
			}))
			return err
		},
		outcomes: map[string]outcome{"outsider": hide, "viewer": deny, "member": deny, "tenant-admin": allow, "owner": allow, "platform-admin": allow},
	},
	"SuspendTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.SuspendTenant(t.Context(), connect.NewRequest(&silov1.SuspendTenantRequest{Id: id}))
			return err
		},
		outcomes: onlyPlatformAdmin(hide),
	},
	"ResumeTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.ResumeTenant(t.Context(), connect.NewRequest(&silov1.ResumeTenantRequest{Id: id}))
			return err
		},
		outcomes: onlyPlatformAdmin(hide),
	},
	"DeleteTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.DeleteTenant(t.Context(), connect.NewRequest(&silov1.DeleteTenantRequest{Id: id}))
			return err
		},
		outcomes: onlyPlatformAdmin(hide),
	},
	"AddTenantUser": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, user string) error {
			_, err := c.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{
				TenantId: id, UserId: "added-by-" + user, Role: silov1.TenantRole_TENANT_ROLE_VIEWER,
			}))
			return err
		},
		outcomes: tenantManagers(),
	},
	"UpdateTenantUser": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.UpdateTenantUser(t.Context(), connect.NewRequest(&silov1.UpdateTenantUserRequest{
				TenantId: id, UserId: "viewer", Role: silov1.TenantRole_TENANT_ROLE_VIEWER,
			}))
			return err
		},
		outcomes: tenantManagers(),
	},
	"RemoveTenantUser": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, user string) error {
			_, err := c.RemoveTenantUser(t.Context(), connect.NewRequest(&silov1.RemoveTenantUserRequest{TenantId: id, UserId: "target-of-" + user}))
			return err
		},
		outcomes: tenantManagers(),
	},
	"ListTenantUsers": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.ListTenantUsers(t.Context(), connect.NewRequest(&silov1.ListTenantUsersRequest{TenantId: id}))
			return err
		},
		outcomes: map[string]outcome{"outsider": hide, "viewer": allow, "member": allow, "tenant-admin": allow, "owner": allow, "platform-admin": hide},
	},
	"ListMyTenants": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, _, _ string) error {
			_, err := c.ListMyTenants(t.Context(), connect.NewRequest(&silov1.ListMyTenantsRequest{}))
			return err
		},
		outcomes: everyone(),
	},
	"SwitchTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: id}))
			return err
		},
		outcomes: map[string]outcome{"outsider": hide, "viewer": allow, "member": allow, "tenant-admin": allow, "owner": allow, "platform-admin": hide},
	},
	"GetCurrentTenant": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			if _, err := c.SwitchTenant(t.Context(), connect.NewRequest(&silov1.SwitchTenantRequest{TenantId: id})); connect.CodeOf(err) != connect.CodeNotFound && err != nil {
				return err
			}
			_, err := c.GetCurrentTenant(t.Context(), connect.NewRequest(&silov1.GetCurrentTenantRequest{}))
			return err
		},
		// Callers outside the tenant have no current tenant, so they get
		// NotFound from the handler.
		outcomes: map[string]outcome{"outsider": hide, "viewer": allow, "member": allow, "tenant-admin": allow, "owner": allow, "platform-admin": hide},
	},
	"ListAuditEvents": {
		call: func(t *testing.T, c silov1connect.TenantServiceClient, id, _ string) error {
			_, err := c.ListAuditEvents(t.Context(), connect.NewRequest(&silov1.ListAuditEventsRequest{TenantId: id}))
			return err
		},
		outcomes: onlyPlatformAdmin(deny),
	},
}

func onlyPlatformAdmin(others outcome) map[string]outcome {
	outcomes := map[string]outcome{}
	for _, a := range actors {
		outcomes[a] = others
	}
	if others == hide {
		// Members get PermissionDenied, and only outsiders get NotFound.
		for _, a := range []string{"viewer", "member", "tenant-admin", "owner"} {
			outcomes[a] = deny
		}
	}
	outcomes["platform-admin"] = allow

	return outcomes
}

func tenantManagers() map[string]outcome {
	return map[string]outcome{"outsider": hide, "viewer": deny, "member": deny, "tenant-admin": allow, "owner": allow, "platform-admin": hide}
}

func everyone() map[string]outcome {
	outcomes := map[string]outcome{}
	for _, a := range actors {
		outcomes[a] = allow
	}

	return outcomes
}

func TestAuthorizationCoversEveryProcedure(t *testing.T) {
	methods := silov1.File_silo_v1_tenant_service_proto.Services().ByName("TenantService").Methods()

	var fromDescriptors []string
	for i := range methods.Len() {
		name := string(methods.Get(i).Name())
		fromDescriptors = append(fromDescriptors, "/silo.v1.TenantService/"+name)
		require.Contains(t, procedureCalls, name, "the authorization matrix has no row for %s", name)
	}
	slices.Sort(fromDescriptors)

	require.Equal(t, fromDescriptors, tenantapi.Procedures(), "every procedure needs exactly one authorization rule")
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	env := silotest.Start(t, nil)
	methods := silov1.File_silo_v1_tenant_service_proto.Services().ByName("TenantService").Methods()

	for i := range methods.Len() {
		procedure := string(methods.Get(i).Name())
		row := procedureCalls[procedure]
		require.NotNil(t, row.call, procedure)
		tenant := matrixTenant(t, env, fmt.Sprintf("matrix-%d", i))

		for _, actor := range actors {
			t.Run(procedure+"/"+actor, func(t *testing.T) {
				client := env.Client(env.Token(t, actor, actor == "platform-admin"))

				err := row.call(t, client, tenant, actor)

				switch code := connect.CodeOf(err); row.outcomes[actor] {
				case allow:
					if err != nil {
						require.NotContains(t, []connect.Code{connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeNotFound}, code, "%v", err)
					}
				case hide:
					require.Equal(t, connect.CodeNotFound, code, "%v", err)
				case deny:
					require.Equal(t, connect.CodePermissionDenied, code, "%v", err)
				}
			})
		}
	}
}

// matrixTenant creates a tenant whose owner is "owner", with one user in
// every other role and the users the RemoveTenantUser calls remove.
func matrixTenant(t *testing.T, env *silotest.Env, slug string) string {
	t.Helper()

	resp, err := env.Tenants.CreateTenant(t.Context(), connect.NewRequest(&silov1.CreateTenantRequest{Name: slug, Slug: slug, OwnerUserId: "owner"}))
	require.NoError(t, err)
	id := resp.Msg.GetTenant().GetId()

	owner := env.UserClient(t, "owner")
	users := map[string]silov1.TenantRole{
		"tenant-admin": silov1.TenantRole_TENANT_ROLE_ADMIN,
		"member":       silov1.TenantRole_TENANT_ROLE_MEMBER,
		"viewer":       silov1.TenantRole_TENANT_ROLE_VIEWER,
	}
	for _, a := range actors {
		users["target-of-"+a] = silov1.TenantRole_TENANT_ROLE_VIEWER
	}
	for user, role := range users {
		_, err := owner.AddTenantUser(t.Context(), connect.NewRequest(&silov1.AddTenantUserRequest{TenantId: id, UserId: user, Role: role}))
		require.NoError(t, err)
	}

	return id
}
