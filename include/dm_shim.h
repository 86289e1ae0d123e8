/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One-line C wrappers for static inlines and macros of the block and
 * device-mapper headers, which bindgen cannot call. Used by src/dm/ only.
 */
#ifndef DMR_SHIM_H
#define DMR_SHIM_H

#include <linux/types.h>

struct bio;
struct block_device;
struct dm_dev;
struct dm_target;
struct workqueue_struct;

/* The request operation of a bio (REQ_OP_*). */
unsigned int dmr_bio_op(struct bio *bio);
/* REQ_PREFLUSH / REQ_FUA set on the bio. */
bool dmr_bio_is_preflush(struct bio *bio);
bool dmr_bio_is_fua(struct bio *bio);
/* Size of the bio in sectors. */
unsigned int dmr_bio_sectors(struct bio *bio);
/* Point the bio at another block device. */
void dmr_bio_set_dev(struct bio *bio, struct block_device *bdev);
/* Fill the bio's data pages with zeroes. */
void dmr_bio_zero_fill(struct bio *bio);
/* End the bio with a block status. */
void dmr_bio_endio(struct bio *bio, u8 status);

/* dev_t of the mapped device a target belongs to. */
u32 dmr_target_devt(struct dm_target *ti);
/* dev_t of a device opened with dm_get_device(). */
u32 dmr_dev_devt(struct dm_dev *dev);
/* Size of a device opened with dm_get_device(), in sectors. */
u64 dmr_dev_sectors(struct dm_dev *dev);
/* Logical block size of a table's device, and of the target's own mapped
 * device as its live table set it. */
unsigned int dmr_dev_lbs(struct dm_dev *dev);
unsigned int dmr_target_lbs(struct dm_target *ti);
/* Name of the mapped device a target belongs to ("dm-3" style is not
 * what users see; this is the dm name, e.g. "repl"). */
const char *dmr_target_dm_name(struct dm_target *ti);

/* A dm event raised from any context: dm_table_event() sleeps, so a bio's
 * completion schedules it on the system workqueue (as dm-raid1 does);
 * freeing cancels a pending one. */
struct dmr_deferred_event;
struct dmr_deferred_event *dmr_deferred_event_new(struct dm_target *ti);
void dmr_deferred_event_raise(struct dmr_deferred_event *e);
void dmr_deferred_event_free(struct dmr_deferred_event *e);

/* The workqueue of background jobs: created at module init, destroyed
 * (after its jobs ended) at module exit. */
struct workqueue_struct *dmr_background_create(void);
struct workqueue_struct *dmr_background_get(void);
void dmr_background_destroy(void);

/* Call fn(ctx) exactly once, on a worker of the module's dmr_open queue
 * with the caller's allocation scope, and return once it and its work
 * item ended: a fresh stack for deep synchronous work called from a deep
 * stack (a table load). The queue is created at module init and
 * destroyed at module exit. */
bool dmr_fresh_stack_create(void);
void dmr_fresh_stack_destroy(void);
void dmr_on_fresh_stack(void (*fn)(void *ctx), void *ctx);

/* One module-wide mutex guarding the registry of replicator groups. */
void dmr_global_lock(void);
void dmr_global_unlock(void);

#endif
