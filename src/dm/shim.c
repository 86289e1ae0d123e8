// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for static inlines and macros that Rust cannot call directly.
 * Every function is a one-liner; the logic lives in Rust.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/completion.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include "../../include/dm_shim.h"

/*
 * 6.12's Rust module! macro has no version key: the module's version
 * (modinfo, /sys/module/dm_replicator/version) is set here. Keep it equal
 * to the target version in src/kmod.rs and PACKAGE_VERSION in dkms.conf
 * (scripts/test.sh checks all three).
 */
MODULE_VERSION("0.1.0");

unsigned int dmr_bio_op(struct bio *bio)
{
	return bio_op(bio);
}

bool dmr_bio_is_preflush(struct bio *bio)
{
	return bio->bi_opf & REQ_PREFLUSH;
}

bool dmr_bio_is_fua(struct bio *bio)
{
	return bio->bi_opf & REQ_FUA;
}

unsigned int dmr_bio_sectors(struct bio *bio)
{
	return bio_sectors(bio);
}

void dmr_bio_set_dev(struct bio *bio, struct block_device *bdev)
{
	bio_set_dev(bio, bdev);
}

void dmr_bio_zero_fill(struct bio *bio)
{
	zero_fill_bio(bio);
}

void dmr_bio_endio(struct bio *bio, u8 status)
{
	bio->bi_status = status;
	bio_endio(bio);
}

u32 dmr_target_devt(struct dm_target *ti)
{
	return disk_devt(dm_disk(dm_table_get_md(ti->table)));
}

u32 dmr_dev_devt(struct dm_dev *dev)
{
	return dev->bdev->bd_dev;
}

u64 dmr_dev_sectors(struct dm_dev *dev)
{
	return bdev_nr_sectors(dev->bdev);
}

unsigned int dmr_dev_lbs(struct dm_dev *dev)
{
	return bdev_logical_block_size(dev->bdev);
}

unsigned int dmr_target_lbs(struct dm_target *ti)
{
	return queue_logical_block_size(dm_disk(dm_table_get_md(ti->table))->queue);
}

const char *dmr_target_dm_name(struct dm_target *ti)
{
	return dm_device_name(dm_table_get_md(ti->table));
}

struct dmr_deferred_event {
	struct work_struct work;
	struct dm_target *ti;
};

static void dmr_deferred_event_fn(struct work_struct *work)
{
	struct dmr_deferred_event *e = container_of(work, struct dmr_deferred_event, work);

	dm_table_event(e->ti->table);
}

struct dmr_deferred_event *dmr_deferred_event_new(struct dm_target *ti)
{
	struct dmr_deferred_event *e = kzalloc(sizeof(*e), GFP_KERNEL);

	if (!e)
		return NULL;
	INIT_WORK(&e->work, dmr_deferred_event_fn);
	e->ti = ti;
	return e;
}

void dmr_deferred_event_raise(struct dmr_deferred_event *e)
{
	schedule_work(&e->work);
}

void dmr_deferred_event_free(struct dmr_deferred_event *e)
{
	cancel_work_sync(&e->work);
	kfree(e);
}

static DEFINE_MUTEX(dmr_global_mutex);

void dmr_global_lock(void)
{
	mutex_lock(&dmr_global_mutex);
}

void dmr_global_unlock(void)
{
	mutex_unlock(&dmr_global_mutex);
}

/* The module's own workqueue for long background jobs (online verify):
 * destroying it at module exit waits for every job's work function to
 * return, so no module code runs after the module is gone. */
static struct workqueue_struct *dmr_background;

struct workqueue_struct *dmr_background_create(void)
{
	dmr_background = alloc_workqueue("dmr_background", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return dmr_background;
}

struct workqueue_struct *dmr_background_get(void)
{
	return dmr_background;
}

void dmr_background_destroy(void)
{
	destroy_workqueue(dmr_background);
	dmr_background = NULL;
}

/*
 * dmr_on_fresh_stack(): run a function on a worker's stack and wait for it.
 * A table load's constructor runs deep in the dm ioctl's stack; opening
 * a replication log (synchronous dm-io, kilobyte-sized checkpoints) needs
 * more than is left of it. The work item and the waiter's state live in
 * the caller's frame, which outlives the work: the caller returns only
 * after flush_work().
 *
 * The queue is the module's own, not dmr_background nor a system queue:
 * - not dmr_background: an open must not wait behind an online verify
 *   or a label check stuck on a hung remote device;
 * - WQ_MEM_RECLAIM: a table load may run while the group's devices are
 *   suspended and hold writeback; the rescuer runs the work even when no
 *   new kworker can be created. The system queues (system_wq,
 *   system_unbound_wq, system_long_wq) have no rescuer;
 * - WQ_UNBOUND: opening a large log scans and checksums it for a long
 *   time, which a per-CPU worker must not do;
 * - only these works run on it, so flush_work()'s lockdep annotation of
 *   the queue ties the caller's locks (dm's md type lock) to the open
 *   alone, not to unrelated works.
 */
static struct workqueue_struct *dmr_fresh_stack_wq;

bool dmr_fresh_stack_create(void)
{
	dmr_fresh_stack_wq = alloc_workqueue("dmr_open", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	return dmr_fresh_stack_wq;
}

void dmr_fresh_stack_destroy(void)
{
	if (dmr_fresh_stack_wq)
		destroy_workqueue(dmr_fresh_stack_wq);
	dmr_fresh_stack_wq = NULL;
}

struct dmr_fresh_stack {
	struct work_struct work;
	struct completion done;
	void (*fn)(void *ctx);
	void *ctx;
	/* The caller's allocation scope (memalloc_noio_save() and the like),
	 * which the worker takes on for the call. */
	unsigned int memalloc;
};

static void dmr_fresh_stack_fn(struct work_struct *work)
{
	struct dmr_fresh_stack *s = container_of(work, struct dmr_fresh_stack, work);
	unsigned int old = memalloc_flags_save(s->memalloc);

	s->fn(s->ctx);
	memalloc_flags_restore(old);
	complete(&s->done);
}

/* How often the waiter wakes up (see below). */
#define DMR_FRESH_STACK_WAKE (10 * HZ)

void dmr_on_fresh_stack(void (*fn)(void *ctx), void *ctx)
{
	struct dmr_fresh_stack s = {
		.fn = fn,
		.ctx = ctx,
		.memalloc = current->flags & (PF_MEMALLOC_NOIO | PF_MEMALLOC_NOFS),
	};

	/* Created at module init, before the targets are registered. */
	if (WARN_ON_ONCE(!dmr_fresh_stack_wq)) {
		fn(ctx);
		return;
	}
	INIT_WORK_ONSTACK(&s.work, dmr_fresh_stack_fn);
	init_completion(&s.done);
	queue_work(dmr_fresh_stack_wq, &s.work);
	/*
	 * Opening a large log on a slow device can take minutes. In the
	 * caller, it slept once per request, which the hung-task detector
	 * counts as progress; one uninterrupted sleep here would look hung
	 * to it. The worker doing the I/O is still watched by it.
	 */
	while (!wait_for_completion_timeout(&s.done, DMR_FRESH_STACK_WAKE))
		;
	/* The function has returned; let the work item finish too. */
	flush_work(&s.work);
	destroy_work_on_stack(&s.work);
}
