//! Ring arithmetic: where the next entry goes and when space comes back.
//!
//! Positions are ring blocks `0..blocks`. Live entries run from the *head*
//! (oldest entry still needed) to the *tail* (where the next entry goes),
//! in ring order. `used` counts the blocks between them, so head == tail
//! means empty when `used == 0` and full when `used == blocks`.
//!
//! Entries never wrap: one that does not fit before the end of the ring
//! goes to block 0, and the blocks skipped at the end (the *gap*) stay
//! used until the head passes them. No marker is written there: recovery
//! looks for the next entry at the expected block, then at block 0.
//!
//! Space may be reused only once a checkpoint naming a later head is
//! durable, so call [`Ring::release`] after that checkpoint write
//! completes; otherwise a crash could scan from the old head into
//! overwritten blocks.

use core::ffi::CStr;

use super::error::FormatError;
use super::geometry::check_ring_blocks;

/// Where an entry lies in the ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    /// First ring block (the header).
    pub start: u64,
    /// Blocks, header included.
    pub blocks: u64,
}

impl Extent {
    /// The ring block after the entry (may equal the ring size).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.blocks)
    }
}

/// Why the ring refuses a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The entry is larger than the whole ring (or has no blocks).
    TooLarge,
    /// Not enough contiguous free space now; retry after space is freed.
    Full,
    /// The extent released is not the oldest live entry.
    NotOldest,
    /// Ring state that breaks its invariants (never produced by this code).
    Inconsistent,
}

impl RingError {
    /// The message, for the kernel log.
    pub fn message(&self) -> &'static CStr {
        match self {
            RingError::TooLarge => c"Request larger than the replication log ring",
            RingError::Full => c"Replication log full",
            RingError::NotOldest => c"Released log entry is not the oldest",
            RingError::Inconsistent => c"Replication log ring state inconsistent",
        }
    }
}

/// Where [`Ring::reserve`] would put an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Placement {
    start: u64,
    /// Blocks skipped at the end of the ring.
    skip: u64,
}

/// The ring's space accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ring {
    blocks: u64,
    head: u64,
    tail: u64,
    used: u64,
    gap: u64,
}

impl Ring {
    /// An empty ring of `blocks` blocks whose next entry goes to `pos`.
    pub fn empty_at(blocks: u64, pos: u64) -> Result<Ring, FormatError> {
        check_ring_blocks(blocks)?;
        if pos >= blocks {
            return Err(FormatError::CheckpointPosition);
        }
        Ok(Ring {
            blocks,
            head: pos,
            tail: pos,
            used: 0,
            gap: 0,
        })
    }

    /// A ring from its parts (as recovery found them), if they are
    /// consistent: positions in range, `used` equal to the ring-order
    /// distance from head to tail, the gap only in a wrapped ring.
    pub fn from_parts(
        blocks: u64,
        head: u64,
        tail: u64,
        used: u64,
        gap: u64,
    ) -> Result<Ring, RingError> {
        check_ring_blocks(blocks).map_err(|_| RingError::Inconsistent)?;
        let ring = Ring {
            blocks,
            head,
            tail,
            used,
            gap,
        };
        if head >= blocks || tail >= blocks || used > blocks || gap > used {
            return Err(RingError::Inconsistent);
        }
        let consistent = if used == 0 {
            head == tail && gap == 0
        } else if tail > head {
            gap == 0 && tail.checked_sub(head) == Some(used)
        } else {
            blocks.checked_sub(head).and_then(|d| d.checked_add(tail)) == Some(used)
                && ring
                    .lap_end()
                    .is_some_and(|end| head < end || (gap == 0 && head == end))
        };
        if consistent {
            Ok(ring)
        } else {
            Err(RingError::Inconsistent)
        }
    }

    /// Ring size in blocks.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// Ring block of the oldest live entry (the tail if empty).
    pub fn head(&self) -> u64 {
        self.head
    }

    /// Ring block where the next entry goes, if it fits before the end.
    pub fn tail(&self) -> u64 {
        self.tail
    }

    /// Blocks between head and tail, the gap included.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// Blocks skipped at the end of the ring and not yet passed by the head.
    pub fn gap(&self) -> u64 {
        self.gap
    }

    /// Blocks not used: `free() + used() == blocks()`.
    pub fn free(&self) -> u64 {
        self.blocks.saturating_sub(self.used)
    }

    /// No live entry.
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// No free block at all.
    pub fn is_full(&self) -> bool {
        self.used == self.blocks
    }

    /// Live blocks run past the end of the ring and continue at block 0.
    pub fn is_wrapped(&self) -> bool {
        self.used > 0 && self.tail <= self.head
    }

    /// Where the head's lap ends: the ring size less the gap.
    fn lap_end(&self) -> Option<u64> {
        self.blocks.checked_sub(self.gap)
    }

    /// Where an entry of `blocks` blocks would go.
    fn placement(&self, blocks: u64) -> Result<Placement, RingError> {
        if blocks == 0 || blocks > self.blocks {
            return Err(RingError::TooLarge);
        }
        let room = self
            .blocks
            .checked_sub(self.tail)
            .ok_or(RingError::Inconsistent)?;
        let at_tail = Placement {
            start: self.tail,
            skip: 0,
        };
        if self.used == 0 {
            // Nothing live: an entry that does not fit before the end
            // starts the ring over at block 0, skipping nothing.
            return Ok(if blocks <= room {
                at_tail
            } else {
                Placement { start: 0, skip: 0 }
            });
        }
        if self.is_wrapped() {
            let free = self
                .head
                .checked_sub(self.tail)
                .ok_or(RingError::Inconsistent)?;
            return if blocks <= free {
                Ok(at_tail)
            } else {
                Err(RingError::Full)
            };
        }
        if blocks <= room {
            Ok(at_tail)
        } else if blocks <= self.head {
            Ok(Placement {
                start: 0,
                skip: room,
            })
        } else {
            Err(RingError::Full)
        }
    }

    /// Whether an entry of `blocks` blocks fits now.
    pub fn fits(&self, blocks: u64) -> bool {
        self.placement(blocks).is_ok()
    }

    /// Takes room for the next entry, of `blocks` blocks, and moves the
    /// tail past it.
    pub fn reserve(&mut self, blocks: u64) -> Result<Extent, RingError> {
        let place = self.placement(blocks)?;
        let used = self
            .used
            .checked_add(place.skip)
            .and_then(|u| u.checked_add(blocks))
            .filter(|&u| u <= self.blocks)
            .ok_or(RingError::Inconsistent)?;
        let end = place
            .start
            .checked_add(blocks)
            .ok_or(RingError::Inconsistent)?;
        if self.used == 0 {
            self.head = place.start;
        }
        self.used = used;
        self.gap = self.gap.saturating_add(place.skip);
        self.tail = if end == self.blocks { 0 } else { end };
        Ok(Extent {
            start: place.start,
            blocks,
        })
    }

    /// Frees the oldest live entry, which must lie at the head, and moves
    /// the head past it (and past the gap, if it reached it). Only once a
    /// checkpoint with the new head is durable.
    pub fn release(&mut self, extent: Extent) -> Result<(), RingError> {
        if self.used == 0 || extent.start != self.head || extent.blocks == 0 {
            return Err(RingError::NotOldest);
        }
        let wrapped = self.is_wrapped();
        let limit = if wrapped {
            self.lap_end().ok_or(RingError::Inconsistent)?
        } else {
            self.tail
        };
        let end = self
            .head
            .checked_add(extent.blocks)
            .filter(|&end| end <= limit)
            .ok_or(RingError::NotOldest)?;
        let mut used = self
            .used
            .checked_sub(extent.blocks)
            .ok_or(RingError::Inconsistent)?;
        let mut head = end;
        let mut gap = self.gap;
        if wrapped && end == limit {
            used = used.checked_sub(gap).ok_or(RingError::Inconsistent)?;
            gap = 0;
            head = 0;
        }
        self.used = used;
        self.gap = gap;
        self.head = head;
        Ok(())
    }

    /// The ring resized to `blocks` blocks with every live entry where it
    /// is, or why not: a shrink must keep all live blocks below the new
    /// end. An empty ring restarts at block 0.
    ///
    /// The caller stops new entries, writes a checkpoint with the result
    /// (its head and tail, the new size), and uses the new ring once that
    /// write is durable.
    pub fn resized(&self, blocks: u64) -> Result<Ring, FormatError> {
        check_ring_blocks(blocks)?;
        if self.used == 0 {
            return Ring::empty_at(blocks, 0);
        }
        if !self.is_wrapped() {
            // Live blocks are head..tail.
            if self.tail > blocks {
                return Err(FormatError::ResizeLiveData);
            }
            return Ok(Ring {
                blocks,
                tail: if self.tail == blocks { 0 } else { self.tail },
                ..*self
            });
        }
        // Live blocks are head..lap_end, the gap, then 0..tail. The gap
        // becomes whatever lies between lap_end and the new end.
        let lap_end = self.lap_end().ok_or(FormatError::ResizeLiveData)?;
        let gap = blocks
            .checked_sub(lap_end)
            .ok_or(FormatError::ResizeLiveData)?;
        let used = self
            .used
            .checked_sub(self.gap)
            .and_then(|u| u.checked_add(gap))
            .ok_or(FormatError::ResizeLiveData)?;
        Ok(Ring {
            blocks,
            used,
            gap,
            ..*self
        })
    }
}
