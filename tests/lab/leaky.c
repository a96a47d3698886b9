// SPDX-License-Identifier: GPL-2.0
/*
 * leaky: a test module that leaks kernel memory on purpose, for the
 * kleak-runbook kernel lab (tests/lab/).
 *
 * Every 100 ms a delayed work item leaks rate_kib/10 KiB of the chosen kind
 * until total_kib have been leaked.  Nothing is ever freed: the memory stays
 * allocated after rmmod, as with a real leak.  Each kind has its own noinline
 * function so that callers in /proc/vmallocinfo, slab alloc_traces and
 * tracing name it.
 *
 *   kind=kmalloc  kmalloc(size)                      -> SUnreclaim, kmalloc-<size>
 *   kind=cache    kmem_cache_alloc from "cache_name" -> SUnreclaim, /proc/slabinfo
 *   kind=vmalloc  vmalloc(size)                      -> VmallocUsed, vmallocinfo
 *   kind=pages    alloc_page(GFP_KERNEL), order 0    -> only MemFree falls
 *   kind=percpu   __alloc_percpu(size)               -> Percpu (size * possible CPUs)
 *
 * rate_kib and total_kib count bytes as the kernel accounts them: for percpu
 * one allocation of `size` costs size * num_possible_cpus().
 */
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/workqueue.h>
#include <linux/cpumask.h>
#include <linux/string.h>

#define LEAKY_TICK_MS 100

static char *kind = "kmalloc";
module_param(kind, charp, 0444);
MODULE_PARM_DESC(kind, "kmalloc|cache|vmalloc|pages|percpu");

static unsigned int rate_kib = 1024;
module_param(rate_kib, uint, 0444);
MODULE_PARM_DESC(rate_kib, "KiB leaked per second (default 1024)");

static unsigned int total_kib = 65536;
module_param(total_kib, uint, 0444);
MODULE_PARM_DESC(total_kib, "stop after leaking this many KiB (default 65536)");

static unsigned int size = 4096;
module_param(size, uint, 0444);
MODULE_PARM_DESC(size, "object size in bytes for kmalloc/cache/vmalloc/percpu (default 4096)");

static char *cache_name = "leaky_obj";
module_param(cache_name, charp, 0444);
MODULE_PARM_DESC(cache_name, "name of the kmem_cache for kind=cache (must be unique per boot)");

/* What has been leaked so far, readable in /sys/module/leaky/parameters. */
static unsigned long leaked_bytes;
module_param(leaked_bytes, ulong, 0444);
static unsigned long leaked_objects;
module_param(leaked_objects, ulong, 0444);

enum leaky_kind { LEAKY_KMALLOC, LEAKY_CACHE, LEAKY_VMALLOC, LEAKY_PAGES, LEAKY_PERCPU };

static enum leaky_kind leaky_kind;
static struct kmem_cache *leaky_cache;
static unsigned long unit_bytes;	/* bytes one allocation costs */
static unsigned long per_tick_bytes;
static unsigned long total_bytes;
static struct delayed_work leaky_work;

/*
 * A constructor keeps SLUB from merging the cache with another cache of the
 * same size (slab_unmergeable() refuses caches with a ctor), so it shows in
 * /proc/slabinfo under its own name.
 */
static void leaky_obj_ctor(void *obj)
{
}

static noinline bool leaky_kmalloc_leak(void)
{
	return kmalloc(size, GFP_KERNEL) != NULL;
}

static noinline bool leaky_cache_leak(void)
{
	return kmem_cache_alloc(leaky_cache, GFP_KERNEL) != NULL;
}

static noinline bool leaky_vmalloc_leak(void)
{
	return vmalloc(size) != NULL;
}

static noinline bool leaky_pages_leak(void)
{
	return alloc_page(GFP_KERNEL) != NULL;
}

static noinline bool leaky_percpu_leak(void)
{
	return __alloc_percpu(size, sizeof(void *)) != NULL;
}

static bool leaky_leak_one(void)
{
	switch (leaky_kind) {
	case LEAKY_KMALLOC:
		return leaky_kmalloc_leak();
	case LEAKY_CACHE:
		return leaky_cache_leak();
	case LEAKY_VMALLOC:
		return leaky_vmalloc_leak();
	case LEAKY_PAGES:
		return leaky_pages_leak();
	case LEAKY_PERCPU:
		return leaky_percpu_leak();
	}
	return false;
}

static void leaky_tick(struct work_struct *work)
{
	unsigned long done = 0;

	while (done < per_tick_bytes && leaked_bytes < total_bytes) {
		if (!leaky_leak_one()) {
			pr_warn("leaky: allocation failed after %lu bytes, stopping\n", leaked_bytes);
			return;
		}
		done += unit_bytes;
		leaked_bytes += unit_bytes;
		leaked_objects++;
	}
	if (leaked_bytes < total_bytes)
		schedule_delayed_work(&leaky_work, msecs_to_jiffies(LEAKY_TICK_MS));
	else
		pr_info("leaky: done, leaked %lu bytes in %lu objects (%s)\n",
			leaked_bytes, leaked_objects, kind);
}

static int __init leaky_init(void)
{
	if (!strcmp(kind, "kmalloc")) {
		leaky_kind = LEAKY_KMALLOC;
		unit_bytes = size;
	} else if (!strcmp(kind, "cache")) {
		leaky_kind = LEAKY_CACHE;
		unit_bytes = size;
	} else if (!strcmp(kind, "vmalloc")) {
		leaky_kind = LEAKY_VMALLOC;
		unit_bytes = PAGE_ALIGN(size);
	} else if (!strcmp(kind, "pages")) {
		leaky_kind = LEAKY_PAGES;
		unit_bytes = PAGE_SIZE;
	} else if (!strcmp(kind, "percpu")) {
		leaky_kind = LEAKY_PERCPU;
		unit_bytes = (unsigned long)size * num_possible_cpus();
	} else {
		pr_err("leaky: unknown kind=%s\n", kind);
		return -EINVAL;
	}
	if (size == 0 || rate_kib == 0) {
		pr_err("leaky: size and rate_kib must be > 0\n");
		return -EINVAL;
	}
	if (leaky_kind == LEAKY_PERCPU && size > (unsigned long)PCPU_MIN_UNIT_SIZE) {
		pr_err("leaky: percpu size must be <= %lu\n", (unsigned long)PCPU_MIN_UNIT_SIZE);
		return -EINVAL;
	}
	if (leaky_kind == LEAKY_CACHE) {
		leaky_cache = kmem_cache_create(cache_name, size, 0, 0, leaky_obj_ctor);
		if (!leaky_cache)
			return -ENOMEM;
	}
	per_tick_bytes = (unsigned long)rate_kib * 1024 * LEAKY_TICK_MS / 1000;
	if (per_tick_bytes < unit_bytes)
		per_tick_bytes = unit_bytes;
	total_bytes = (unsigned long)total_kib * 1024;

	INIT_DELAYED_WORK(&leaky_work, leaky_tick);
	schedule_delayed_work(&leaky_work, 0);
	pr_info("leaky: leaking %s, %u bytes per object, %u KiB/s, up to %u KiB\n",
		kind, size, rate_kib, total_kib);
	return 0;
}

static void __exit leaky_exit(void)
{
	cancel_delayed_work_sync(&leaky_work);
	/*
	 * The cache still holds the leaked objects, so it cannot be destroyed
	 * (kmem_cache_destroy() would complain and keep it anyway): leave it, as
	 * a leaking driver would.  Nothing allocates from it after this, so its
	 * ctor, which goes away with the module, is never called again.
	 */
	pr_info("leaky: unloaded, %lu bytes stay leaked\n", leaked_bytes);
}

module_init(leaky_init);
module_exit(leaky_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Leaks kernel memory on purpose (kleak-runbook lab)");
