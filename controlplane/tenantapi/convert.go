package tenantapi

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"silo.dev/silo/controlplane/catalog"
	silov1 "silo.dev/silo/gen/silo/v1"
)

var statusToProto = map[catalog.Status]silov1.TenantStatus{
	catalog.StatusProvisioning: silov1.TenantStatus_TENANT_STATUS_PROVISIONING,
	catalog.StatusActive:       silov1.TenantStatus_TENANT_STATUS_ACTIVE,
	catalog.StatusSuspended:    silov1.TenantStatus_TENANT_STATUS_SUSPENDED,
	catalog.StatusDeleting:     silov1.TenantStatus_TENANT_STATUS_DELETING,
	catalog.StatusDeleted:      silov1.TenantStatus_TENANT_STATUS_DELETED,
	catalog.StatusFailed:       silov1.TenantStatus_TENANT_STATUS_FAILED,
}

// statusFromProto returns the catalog status of s; the empty status for
// TENANT_STATUS_UNSPECIFIED.
func statusFromProto(s silov1.TenantStatus) (catalog.Status, error) {
	if s == silov1.TenantStatus_TENANT_STATUS_UNSPECIFIED {
		return "", nil
	}
	for status, value := range statusToProto {
		if value == s {
			return status, nil
		}
	}

	return "", invalid("status: unknown value %d", s)
}

// tenantToProto converts a catalog row to the API's Tenant. Placement and
// credentials are left out on purpose.
func tenantToProto(t catalog.Tenant) (*silov1.Tenant, error) {
	config := &structpb.Struct{}
	if err := protojson.Unmarshal(t.Config, config); err != nil {
		return nil, fmt.Errorf("decode config of tenant %s: %w", t.ID, err)
	}

	out := &silov1.Tenant{
		Id:            t.ID.String(),
		Name:          t.Name,
		Slug:          t.Slug,
		Config:        config,
		Status:        statusToProto[t.Status],
		LastError:     t.LastError,
		SchemaVersion: t.SchemaVersion,
		CreatedAt:     timestamppb.New(t.CreatedAt),
		UpdatedAt:     timestamppb.New(t.UpdatedAt),
	}
	if t.DeletedAt != nil {
		out.DeletedAt = timestamppb.New(*t.DeletedAt)
	}
	if t.PurgeAfter != nil {
		out.PurgeAfter = timestamppb.New(*t.PurgeAfter)
	}

	return out, nil
}
