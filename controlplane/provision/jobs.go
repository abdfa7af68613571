package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
)

// Queue is the River queue that provisioning and purge jobs run on.
const Queue = "silo_provision"

// ProvisionArgs is the job that provisions one tenant. It carries the
// tenant's id only: the job reads everything else, secrets included, from
// the catalog, so the job table never holds a password.
type ProvisionArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind returns the job kind stored in river_job.kind.
func (ProvisionArgs) Kind() string { return "silo.provision_tenant" }

// PurgeArgs is the job that drops a deleted tenant's database and role.
type PurgeArgs struct {
	TenantID uuid.UUID `json:"tenant_id"`
}

// Kind returns the job kind stored in river_job.kind.
func (PurgeArgs) Kind() string { return "silo.purge_tenant" }

// Options tunes the job queue.
type Options struct {
	// Timeout cancels one attempt that runs longer.
	Timeout time.Duration
	// RescueAfter is how long a job may stay running before it counts as
	// left behind by a dead process and is retried. It must exceed Timeout.
	RescueAfter time.Duration
	// MaxAttempts is how many times a provisioning job runs before its
	// tenant is marked failed.
	MaxAttempts int
	// RetryBase is the wait before the second attempt; later waits double,
	// up to RetryMax.
	RetryBase time.Duration
	RetryMax  time.Duration
	// Workers is the most jobs this process runs at once.
	Workers int
	// Logger receives the queue's own log records.
	Logger *slog.Logger
}

// DefaultOptions returns settings under which a job interrupted by a killed
// process runs again within a minute: River's rescuer looks for stuck jobs
// every 30 seconds and retries those running longer than RescueAfter.
func DefaultOptions(logger *slog.Logger) Options {
	return Options{
		Timeout:     20 * time.Second,
		RescueAfter: 25 * time.Second,
		MaxAttempts: 20,
		RetryBase:   time.Second,
		RetryMax:    time.Minute,
		Workers:     10,
		Logger:      logger,
	}
}

// Jobs runs provisioning and purge jobs on the catalog database and
// enqueues them inside catalog transactions.
type Jobs struct {
	client      *river.Client[pgx.Tx]
	maxAttempts int
}

// NewJobs returns a job queue on the catalog pool whose workers call p.
// Start runs the workers; without Start the queue only enqueues.
func NewJobs(pool *pgxpool.Pool, p *Provisioner, opts Options) (*Jobs, error) {
	if opts.RescueAfter <= opts.Timeout {
		return nil, fmt.Errorf("job rescue time %s must exceed job timeout %s", opts.RescueAfter, opts.Timeout)
	}

	backoff := backoff{base: opts.RetryBase, max: opts.RetryMax}
	workers := river.NewWorkers()
	river.AddWorker(workers, &provisionWorker{p: p, timeout: opts.Timeout, backoff: backoff})
	river.AddWorker(workers, &purgeWorker{p: p, timeout: opts.Timeout, backoff: backoff})
	river.AddWorker(workers, &reconcileWorker{p: p})

	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:               opts.Logger,
		Queues:               map[string]river.QueueConfig{Queue: {MaxWorkers: opts.Workers}},
		Workers:              workers,
		JobTimeout:           opts.Timeout,
		RescueStuckJobsAfter: opts.RescueAfter,
		FetchCooldown:        20 * time.Millisecond,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return ReconcileArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("create job queue: %w", err)
	}

	return &Jobs{client: client, maxAttempts: opts.MaxAttempts}, nil
}

// Start runs the workers until Stop.
func (j *Jobs) Start(ctx context.Context) error {
	if err := j.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}

	return nil
}

// Stop waits for running jobs to finish, or for ctx to end, whichever comes
// first. Jobs still running then are cancelled, and later retried.
func (j *Jobs) Stop(ctx context.Context) error {
	err := j.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		err = j.client.StopAndCancel(context.WithoutCancel(ctx))
	}
	if err != nil {
		return fmt.Errorf("stop job queue: %w", err)
	}

	return nil
}

// EnqueueProvision adds the job that provisions tenant id, in tx.
func (j *Jobs) EnqueueProvision(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := j.client.InsertTx(ctx, tx, ProvisionArgs{TenantID: id}, &river.InsertOpts{
		Queue:       Queue,
		MaxAttempts: j.maxAttempts,
	})
	if err != nil {
		return fmt.Errorf("enqueue provisioning of tenant %s: %w", id, err)
	}

	return nil
}

// EnqueuePurge adds the job that purges tenant id at the given time, in tx.
func (j *Jobs) EnqueuePurge(ctx context.Context, tx pgx.Tx, id uuid.UUID, at time.Time) error {
	_, err := j.client.InsertTx(ctx, tx, PurgeArgs{TenantID: id}, &river.InsertOpts{
		Queue:       Queue,
		MaxAttempts: j.maxAttempts,
		ScheduledAt: at,
	})
	if err != nil {
		return fmt.Errorf("enqueue purge of tenant %s: %w", id, err)
	}

	return nil
}

type provisionWorker struct {
	river.WorkerDefaults[ProvisionArgs]
	p       *Provisioner
	timeout time.Duration
	backoff backoff
}

func (w *provisionWorker) Work(ctx context.Context, job *river.Job[ProvisionArgs]) error {
	id := job.Args.TenantID
	err := w.p.Provision(ctx, id)
	if err == nil {
		return nil
	}

	permanent := errors.Is(err, errPermanent)
	final := permanent || job.Attempt >= job.MaxAttempts
	// The attempt's context may be the one that ran out, so the error is
	// recorded under a fresh, bounded one.
	recordCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if recordErr := w.p.store.RecordProvisionError(recordCtx, id, err.Error(), final); recordErr != nil {
		err = errors.Join(err, recordErr)
	}

	w.p.logger.WarnContext(ctx, "provisioning attempt failed",
		"tenant_id", id, "attempt", job.Attempt, "max_attempts", job.MaxAttempts, "final", final, "error", err)
	if permanent {
		return river.JobCancel(err)
	}

	return err
}

func (w *provisionWorker) Timeout(*river.Job[ProvisionArgs]) time.Duration { return w.timeout }

func (w *provisionWorker) NextRetry(job *river.Job[ProvisionArgs]) time.Time {
	return time.Now().Add(w.backoff.after(job.Attempt))
}

type purgeWorker struct {
	river.WorkerDefaults[PurgeArgs]
	p       *Provisioner
	timeout time.Duration
	backoff backoff
}

func (w *purgeWorker) Work(ctx context.Context, job *river.Job[PurgeArgs]) error {
	wait, err := w.p.Purge(ctx, job.Args.TenantID)
	if err != nil {
		w.p.logger.WarnContext(ctx, "purge attempt failed",
			"tenant_id", job.Args.TenantID, "attempt", job.Attempt, "error", err)
		return err
	}
	if wait > 0 {
		return river.JobSnooze(wait)
	}

	return nil
}

func (w *purgeWorker) Timeout(*river.Job[PurgeArgs]) time.Duration { return w.timeout }

func (w *purgeWorker) NextRetry(job *river.Job[PurgeArgs]) time.Time {
	return time.Now().Add(w.backoff.after(job.Attempt))
}

// backoff is an exponential retry delay with jitter: base before the
// second attempt, doubling each time, capped at max.
type backoff struct {
	base, max time.Duration
}

func (b backoff) after(attempt int) time.Duration {
	exp := math.Min(float64(b.base)*math.Pow(2, float64(max(attempt-1, 0))), float64(b.max))
	// Up to 10% jitter spreads retries of jobs that failed together.
	return time.Duration(exp * (0.9 + 0.1*rand.Float64()))
}
