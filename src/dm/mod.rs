// SPDX-License-Identifier: GPL-2.0
//! The device-mapper layer: a safe Rust interface to the kernel's
//! device-mapper core for the targets above it.
//!
//! Everything `unsafe` in the module lives here (and in the C shim
//! `shim.c`); the targets, the replication log and the site links are safe
//! Rust. The layer follows the shape of the 2023 Rust device-mapper RFC
//! (a `#[vtable]` target trait, registration that unregisters on drop,
//! device references that are put on drop) without its panicking defaults.

// The layer is an interface: not all of it has a user yet.
#![allow(dead_code, unused_imports)]

#[allow(
    clippy::all,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]
mod bindings {
    include!("bindings_generated.rs");
}

mod args;
mod background;
mod bdev;
mod bio;
mod device;
mod dirty_log;
mod global;
mod ioq;
mod kvec;
mod stack;
mod status;
mod target;

pub(crate) use args::TargetError;
pub(crate) use background::{spawn_background, spawn_background_noio, Background};
pub(crate) use bdev::{msleep, random_bytes, BlockDevice, KernelCrc32c, NoIo};
pub(crate) use bio::{device_error, Bio, BioOp};
pub(crate) use device::{DevId, DmDev};
pub(crate) use dirty_log::DirtyLog;
pub(crate) use global::Global;
pub(crate) use kvec::{pop, retain};
pub(crate) use ioq::{
    now_ms, slink_timeout_ms, Busy, Class, Done, EntryIo, IoHandler, IoQueue, Submit, UserBio, MAX_STABLE_SECTORS, PER_BIO_BYTES,
};
pub(crate) use stack::on_fresh_stack;
pub(crate) use status::StatusWriter;
pub(crate) use target::{
    DeferredEvent, DeviceVisitor, EndIoResult, MapResult, QueueLimits, Registration, StatusType, Target,
    TargetCtx, TargetHandle,
};
