package tenancy

import (
	"silo.dev/silo/controlplane/catalog"
	"silo.dev/silo/gen/silo/v1/silov1connect"
)

var (
	readers  = []catalog.Role{catalog.RoleOwner, catalog.RoleAdmin, catalog.RoleMember, catalog.RoleViewer}
	writers  = []catalog.Role{catalog.RoleOwner, catalog.RoleAdmin, catalog.RoleMember}
	managers = []catalog.Role{catalog.RoleOwner, catalog.RoleAdmin}
)

// Rules is the data plane's authorization table: the tenant roles that may
// call each procedure. Viewers read and watch, members also create and
// update, owners and admins also delete.
var Rules = map[string][]catalog.Role{
	silov1connect.TicketServiceCreateTicketProcedure: writers,
	silov1connect.TicketServiceGetTicketProcedure:    readers,
	silov1connect.TicketServiceListTicketsProcedure:  readers,
	silov1connect.TicketServiceUpdateTicketProcedure: writers,
	silov1connect.TicketServiceDeleteTicketProcedure: managers,
	silov1connect.TicketServiceWatchTicketsProcedure: readers,

	silov1connect.WorkflowServiceCreateWorkflowProcedure: writers,
	silov1connect.WorkflowServiceGetWorkflowProcedure:    readers,
	silov1connect.WorkflowServiceListWorkflowsProcedure:  readers,
}
