// SPDX-License-Identifier: GPL-2.0
/*
 * Completion queue of the replication log's asynchronous I/O: the macro
 * and static-inline half of src/dm/ioq.rs (see include/dm_ioq.h).
 */
#include <linux/bio.h>
#include <linux/blkdev.h>
#include <linux/crc32c.h>
#include <linux/device-mapper.h>
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include <linux/jiffies.h>
#include <linux/highmem.h>
#include <linux/llist.h>
#include <linux/mempool.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include "../../include/dm_ioq.h"

/*
 * Bios and header pages kept in reserve for forward progress, per class
 * of I/O (DMR_IO_LOCAL: the log and the local devices; DMR_IO_REMOTE:
 * the remote devices, whose I/O may hang on a transport and must not
 * hold what the local one needs).
 *
 * Only the main work item frees the bios of a class (after it took their
 * completions), so it must never wait for one: while it holds fewer than
 * the reserve, a GFP_NOIO allocation is sure to be served (the reserve
 * is not empty: at most that many of its elements are held); beyond
 * that it allocates without waiting and, on failure, issues nothing
 * until completions come back. Plenty of memory: no limit; a shortage:
 * at most the reserve in flight, and progress.
 */
#define DMR_IOQ_RESERVE 64
#define DMR_IOQ_REMOTE_RESERVE 16

/*
 * Stable copies of user data: pages for two of the largest writes the
 * target takes, and bios to hold them, in reserve; plus what remote
 * writes from stable copies may hold (DMR_SHIP_*).
 *
 * A remote write from a stable copy (dmr_io_ship) keeps the copy until
 * it completes, which may be after the user bio ended (an asynchronous
 * link, or one that went down): a remote hanging on its transport then
 * holds the copy. So such writes hold at most DMR_SHIP_PAGES pages and
 * DMR_SHIP_BIOS copies in all, and the reserves are that much larger:
 * whatever hangs, new writes find the reserve they had without them.
 */
#define DMR_SHIP_PAGES 256
#define DMR_SHIP_BIOS 64
#define DMR_STABLE_PAGES (2 * DMR_STABLE_MAX_PAGES + DMR_SHIP_PAGES)
#define DMR_STABLE_BIOS (16 + DMR_SHIP_BIOS)

/* Share of the disk time resynchronisation may take (percent). */
DECLARE_DM_KCOPYD_THROTTLE_WITH_MODULE_PARM(resync_throttle,
	"Percentage of I/O time a site link resynchronisation may use");

struct dmr_ioq {
	struct workqueue_struct *wq;
	struct work_struct work[2];
	struct delayed_work later;
	struct dm_kcopyd_client *kc[2];
	void (*fn)(void *ctx, int which);
	void *ctx;
	struct llist_head done;
	atomic_t inflight;
	wait_queue_head_t idle;
	spinlock_t lock;
	struct bio_list deferred;
	struct bio_set bs;
	mempool_t *pages;
	/* Remote I/O: flushes and the tokens of kcopyd jobs. */
	struct bio_set rbs;
	/* Bios of each class allocated and not yet freed. */
	atomic_t held[2];
	/* Stable copies: their own reserves, so deferred writes holding
	 * copies never starve the log's I/O of bios or pages. */
	struct bio_set stable_bs;
	mempool_t *stable_pages;
	/* One allocator at a time may wait on the page reserve. */
	struct mutex stable_lock;
	/* Pages and remote writes of dmr_io_ship() in flight. */
	atomic_t shipped_pages;
	atomic_t shipped_bios;
	/* Reads held until the writes they overlap reach the local device
	 * (dmr_ioq_hold_read). */
	spinlock_t held_lock;
	struct bio_list held_reads;
};

/* A stable copy of a user bio's data: the user bio holds a reference,
 * and so does each remote write from it in flight. */
struct dmr_stable {
	struct dmr_ioq *q;
	atomic_t ref;
	struct bio bio; /* last: bio_set front pad */
};

/* The per-bio data of a user bio (DMR_PER_BIO_BYTES): the tag the Rust
 * side writes at offset 0, then the stable copy of the data (or NULL). */
struct dmr_pdu {
	u64 tag;
	struct bio *stable;
};

static struct dmr_pdu *dmr_pdu(struct bio *bio)
{
	BUILD_BUG_ON(sizeof(struct dmr_pdu) > DMR_PER_BIO_BYTES);
	return dm_per_bio_data(bio, DMR_PER_BIO_BYTES);
}

/* Front pad of every bio of the queue. */
struct dmr_io {
	struct llist_node node;
	struct dmr_ioq *q;
	u64 tag;
	struct page *page;
	/* The stable copy a remote write is from (dmr_io_ship), or NULL. */
	struct bio *shipped;
	int class;
	struct bio bio; /* last: bio_set front pad */
};

static struct dmr_io *to_io(struct bio *bio)
{
	return container_of(bio, struct dmr_io, bio);
}

static void dmr_ioq_later(struct work_struct *w)
{
	struct dmr_ioq *q = container_of(to_delayed_work(w), struct dmr_ioq, later);

	queue_work(q->wq, &q->work[0]);
}

static void dmr_ioq_work0(struct work_struct *w)
{
	struct dmr_ioq *q = container_of(w, struct dmr_ioq, work[0]);
	unsigned int noio = memalloc_noio_save();

	q->fn(q->ctx, 0);
	memalloc_noio_restore(noio);
}

static void dmr_ioq_work1(struct work_struct *w)
{
	struct dmr_ioq *q = container_of(w, struct dmr_ioq, work[1]);
	unsigned int noio = memalloc_noio_save();

	q->fn(q->ctx, 1);
	memalloc_noio_restore(noio);
}

struct dmr_ioq *dmr_ioq_create(const char *name, void (*fn)(void *ctx, int which))
{
	struct dmr_ioq *q = kzalloc(sizeof(*q), GFP_KERNEL);

	if (!q)
		return NULL;
	q->fn = fn;
	INIT_WORK(&q->work[0], dmr_ioq_work0);
	INIT_WORK(&q->work[1], dmr_ioq_work1);
	INIT_DELAYED_WORK(&q->later, dmr_ioq_later);
	init_llist_head(&q->done);
	atomic_set(&q->inflight, 0);
	init_waitqueue_head(&q->idle);
	spin_lock_init(&q->lock);
	bio_list_init(&q->deferred);
	spin_lock_init(&q->held_lock);
	bio_list_init(&q->held_reads);
	/*
	 * WQ_MEM_RECLAIM: the log's I/O must progress under memory pressure.
	 * WQ_UNBOUND: the work is queued from completions on whichever CPU
	 * took the interrupt; any idle CPU may run it rather than that one.
	 */
	q->wq = alloc_workqueue("dmr-%s", WQ_UNBOUND | WQ_MEM_RECLAIM, 0, name);
	if (!q->wq)
		goto free;
	if (bioset_init(&q->bs, DMR_IOQ_RESERVE, offsetof(struct dmr_io, bio),
			BIOSET_NEED_BVECS))
		goto wq;
	q->pages = mempool_create_page_pool(DMR_IOQ_RESERVE, 0);
	if (!q->pages)
		goto bs;
	if (bioset_init(&q->rbs, DMR_IOQ_REMOTE_RESERVE, offsetof(struct dmr_io, bio), 0))
		goto pages0;
	atomic_set(&q->held[0], 0);
	atomic_set(&q->held[1], 0);
	atomic_set(&q->shipped_pages, 0);
	atomic_set(&q->shipped_bios, 0);
	mutex_init(&q->stable_lock);
	if (bioset_init(&q->stable_bs, DMR_STABLE_BIOS,
			offsetof(struct dmr_stable, bio), BIOSET_NEED_BVECS))
		goto rbs;
	q->stable_pages = mempool_create_page_pool(DMR_STABLE_PAGES, 0);
	if (!q->stable_pages)
		goto stable_bs;
	q->kc[0] = dm_kcopyd_client_create(NULL);
	if (IS_ERR(q->kc[0]))
		goto stable_pages;
	q->kc[1] = dm_kcopyd_client_create(&dm_kcopyd_throttle);
	if (IS_ERR(q->kc[1]))
		goto kc0;
	return q;
kc0:
	dm_kcopyd_client_destroy(q->kc[0]);
stable_pages:
	mempool_destroy(q->stable_pages);
stable_bs:
	bioset_exit(&q->stable_bs);
rbs:
	bioset_exit(&q->rbs);
pages0:
	mempool_destroy(q->pages);
bs:
	bioset_exit(&q->bs);
wq:
	destroy_workqueue(q->wq);
free:
	kfree(q);
	return NULL;
}

void dmr_ioq_set_ctx(struct dmr_ioq *q, void *ctx)
{
	q->ctx = ctx;
}

void dmr_ioq_quiesce(struct dmr_ioq *q)
{
	wait_event(q->idle, !atomic_read(&q->inflight));
	flush_workqueue(q->wq);
}

/*
 * Wait until no I/O of the queue is in flight. The completion side
 * decrements under the wait queue's lock, so taking that lock here also
 * waits for the last completion to be done with the queue.
 */
static void dmr_ioq_wait_idle(struct dmr_ioq *q)
{
	wait_event(q->idle, !atomic_read(&q->inflight));
	spin_lock_irq(&q->idle.lock);
	spin_unlock_irq(&q->idle.lock);
}

void dmr_ioq_destroy(struct dmr_ioq *q)
{
	WARN_ON_ONCE(!bio_list_empty(&q->deferred));
	WARN_ON_ONCE(!bio_list_empty(&q->held_reads));
	/*
	 * No later run from here on: a work item the drain runs may ask for
	 * one (a site link that is down asks for its retest), and that timer
	 * would fire after the queue is freed. The main work then runs once
	 * more, whatever was pending: every teardown takes that path, not
	 * only the one that raced with a timer. Work items run until they
	 * leave nothing in flight: the I/O one of them issues completes into
	 * another.
	 */
	disable_delayed_work_sync(&q->later);
	queue_work(q->wq, &q->work[0]);
	do {
		dmr_ioq_wait_idle(q);
		drain_workqueue(q->wq);
	} while (atomic_read(&q->inflight));
	dmr_ioq_wait_idle(q);
	destroy_workqueue(q->wq);
	dm_kcopyd_client_destroy(q->kc[1]);
	dm_kcopyd_client_destroy(q->kc[0]);
	mempool_destroy(q->stable_pages);
	bioset_exit(&q->stable_bs);
	WARN_ON_ONCE(atomic_read(&q->held[0]) || atomic_read(&q->held[1]));
	bioset_exit(&q->rbs);
	mempool_destroy(q->pages);
	bioset_exit(&q->bs);
	kfree(q);
}

void dmr_ioq_kick(struct dmr_ioq *q, int which)
{
	queue_work(q->wq, &q->work[which ? 1 : 0]);
}

/*
 * The earliest request wins: a pending later run is brought forward, an
 * earlier one is kept (queue_delayed_work alone would drop a shorter
 * delay, and the work would sleep past a retest that was due).
 */
void dmr_ioq_kick_after(struct dmr_ioq *q, unsigned int ms)
{
	unsigned long delay = msecs_to_jiffies(ms);
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	if (!delayed_work_pending(&q->later) ||
	    time_before(jiffies + delay, q->later.timer.expires))
		mod_delayed_work(q->wq, &q->later, delay);
	spin_unlock_irqrestore(&q->lock, flags);
}

unsigned int dmr_ioq_inflight(struct dmr_ioq *q)
{
	return atomic_read(&q->inflight);
}

void dmr_ioq_defer(struct dmr_ioq *q, struct bio *bio)
{
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	bio_list_add(&q->deferred, bio);
	spin_unlock_irqrestore(&q->lock, flags);
	dmr_ioq_kick(q, 0);
}

struct bio *dmr_ioq_peek(struct dmr_ioq *q)
{
	unsigned long flags;
	struct bio *bio;

	spin_lock_irqsave(&q->lock, flags);
	bio = bio_list_peek(&q->deferred);
	spin_unlock_irqrestore(&q->lock, flags);
	return bio;
}

struct bio *dmr_ioq_pop(struct dmr_ioq *q)
{
	unsigned long flags;
	struct bio *bio;

	spin_lock_irqsave(&q->lock, flags);
	bio = bio_list_pop(&q->deferred);
	spin_unlock_irqrestore(&q->lock, flags);
	return bio;
}

/*
 * Pages for a stable copy. Without waiting first; if that fails, the
 * pages taken go back and the allocation waits under stable_lock, so at
 * most one allocator holds part of the reserve while it waits, and the
 * reserve (two of the largest copies) is sure to serve it as copies of
 * writes in flight are freed.
 */
static void dmr_stable_pages(struct dmr_ioq *q, struct page **pages, unsigned int nr)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		pages[i] = mempool_alloc(q->stable_pages, GFP_NOWAIT | __GFP_NOWARN);
		if (!pages[i])
			break;
	}
	if (i == nr)
		return;
	while (i--)
		mempool_free(pages[i], q->stable_pages);
	mutex_lock(&q->stable_lock);
	for (i = 0; i < nr; i++)
		pages[i] = mempool_alloc(q->stable_pages, GFP_NOIO);
	mutex_unlock(&q->stable_lock);
}

u32 dmr_io_stabilize(struct dmr_ioq *q, struct bio *bio, int data)
{
	struct page *pages[DMR_STABLE_MAX_PAGES];
	unsigned int bytes = bio->bi_iter.bi_size;
	unsigned int nr = DIV_ROUND_UP(bytes, PAGE_SIZE);
	struct dmr_stable *st;
	struct bio *copy;
	unsigned int i;

	dmr_pdu(bio)->stable = NULL;
	if (!data || !bytes)
		return ~0U;
	if (WARN_ON_ONCE(nr > DMR_STABLE_MAX_PAGES))
		return dmr_bio_crc32c(bio, ~0U);
	copy = bio_alloc_bioset(bio->bi_bdev, nr, REQ_OP_WRITE, GFP_NOIO,
				&q->stable_bs);
	st = container_of(copy, struct dmr_stable, bio);
	st->q = q;
	atomic_set(&st->ref, 1);
	copy->bi_iter.bi_sector = bio->bi_iter.bi_sector;
	dmr_stable_pages(q, pages, nr);
	for (i = 0; i < nr; i++)
		__bio_add_page(copy, pages[i],
			       min_t(unsigned int, PAGE_SIZE, bytes - i * PAGE_SIZE), 0);
	bio_copy_data(copy, bio);
	dmr_pdu(bio)->stable = copy;
	return dmr_bio_crc32c(copy, ~0U);
}

/* Drop a reference to a stable copy; the last one frees it. Any context. */
static void dmr_stable_put(struct bio *copy)
{
	struct dmr_stable *st = container_of(copy, struct dmr_stable, bio);
	struct bvec_iter_all iter;
	struct bio_vec *bv;

	if (!atomic_dec_and_test(&st->ref))
		return;
	bio_for_each_segment_all(bv, copy, iter)
		mempool_free(bv->bv_page, st->q->stable_pages);
	bio_put(copy);
}

void dmr_user_bio_end(struct bio *bio, u8 status)
{
	struct bio *copy = dmr_pdu(bio)->stable;

	if (copy) {
		dmr_pdu(bio)->stable = NULL;
		dmr_stable_put(copy);
	}
	bio->bi_status = (__force blk_status_t)status;
	bio_endio(bio);
}

unsigned int dmr_ioq_requeue_dev(struct dmr_ioq *q, u32 dev)
{
	struct bio_list keep, requeue;
	unsigned long flags;
	unsigned int n = 0;
	struct bio *bio;

	bio_list_init(&keep);
	bio_list_init(&requeue);
	spin_lock_irqsave(&q->lock, flags);
	while ((bio = bio_list_pop(&q->deferred)))
		bio_list_add(bio->bi_bdev->bd_dev == dev ? &requeue : &keep, bio);
	bio_list_merge(&q->deferred, &keep);
	spin_unlock_irqrestore(&q->lock, flags);
	while ((bio = bio_list_pop(&requeue))) {
		dmr_user_bio_end(bio, BLK_STS_DM_REQUEUE);
		n++;
	}
	return n;
}

/* One bio of the queue less in flight. */
static void dmr_io_put_inflight(struct dmr_ioq *q)
{
	unsigned long flags;

	/* Under the lock: see dmr_ioq_wait_idle(). */
	spin_lock_irqsave(&q->idle.lock, flags);
	if (atomic_dec_and_test(&q->inflight))
		wake_up_locked(&q->idle);
	spin_unlock_irqrestore(&q->idle.lock, flags);
}

static void dmr_io_endio(struct bio *bio)
{
	struct dmr_io *io = to_io(bio);
	struct dmr_ioq *q = io->q;

	if (io->shipped) {
		if (io->class == DMR_IO_REMOTE) {
			atomic_sub(io->shipped->bi_vcnt, &q->shipped_pages);
			atomic_dec(&q->shipped_bios);
		}
		dmr_stable_put(io->shipped);
		io->shipped = NULL;
	}

	llist_add(&io->node, &q->done);
	queue_work(q->wq, &q->work[0]);
	dmr_io_put_inflight(q);
}

/* How the main work item may allocate for class (see DMR_IOQ_RESERVE). */
static gfp_t dmr_io_gfp(struct dmr_ioq *q, int class)
{
	int reserve = class == DMR_IO_REMOTE ? DMR_IOQ_REMOTE_RESERVE : DMR_IOQ_RESERVE;

	return atomic_read(&q->held[class]) < reserve ? GFP_NOIO : GFP_NOWAIT | __GFP_NOWARN;
}

static void dmr_io_init(struct dmr_ioq *q, struct bio *bio, int class, u64 sector, u64 tag)
{
	struct dmr_io *io = to_io(bio);

	io->q = q;
	io->tag = tag;
	io->page = NULL;
	io->shipped = NULL;
	io->class = class;
	bio->bi_iter.bi_sector = sector;
	bio->bi_end_io = dmr_io_endio;
	atomic_inc(&q->held[class]);
	atomic_inc(&q->inflight);
}

struct bio *dmr_io_new(struct dmr_ioq *q, int class, struct block_device *bdev,
		       unsigned int nr_vecs, u32 opf, u64 sector, u64 tag)
{
	struct bio *bio;

	if (WARN_ON_ONCE(class == DMR_IO_REMOTE && nr_vecs))
		return NULL;
	bio = bio_alloc_bioset(bdev, nr_vecs, (__force blk_opf_t)opf, dmr_io_gfp(q, class),
			       class == DMR_IO_REMOTE ? &q->rbs : &q->bs);
	if (bio)
		dmr_io_init(q, bio, class, sector, tag);
	return bio;
}

struct bio *dmr_io_clone(struct dmr_ioq *q, struct bio *src, u64 tag, int *own)
{
	struct bio *copy = dmr_pdu(src)->stable;
	struct bio *bio = bio_alloc_clone(src->bi_bdev, copy ?: src, dmr_io_gfp(q, DMR_IO_LOCAL), &q->bs);

	if (!bio)
		return NULL;
	bio->bi_opf &= ~(REQ_PREFLUSH | REQ_FUA);
	dmr_io_init(q, bio, DMR_IO_LOCAL, src->bi_iter.bi_sector, tag);
	/* The write holds the stable copy (not counted as shipped: a local
	 * write does not hang on a transport), so src may end first. */
	if (copy) {
		atomic_inc(&container_of(copy, struct dmr_stable, bio)->ref);
		to_io(bio)->shipped = copy;
	}
	*own = copy || !bio_has_data(src);
	return bio;
}

void dmr_ioq_held_lock(struct dmr_ioq *q)
{
	spin_lock(&q->held_lock);
}

void dmr_ioq_held_unlock(struct dmr_ioq *q)
{
	spin_unlock(&q->held_lock);
}

void dmr_ioq_hold_read(struct dmr_ioq *q, struct bio *bio, u64 tag)
{
	lockdep_assert_held(&q->held_lock);
	dmr_pdu(bio)->tag = tag;
	dmr_pdu(bio)->stable = NULL;
	bio_list_add(&q->held_reads, bio);
}

unsigned int dmr_ioq_release_reads(struct dmr_ioq *q,
				   bool (*still)(void *ctx, u64 tag, u64 sector, u32 sectors),
				   void *ctx)
{
	struct bio_list all, go;
	unsigned int n = 0;
	struct bio *bio;

	bio_list_init(&go);
	spin_lock(&q->held_lock);
	if (bio_list_empty(&q->held_reads)) {
		spin_unlock(&q->held_lock);
		return 0;
	}
	all = q->held_reads;
	bio_list_init(&q->held_reads);
	while ((bio = bio_list_pop(&all))) {
		if (still(ctx, dmr_pdu(bio)->tag, bio->bi_iter.bi_sector, bio_sectors(bio)))
			bio_list_add(&q->held_reads, bio);
		else
			bio_list_add(&go, bio);
	}
	spin_unlock(&q->held_lock);
	while ((bio = bio_list_pop(&go))) {
		dm_submit_bio_remap(bio, NULL);
		n++;
	}
	return n;
}

int dmr_io_ship(struct dmr_ioq *q, struct bio *src, struct block_device *dst,
		u64 sector, u64 sectors, u64 tag)
{
	struct bio *copy = dmr_pdu(src)->stable;
	struct dmr_stable *st;
	unsigned int pages;
	struct bio *bio;
	bool over;

	if (!copy || copy->bi_iter.bi_size != sectors << SECTOR_SHIFT)
		return -EAGAIN;
	pages = copy->bi_vcnt;
	over = atomic_add_return(pages, &q->shipped_pages) > DMR_SHIP_PAGES;
	over |= atomic_inc_return(&q->shipped_bios) > DMR_SHIP_BIOS;
	if (over) {
		atomic_sub(pages, &q->shipped_pages);
		atomic_dec(&q->shipped_bios);
		return -EAGAIN;
	}
	bio = bio_alloc_clone(dst, copy, dmr_io_gfp(q, DMR_IO_REMOTE), &q->rbs);
	if (!bio) {
		atomic_sub(pages, &q->shipped_pages);
		atomic_dec(&q->shipped_bios);
		return -ENOMEM;
	}
	bio->bi_opf = REQ_OP_WRITE;
	dmr_io_init(q, bio, DMR_IO_REMOTE, sector, tag);
	st = container_of(copy, struct dmr_stable, bio);
	atomic_inc(&st->ref);
	to_io(bio)->shipped = copy;
	submit_bio(bio);
	return 0;
}

/* Add a page range to *cur; when it is full, continue in a new bio
 * chained to parent, submitting the full one. */
static void dmr_io_add(struct dmr_ioq *q, struct bio *parent, struct bio **cur,
		       struct page *page, unsigned int len, unsigned int off)
{
	struct bio *next;

	if (bio_add_page(*cur, page, len, off) == len)
		return;
	next = bio_alloc_bioset((*cur)->bi_bdev, BIO_MAX_VECS, (*cur)->bi_opf,
				GFP_NOIO, &q->bs);
	next->bi_iter.bi_sector = bio_end_sector(*cur);
	if (*cur != parent)
		submit_bio(*cur);
	bio_chain(next, parent);
	*cur = next;
	__bio_add_page(next, page, len, off);
}

struct bio *dmr_io_entry_begin(struct dmr_ioq *q, struct block_device *bdev,
			       struct bio *src)
{
	unsigned int vecs = 2 + (src ? bio_segments(dmr_pdu(src)->stable ?: src) : 0);
	gfp_t gfp = dmr_io_gfp(q, DMR_IO_LOCAL);
	struct page *page;
	struct bio *bio;

	/* The page first: while the class holds fewer than the reserve,
	 * neither allocation waits for good (each reserve has room). */
	page = mempool_alloc(q->pages, gfp);
	if (!page)
		return NULL;
	bio = bio_alloc_bioset(bdev, min_t(unsigned int, vecs, BIO_MAX_VECS),
			       REQ_OP_WRITE | REQ_SYNC, gfp, &q->bs);
	if (!bio) {
		mempool_free(page, q->pages);
		return NULL;
	}
	dmr_io_init(q, bio, DMR_IO_LOCAL, 0, 0);
	to_io(bio)->page = page;
	return bio;
}

void dmr_io_discard(struct bio *bio)
{
	struct dmr_ioq *q = to_io(bio)->q;

	dmr_io_free(bio);
	dmr_io_put_inflight(q);
}

void dmr_io_write_entry(struct dmr_ioq *q, struct bio *parent,
			u64 sector, const void *hdr, struct bio *src, int fua, u64 tag)
{
	struct page *page = to_io(parent)->page;
	struct bvec_iter iter;
	struct bio_vec bv;
	struct bio *cur;
	unsigned int pad;

	to_io(parent)->tag = tag;
	parent->bi_iter.bi_sector = sector;
	/* Before the data: a chained part takes the parent's flags. */
	if (fua)
		parent->bi_opf |= REQ_FUA;
	memcpy(page_address(page), hdr, PAGE_SIZE);
	__bio_add_page(parent, page, PAGE_SIZE, 0);
	cur = parent;
	if (src && dmr_pdu(src)->stable)
		src = dmr_pdu(src)->stable;
	if (src) {
		bio_for_each_segment(bv, src, iter)
			dmr_io_add(q, parent, &cur, bv.bv_page, bv.bv_len, bv.bv_offset);
		pad = (PAGE_SIZE - (src->bi_iter.bi_size & (PAGE_SIZE - 1))) &
		      (PAGE_SIZE - 1);
		if (pad)
			dmr_io_add(q, parent, &cur, ZERO_PAGE(0), pad, 0);
	}
	if (cur != parent)
		submit_bio(cur);
	submit_bio(parent);
}

void dmr_io_submit(struct bio *bio)
{
	submit_bio(bio);
}

/*
 * A kcopyd job is represented on the completion list by an unsubmitted,
 * empty bio of the queue (the token), so it is counted in flight and
 * handled like any other completion. A read error ends the token with
 * BLK_STS_MEDIUM (-ENODATA), a write error with BLK_STS_IOERR.
 */
static void dmr_kcopyd_done(int read_err, unsigned long write_err, void *ctx)
{
	struct bio *tok = ctx;

	if (read_err)
		tok->bi_status = BLK_STS_MEDIUM;
	else if (write_err)
		tok->bi_status = BLK_STS_IOERR;
	dmr_io_endio(tok);
}

int dmr_io_copy(struct dmr_ioq *q, int resync, struct block_device *src,
		u64 src_sector, struct block_device *dst, u64 dst_sector,
		u64 sectors, u64 tag)
{
	struct dm_io_region from = { .bdev = src, .sector = src_sector, .count = sectors };
	struct dm_io_region to = { .bdev = dst, .sector = dst_sector, .count = sectors };
	struct bio *tok = dmr_io_new(q, DMR_IO_REMOTE, dst, 0, REQ_OP_WRITE, 0, tag);

	if (!tok)
		return -ENOMEM;
	dm_kcopyd_copy(q->kc[resync ? 1 : 0], &from, 1, &to, 0, dmr_kcopyd_done, tok);
	return 0;
}

int dmr_io_zero(struct dmr_ioq *q, struct block_device *dst, u64 sector,
		u64 sectors, u64 tag)
{
	struct dm_io_region to = { .bdev = dst, .sector = sector, .count = sectors };
	struct bio *tok = dmr_io_new(q, DMR_IO_REMOTE, dst, 0, REQ_OP_WRITE, 0, tag);

	if (!tok)
		return -ENOMEM;
	dm_kcopyd_zero(q->kc[0], 1, &to, 0, dmr_kcopyd_done, tok);
	return 0;
}

u64 dmr_now_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

/* How long a remote I/O may take before its site link is marked down. */
static unsigned int slink_timeout = 30;
module_param(slink_timeout, uint, 0644);
MODULE_PARM_DESC(slink_timeout,
	"Seconds a copy, flush or region copy to a remote device may take before its site link is marked down (0: wait for the transport)");

u32 dmr_slink_timeout_ms(void)
{
	return min_t(u32, READ_ONCE(slink_timeout), 3600) * 1000;
}

struct llist_node *dmr_ioq_completed(struct dmr_ioq *q)
{
	return llist_reverse_order(llist_del_all(&q->done));
}

struct bio *dmr_io_next(struct llist_node **pos)
{
	struct dmr_io *io;

	if (!*pos)
		return NULL;
	io = llist_entry(*pos, struct dmr_io, node);
	*pos = (*pos)->next;
	return &io->bio;
}

u64 dmr_io_tag(struct bio *bio)
{
	return to_io(bio)->tag;
}

u8 dmr_io_status(struct bio *bio)
{
	return (__force u8)bio->bi_status;
}

void dmr_io_free(struct bio *bio)
{
	struct dmr_io *io = to_io(bio);
	struct dmr_ioq *q = io->q;
	int class = io->class; /* io goes with the bio */

	if (io->page)
		mempool_free(io->page, q->pages);
	bio_put(bio);
	atomic_dec(&q->held[class]);
}

u32 dmr_bio_crc32c(struct bio *bio, u32 seed)
{
	struct bvec_iter iter;
	struct bio_vec bv;

	bio_for_each_segment(bv, bio, iter) {
		void *p = bvec_kmap_local(&bv);

		seed = crc32c(seed, p, bv.bv_len);
		kunmap_local(p);
	}
	return seed;
}

u32 dmr_crc32c(u32 seed, const void *p, size_t len)
{
	return crc32c(seed, p, len);
}

unsigned int dmr_noio_save(void)
{
	return memalloc_noio_save();
}

void dmr_noio_restore(unsigned int flags)
{
	memalloc_noio_restore(flags);
}

u32 dmr_bio_devt(struct bio *bio)
{
	return bio->bi_bdev->bd_dev;
}

void dmr_bio_requeue(struct bio *bio)
{
	dmr_user_bio_end(bio, BLK_STS_DM_REQUEUE);
}

u64 dmr_bdev_sectors(struct block_device *bdev)
{
	return bdev_nr_sectors(bdev);
}

unsigned int dmr_bdev_lbs(struct block_device *bdev)
{
	return bdev_logical_block_size(bdev);
}

void *dmr_bio_per_data(struct bio *bio, unsigned int size)
{
	return dm_per_bio_data(bio, size);
}
