// Package sweep runs the paper's grid (methods × shots × seeds, plus
// zero-shot and the linear probe) as a sweep: a sweep file expanded into
// cells with stable indices and ids, kept in a sweep folder, run on this
// machine (RunLocal: N cells at a time in this process; RunProcesses: in
// N processes) or on a Slurm cluster as one feature-cache job and one job
// array that depends on it (Submit, Status, ResubmitFailed, and
// RunCell/RunCache inside the jobs). The work of a job (the feature
// cache, one cell) is done by a Runner: Experiments runs it with the
// experiment layer (the cache job computes the image features of every
// draw of the cells into experiment's on-disk feature cache, so that no
// cell encodes an image; a cell is a one-cell grid of an experiment).
//
// # The sweep file
//
// A JSON object; unknown keys are errors. Relative paths are taken from
// the sweep file's folder (from the working directory for flags).
//
//	name       label of the sweep, used in Slurm job names (default: the
//	           sweep folder's base name)
//	benchmark  "shipped" (default: the real-image benchmark embedded in
//	           softcpt), a benchmark pack (*.bin), a shipped benchmark
//	           definition (general10, plant6, fashion20) or a definition
//	           file
//	group      task group of a packed benchmark: general (default),
//	           nature, attributes
//	tasks      subset of the benchmark's tasks (default: all)
//	data_root  folder of a definition's datasets; cache_dir: generated
//	           splits and few-shot samples (default
//	           data_root/.softcpt-cache)
//	model      CLIP checkpoint, or "shipped" (default: the small CLIP
//	           embedded in softcpt); bpe: its tokenizer's merges file
//	           (default: named by the model's metadata, or embedded)
//	output     root of the cells' run folders (default: the sweep
//	           folder's runs/)
//	device     "cpu" (default) or "cuda"
//	methods    learned-prompt methods: coop-mt, coop-ca, coop-cs, nata,
//	           nats, cata, csta, cats, csts (case-insensitive, with or
//	           without "softcpt-")
//	shots      shot counts, e.g. [1, 2, 4, 8, 16] (each ≥ 1)
//	seeds      seeds, e.g. [1, 2, 3]
//	zeroshot   true: one zero-shot cell (all tasks, shots 0, seed 0)
//	linprobe   true: one linear-probe cell per shot count and seed
//	params     settings of every cell (below); unset ones are the paper's
//	overrides  per method (or "zeroshot", "linprobe"): settings that
//	           replace params for that method's cells
//
// The settings (params and overrides) are the flags of `softcpt train`
// with "_" for "-":
//
//	epochs, batch_size, lr, momentum, weight_decay, warmup_epochs,
//	warmup_lr, repeat_steps, augment      training (softcpt.TrainOptions)
//	n_ctx, ctx_init, class_token_position, csc, class_n_ctx, class_csc,
//	task_n_ctx, task_csc, task_ctx_init, pg_type, cls_sample_rate,
//	full_prompts                          the method (softcpt.Config)
//	max_iter                              linear probe: L-BFGS iterations
//	templates                             zero-shot: extra templates
//
// Overrides of a method may only set training and method settings; those
// of "linprobe" only max_iter, of "zeroshot" only templates.
//
// # Cells
//
// Cells expands the sweep in a fixed order: the zero-shot cell, the
// linear probe (shots × seeds, seeds innermost), then every method in the
// file's order (shots × seeds). A cell's ID is a readable name and the
// first 8 hex digits of the SHA-256 of everything that determines its
// result, e.g. "nata-16shot-seed1-3f2a9c1b"; the index is its place in
// the order and its array task id. Create writes sweep.json (the sweep,
// paths absolute) and cells.json into the sweep folder; Open checks that
// they agree, so that array task i always means the same cell.
//
// # The sweep folder
//
//	sweep.json, cells.json   the sweep and its cells
//	state/                   markers: <id>.running, .done, .failed,
//	                         .interrupted (JSON), .history (every marker
//	                         written, one JSON object a line) and .lock;
//	                         cache.* for the feature cache
//	slurm/                   cache.sbatch, array.sbatch, submit.sh (to
//	                         submit by hand), resubmit-N.sbatch,
//	                         options.json (the Slurm options)
//	jobs.json                the submitted jobs
//	logs/                    the jobs' output: cache-<job>.out/.err,
//	                         cell-<index>-<array job>.out/.err
//
// A cell with a done marker is never run again. A cell runs under an
// exclusive lock (flock) on its .lock file, so two processes never run
// the same cell at once; a second process asking for the feature cache
// waits for the first and finds it done, so the cache is computed once.
//
// # Preemption and requeue
//
// The job scripts pass --requeue, --open-mode=append and
// --signal=B:<SIG>@<secs> (default B:TERM@120), and exec softcpt, so the
// softcpt process is the batch shell that receives the signal. RunCell
// and RunCache cancel their context on SIGTERM, SIGINT and that signal;
// the Runner saves its checkpoint and returns. Then, when Slurm still
// reports the job RUNNING (the time-limit signal; after scancel it
// reports CANCELLED), the job runs `scontrol requeue $SLURM_JOB_ID` (as
// submitit does on its time-limit signal) and exits with status
// ExitRequeue (75, EX_TEMPFAIL), which a cluster may also list in
// slurm.conf's RequeueExit. The requeued task runs the same cell again
// and the Runner resumes from the checkpoint. Slurm starts a requeued
// job only after its credential expires (AuthInfo cred_expire, default
// 120 s; the test cluster sets 10 s and saw the task restart 60 s after
// the signal). A signal
// that arrives before the process has installed its handler (in its
// first second) kills it; the cell is then failed, for ResubmitFailed,
// so --time should exceed the signal's lead by more than a minute (Slurm
// checks time limits every 30 s and may signal up to a minute early).
//
// # Status
//
// A cell is done when its done marker exists. Otherwise the state of its
// latest array task comes from sacct, or, where sacct has no accounting
// storage, from squeue and `scontrol show job`: pending (also requeued),
// running, or failed (cancelled, failed, timed out, node failure,
// completed without a done marker, or waiting on a failed cache job).
// Without Slurm's word, the markers decide: running (its lock is held),
// failed (a failed or interrupted marker, or a running marker of a
// process that is gone), or missing (no trace). ResubmitFailed submits
// one array of the failed and missing cells (and a new cache job when the
// cache failed, cancelling the old tasks that wait on it).
package sweep
