/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The completion side of the replication log's asynchronous I/O, in C
 * because it is made of macros and static inlines (container_of, llist,
 * bio_list, bio_for_each_segment, INIT_WORK, alloc_workqueue). Used by
 * src/dm/ioq.rs only; see there for the ownership rules.
 *
 * Bios come from the queue's bio_set, whose front pad carries a small
 * record (struct dmr_io). Their end_io runs in any context, often hard
 * irq: it pushes the record on a lock-free list and queues the owner's
 * work item, which handles completions in process context.
 */
#ifndef DMR_IOQ_H
#define DMR_IOQ_H

#include <linux/types.h>

/* Bytes of the target's per-bio data the queue uses. */
#define DMR_PER_BIO_BYTES 16
/* Pages of the largest write the target takes (its max_io_len). */
#define DMR_STABLE_MAX_PAGES 32

/* Classes of the queue's I/O, each with its own reserve (see ioq.c). */
#define DMR_IO_LOCAL 0
#define DMR_IO_REMOTE 1

struct bio;
struct block_device;
struct dmr_ioq;
struct llist_node;

/* Create a queue whose work items call fn(ctx, 0) (main) and
 * fn(ctx, 1) (background). NULL on allocation failure. */
struct dmr_ioq *dmr_ioq_create(const char *name, void (*fn)(void *ctx, int which));
/* Set the context passed to fn; before the first kick. */
void dmr_ioq_set_ctx(struct dmr_ioq *q, void *ctx);
/* Wait for in-flight bios, drain the work items, free everything. The
 * deferred list must be empty. */
void dmr_ioq_destroy(struct dmr_ioq *q);
/* Queue work item 0 or 1. */
void dmr_ioq_kick(struct dmr_ioq *q, int which);
/* Queue work item 0 after ms milliseconds (unless already pending). */
void dmr_ioq_kick_after(struct dmr_ioq *q, unsigned int ms);
/* Wait until no bio of the queue is in flight, then for both work items. */
void dmr_ioq_quiesce(struct dmr_ioq *q);
/* Number of bios of the queue in flight. */
unsigned int dmr_ioq_inflight(struct dmr_ioq *q);

/* Copy the data of user bio bio (when data is set and it has any) into
 * pages of the queue: its log write and local write then use the copy,
 * so what is checksummed, logged and applied are the same bytes whatever
 * the submitter does with its buffer. Returns the CRC-32C register
 * (seeded with ~0, not inverted) of the copy; ~0 without data. May
 * sleep; never fails. */
u32 dmr_io_stabilize(struct dmr_ioq *q, struct bio *bio, int data);
/* End a user bio with status, freeing its stable copy. */
void dmr_user_bio_end(struct bio *bio, u8 status);
/* Append a user bio to the deferred list and kick work item 0. */
void dmr_ioq_defer(struct dmr_ioq *q, struct bio *bio);
/* The first deferred bio, left on the list (NULL if none). */
struct bio *dmr_ioq_peek(struct dmr_ioq *q);
/* Take the first deferred bio off the list (NULL if none). */
struct bio *dmr_ioq_pop(struct dmr_ioq *q);
/* End every deferred bio aimed at block device dev with
 * BLK_STS_DM_REQUEUE (dm core issues them again after a noflush
 * suspend); returns how many. */
unsigned int dmr_ioq_requeue_dev(struct dmr_ioq *q, u32 dev);

/*
 * The allocations below are made by the main work item only. They fail
 * (NULL, -ENOMEM) only when memory is short and the class already holds
 * its reserve: the caller then issues nothing more until completions
 * come back (each one queues the main work item).
 */
/* A new bio of the queue of class, to write nr_vecs pages at sector (or
 * a flush with nr_vecs 0; remote bios have no pages). */
struct bio *dmr_io_new(struct dmr_ioq *q, int class, struct block_device *bdev,
		       unsigned int nr_vecs, u32 opf, u64 sector, u64 tag);
/* A clone of user bio src (same device and sector, the data of its
 * stable copy) without REQ_PREFLUSH and REQ_FUA. Local class. The clone
 * holds the stable copy, so src may end before it completes; *own says
 * whether it may (the clone uses no page of src's own: a copy, or no
 * data). */
struct bio *dmr_io_clone(struct dmr_ioq *q, struct bio *src, u64 tag, int *own);
/*
 * Reads held back while a write they overlap is acknowledged but not yet
 * on the local device. The map side decides under the lock whether to
 * hold (dmr_ioq_held_lock, dmr_ioq_hold_read with the read's tag,
 * dmr_ioq_held_unlock); the work item that ends such writes then calls
 * dmr_ioq_release_reads, which asks still(ctx, tag, sector, sectors) of
 * each held read under the same lock and hands those it may go to
 * dm core (dm_submit_bio_remap); returns how many went. Deciding and
 * re-asking under one lock means a read is never held after the write
 * it waits for was released.
 */
void dmr_ioq_held_lock(struct dmr_ioq *q);
void dmr_ioq_held_unlock(struct dmr_ioq *q);
void dmr_ioq_hold_read(struct dmr_ioq *q, struct bio *bio, u64 tag);
unsigned int dmr_ioq_release_reads(struct dmr_ioq *q,
				   bool (*still)(void *ctx, u64 tag, u64 sector, u32 sectors),
				   void *ctx);
/* The bio and header page of a log entry write of user bio src (NULL for
 * none) to bdev, allocated before the entry is committed to; either
 * written with dmr_io_write_entry or given back with dmr_io_discard. */
struct bio *dmr_io_entry_begin(struct dmr_ioq *q, struct block_device *bdev,
			       struct bio *src);
/* Give back a bio of the queue that was never submitted. */
void dmr_io_discard(struct bio *bio);
/* Write one log entry with parent (from dmr_io_entry_begin for the same
 * src): the 4096-byte header block hdr, then the data of user bio src
 * (its stable copy) padded to whole 4 KiB blocks, from sector on, every
 * part with REQ_FUA if fua. Submits. */
void dmr_io_write_entry(struct dmr_ioq *q, struct bio *parent,
			u64 sector, const void *hdr, struct bio *src, int fua, u64 tag);
/* Submit a bio of the queue. */
void dmr_io_submit(struct bio *bio);
/* Write the stable copy of user bio src's data (sectors long) to dst at
 * sector, as remote I/O of the queue completing with tag; submits. The
 * write holds the copy until it completes, whenever src ends. -EAGAIN:
 * src has no such copy, or such writes hold all they may (copy from the
 * log instead); -ENOMEM: no bio now. */
int dmr_io_ship(struct dmr_ioq *q, struct bio *src, struct block_device *dst,
		u64 sector, u64 sectors, u64 tag);
/* Copy sectors from src to dst with dm-kcopyd (the throttled client when
 * resync); completes with tag like a bio of the queue: -ENODATA for a
 * read error, -EIO for a write error. */
int dmr_io_copy(struct dmr_ioq *q, int resync, struct block_device *src,
		u64 src_sector, struct block_device *dst, u64 dst_sector,
		u64 sectors, u64 tag);
/* Write zeroes to sectors of dst with dm-kcopyd; completes with tag.
 * Both are remote class. */
int dmr_io_zero(struct dmr_ioq *q, struct block_device *dst, u64 sector,
		u64 sectors, u64 tag);
/* Milliseconds since boot (jiffies). */
u64 dmr_now_ms(void);
/* The slink_timeout module parameter in milliseconds (0: none). */
u32 dmr_slink_timeout_ms(void);

/* Take the list of completed bios, oldest first (NULL if none). */
struct llist_node *dmr_ioq_completed(struct dmr_ioq *q);
/* The completed bio at *pos; advances *pos. */
struct bio *dmr_io_next(struct llist_node **pos);
/* The tag and status of a completed bio of the queue. */
u64 dmr_io_tag(struct bio *bio);
u8 dmr_io_status(struct bio *bio);
/* Free a completed bio of the queue. */
void dmr_io_free(struct bio *bio);

/* CRC-32C register update over the data of bio (kernel crc32c()). */
u32 dmr_bio_crc32c(struct bio *bio, u32 seed);
/* CRC-32C register update over len bytes at p (kernel crc32c()). */
u32 dmr_crc32c(u32 seed, const void *p, size_t len);
/* Enter and leave a no-I/O allocation scope (memalloc_noio_save). */
unsigned int dmr_noio_save(void);
void dmr_noio_restore(unsigned int flags);
/* Device number of the block device a bio is aimed at. */
u32 dmr_bio_devt(struct bio *bio);
/* End a user bio with BLK_STS_DM_REQUEUE. */
void dmr_bio_requeue(struct bio *bio);
/* Size of a block device in sectors. */
u64 dmr_bdev_sectors(struct block_device *bdev);
/* The device's logical block size in bytes. */
unsigned int dmr_bdev_lbs(struct block_device *bdev);
/* The target's per-bio data (ti->per_io_data_size bytes). */
void *dmr_bio_per_data(struct bio *bio, unsigned int size);

#endif
