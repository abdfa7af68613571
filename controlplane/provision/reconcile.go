package provision

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
)

// ReconcileArgs is the periodic job that marks tenants failed whose
// provisioning job ended without running its last attempt to the end. River
// discards such a job itself when a process dies during the last attempt,
// and no worker code runs then to record the failure.
type ReconcileArgs struct{}

// Kind returns the job kind stored in river_job.kind.
func (ReconcileArgs) Kind() string { return "silo.reconcile_provisioning" }

// InsertOpts puts the job on the provisioning queue.
func (ReconcileArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 3}
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	p *Provisioner
}

func (w *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	rows, err := w.p.store.Pool().Query(ctx, `
		SELECT t.id FROM tenants t
		WHERE t.status = 'provisioning'
		  AND NOT EXISTS (
			SELECT 1 FROM river_job j
			WHERE j.kind = $1 AND j.args->>'tenant_id' = t.id::text
			  AND j.state NOT IN ('cancelled', 'discarded', 'completed'))`,
		ProvisionArgs{}.Kind())
	if err != nil {
		return fmt.Errorf("find stranded tenants: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("find stranded tenants: %w", err)
	}

	for _, id := range ids {
		if err := w.p.store.RecordProvisionError(ctx, id, "provisioning job stopped after its last attempt", true); err != nil {
			return err
		}
		w.p.logger.WarnContext(ctx, "tenant marked failed: provisioning job ended", "tenant_id", id)
	}

	return nil
}
