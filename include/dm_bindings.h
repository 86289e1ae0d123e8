/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Input of the module's bindgen run (see Kbuild): the device-mapper
 * interfaces that the kernel crate's own bindings do not cover, plus the
 * prototypes of the C shim in src/dm/shim.c.
 */
#include <linux/bio.h>
#include <linux/device-mapper.h>
#include <linux/dm-dirty-log.h>
#include <linux/dm-io.h>
#include <linux/dm-kcopyd.h>
#include "dm_shim.h"
#include "dm_ioq.h"
