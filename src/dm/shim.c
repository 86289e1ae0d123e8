// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for static inlines and macros that Rust cannot call directly.
 * Every function is a one-liner; the logic lives in Rust.
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/device-mapper.h>
#include <linux/module.h>
#include <linux/mutex.h>
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
