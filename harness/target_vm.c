/* vm:VERSION and vm:PATH targets: a Linux kernel booted under
 * qemu-system-x86_64 with mmref-kernel-static as the /init of its initramfs,
 * speaking the exec protocol over a virtio-serial port (vport0p1, where the
 * kernel has the virtio console, built in or as modules ci/setup-vms keeps)
 * or the guest's second serial port (ttyS1), either QEMU's stdio
 * ($MMREF_VM_TRANSPORT=serial|virtio chooses); the guest's console (ttyS0) goes nowhere, or to
 * $MMREF_VM_CONSOLE. It is an exec target (target_exec.c) over that command:
 * the guest boots at the first trace, is reused for the next ones, and a
 * guest that died is booted afresh at the next trace. docs/versions.md.
 *
 * vm:6.1, vm:6.12: $MMREF_KERNELS/VERSION/vmlinuz (default
 * ~/.cache/mmref/kernels, filled by ci/setup-vms from Debian's packages);
 * vm:PATH: any bzImage (a name with a '/').
 * Either may end in "+pku" (vm:6.12+pku, vm:/tmp/k618/vmlinuz+pku): the
 * guest's CPU then has protection keys (-cpu qemu64,+pku, which TCG
 * emulates), its kernel turns OSPKE on and mmref-kernel announces
 * pkeys=on. $MMREF_VM_CPU replaces the CPU model altogether (e.g. max). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "target.h"

/* Boot plus the first statement under TCG on a busy machine: generous. */
#define VM_DEFAULT_TIMEOUT_MS 120000
/* What oracle/kernel/init.c prints when the serial port is ready. */
#define VM_READY_BANNER "# mmref-kernel: ready"


char *target_vm_kernel_dir(void)
{
	const char *env = g_getenv("MMREF_KERNELS");
	if (env && *env)
		return g_strdup(env);
	return g_build_filename(g_get_home_dir(), ".cache", "mmref", "kernels", NULL);
}

static char *static_executor_path(void)
{
	return target_sibling_executable("MMREF_KERNEL_STATIC", "mmref-kernel-static");
}

/* ---- the initramfs: a newc cpio archive holding /init and three directories ---- */

static void cpio_entry(GString *out, const char *name, guint32 mode, const void *data, gsize size, guint32 ino)
{
	gsize namesize = strlen(name) + 1;
	g_string_append_printf(out, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode, 0u, 0u,
	                       1u, 0u, (guint32)size, 0u, 0u, 0u, 0u, (guint32)namesize, 0u);
	g_string_append_len(out, name, (gssize)namesize);
	while (out->len % 4)
		g_string_append_c(out, '\0');
	if (size)
		g_string_append_len(out, data, (gssize)size);
	while (out->len % 4)
		g_string_append_c(out, '\0');
}

static gint path_cmp(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The kernel modules to put in the initramfs for image img: the .ko files of
 * the modules/ directory beside it (ci/setup-vms keeps the virtio console's
 * there, named N-NAME.ko in load order, where the kernel builds it as a
 * module), sorted; NULL when there is none. */
static GPtrArray *image_modules(const char *img)
{
	char *base = g_path_get_dirname(img);
	char *dir = g_build_filename(base, "modules", NULL);
	g_free(base);
	GDir *d = g_dir_open(dir, 0, NULL);
	GPtrArray *mods = NULL;
	if (d) {
		const char *n;
		while ((n = g_dir_read_name(d)))
			if (g_str_has_suffix(n, ".ko")) {
				if (!mods)
					mods = g_ptr_array_new_with_free_func(g_free);
				g_ptr_array_add(mods, g_build_filename(dir, n, NULL));
			}
		g_dir_close(d);
	}
	g_free(dir);
	if (mods)
		g_ptr_array_sort(mods, path_cmp);
	return mods;
}

/* Whether image img can give the guest a virtio console: its config beside
 * it says CONFIG_VIRTIO_CONSOLE=y (6.12), or its modules include it (6.1).
 * $MMREF_VM_TRANSPORT=serial|virtio overrides. */
static gboolean image_has_virtio_console(const char *img, const GPtrArray *mods)
{
	const char *env = g_getenv("MMREF_VM_TRANSPORT");
	if (env && *env)
		return strcmp(env, "virtio") == 0;
	for (guint i = 0; mods && i < mods->len; i++)
		if (g_str_has_suffix(g_ptr_array_index(mods, i), "virtio_console.ko"))
			return TRUE;
	char *base = g_path_get_dirname(img);
	char *cfg = g_build_filename(base, "config", NULL);
	gchar *text = NULL;
	gboolean yes = g_file_get_contents(cfg, &text, NULL, NULL) && strstr(text, "\nCONFIG_VIRTIO_CONSOLE=y\n") &&
	               strstr(text, "\nCONFIG_VIRTIO_PCI=y\n");
	g_free(text);
	g_free(cfg);
	g_free(base);
	return yes;
}

/* Archives not used for this long are removed when a new one is written
 * (each build of the executor makes one; without pruning the cache only
 * grows). An archive in use has its time renewed at each use. */
#define INITRAMFS_KEEP_SECONDS (24 * 3600)
/* ... but the newest few are always kept, however old. */
#define INITRAMFS_KEEP_NEWEST 8

struct cached_archive {
	char *path;
	time_t mtime;
};

static gint newest_first(gconstpointer a, gconstpointer b)
{
	const struct cached_archive *x = *(const struct cached_archive *const *)a;
	const struct cached_archive *y = *(const struct cached_archive *const *)b;
	return (x->mtime < y->mtime) - (x->mtime > y->mtime);
}

static void cached_archive_free(gpointer p)
{
	struct cached_archive *c = p;
	g_free(c->path);
	g_free(c);
}

/* Removes the cached archives in dir older than INITRAMFS_KEEP_SECONDS,
 * sparing the INITRAMFS_KEEP_NEWEST newest. Best effort: a file another
 * process removed first, or cannot be removed, is left alone. */
static void prune_initramfs_cache(const char *dir)
{
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return;
	GPtrArray *all = g_ptr_array_new_with_free_func(cached_archive_free);
	const char *name;
	while ((name = g_dir_read_name(d))) {
		if (!g_str_has_prefix(name, "initramfs-") || !g_str_has_suffix(name, ".cpio"))
			continue;
		struct cached_archive *c = g_new0(struct cached_archive, 1);
		c->path = g_build_filename(dir, name, NULL);
		struct stat st;
		if (stat(c->path, &st) != 0) {
			cached_archive_free(c);
			continue;
		}
		c->mtime = st.st_mtime;
		g_ptr_array_add(all, c);
	}
	g_dir_close(d);
	g_ptr_array_sort(all, newest_first);
	time_t now = time(NULL);
	for (guint i = INITRAMFS_KEEP_NEWEST; i < all->len; i++) {
		struct cached_archive *c = g_ptr_array_index(all, i);
		if (now - c->mtime > INITRAMFS_KEEP_SECONDS)
			unlink(c->path);
	}
	g_ptr_array_unref(all);
}

/* The archive for executor exe and modules mods (or NULL), cached under the
 * kernels' directory by their checksum (one file per build of the executor
 * and set of modules). */
static char *initramfs_for(const char *exe, const GPtrArray *mods, GError **error)
{
	gchar *data = NULL;
	gsize len = 0;
	if (!g_file_get_contents(exe, &data, &len, error))
		return NULL;
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	g_checksum_update(ck, (const guchar *)data, len);
	GPtrArray *mdata = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	for (guint i = 0; mods && i < mods->len; i++) {
		gchar *m = NULL;
		gsize ml = 0;
		if (!g_file_get_contents(g_ptr_array_index(mods, i), &m, &ml, error)) {
			g_ptr_array_unref(mdata);
			g_checksum_free(ck);
			g_free(data);
			return NULL;
		}
		char *bn = g_path_get_basename(g_ptr_array_index(mods, i));
		g_checksum_update(ck, (const guchar *)bn, strlen(bn) + 1);
		g_free(bn);
		g_checksum_update(ck, (const guchar *)m, ml);
		g_ptr_array_add(mdata, g_bytes_new_take(m, ml));
	}
	char *sum = g_strdup(g_checksum_get_string(ck));
	g_checksum_free(ck);
	char *dir = target_vm_kernel_dir();
	char *name = g_strdup_printf("initramfs-%.16s.cpio", sum);
	char *path = g_build_filename(dir, name, NULL);
	g_free(name);
	g_free(sum);
	/* Renew an archive's time at each use, so pruning spares it. */
	if (utime(path, NULL) != 0 && errno == ENOENT) {
		GString *a = g_string_sized_new(len + 1024);
		cpio_entry(a, "dev", 040755, NULL, 0, 1);
		cpio_entry(a, "proc", 040555, NULL, 0, 2);
		cpio_entry(a, "sys", 040555, NULL, 0, 3);
		cpio_entry(a, "init", 0100755, data, len, 4);
		if (mdata->len)
			cpio_entry(a, "modules", 040755, NULL, 0, 5);
		for (guint i = 0; i < mdata->len; i++) {
			char *bn = g_path_get_basename(g_ptr_array_index(mods, i));
			char *mn = g_strdup_printf("modules/%s", bn);
			gsize ml = 0;
			const void *m = g_bytes_get_data(g_ptr_array_index(mdata, i), &ml);
			cpio_entry(a, mn, 0100644, m, ml, 6 + i);
			g_free(mn);
			g_free(bn);
		}
		cpio_entry(a, "TRAILER!!!", 0, NULL, 0, 0);
		char *tmp = g_strdup_printf("%s.%d.tmp", path, (int)getpid());
		g_mkdir_with_parents(dir, 0755);
		gboolean ok = g_file_set_contents(tmp, a->str, (gssize)a->len, error) && rename(tmp, path) == 0;
		if (!ok && error && !*error)
			g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "cannot write %s: %s", path, g_strerror(errno));
		g_string_free(a, TRUE);
		unlink(tmp);
		g_free(tmp);
		if (!ok) {
			g_free(path);
			path = NULL;
		} else {
			prune_initramfs_cache(dir);
		}
	}
	g_free(dir);
	g_free(data);
	g_ptr_array_unref(mdata);
	return path;
}

#define VM_PKU_SUFFIX "+pku"

/* Does spec end in "+pku" (the guest CPU gets PKU)? */
static gboolean spec_wants_pku(const char *spec)
{
	return g_str_has_suffix(spec, VM_PKU_SUFFIX) && strlen(spec) > strlen(VM_PKU_SUFFIX);
}

/* The kernel image vm:SPEC names, or NULL and *error saying what is missing. */
char *target_vm_image(const char *spec_in, GError **error)
{
	char *spec = g_strdup(spec_in);
	if (spec_wants_pku(spec))
		spec[strlen(spec) - strlen(VM_PKU_SUFFIX)] = '\0';
	char *img;
	if (strchr(spec, '/')) {
		img = g_strdup(spec);
	} else {
		char *dir = target_vm_kernel_dir();
		img = g_build_filename(dir, spec, "vmlinuz", NULL);
		g_free(dir);
	}
	if (!g_file_test(img, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
		            "target vm:%s: no kernel image at %s (ci/setup-vms unpacks Debian's 6.1 and 6.12 images; "
		            "vm:PATH takes any bzImage)",
		            spec_in, img);
		g_free(img);
		g_free(spec);
		return NULL;
	}
	g_free(spec);
	return img;
}

/* Why the vm targets cannot run here (NULL: they can, for spec). */
char *target_vm_missing(const char *spec)
{
	char *qemu = g_find_program_in_path("qemu-system-x86_64");
	if (!qemu)
		return g_strdup("no qemu-system-x86_64 (ci/setup-vms installs qemu-system-x86)");
	g_free(qemu);
	char *exe = static_executor_path();
	gboolean have = exe && g_file_test(exe, G_FILE_TEST_IS_EXECUTABLE);
	char *why = have ? NULL
	                 : g_strdup_printf("no mmref-kernel-static at %s (needs static libc and glib; or set "
	                                   "MMREF_KERNEL_STATIC)",
	                                   exe ? exe : "(unknown)");
	g_free(exe);
	if (why || !spec)
		return why;
	GError *err = NULL;
	char *img = target_vm_image(spec, &err);
	if (!img) {
		why = g_strdup(err->message);
		g_error_free(err);
		return why;
	}
	g_free(img);
	return NULL;
}

target *target_vm_new(const char *name, GError **error)
{
	const char *spec = name + 3;
	if (!*spec) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET,
		            "target vm: needs a kernel version or image (vm:6.1, vm:6.12, vm:PATH)");
		return NULL;
	}
	char *missing = target_vm_missing(NULL);
	if (missing) {
		g_set_error(error, TRACE_ERROR, TRACE_ERROR_TARGET, "target %s: %s", name, missing);
		g_free(missing);
		return NULL;
	}
	char *img = target_vm_image(spec, error);
	if (!img)
		return NULL;
	char *exe = static_executor_path();
	GPtrArray *mods = image_modules(img);
	gboolean virtio = image_has_virtio_console(img, mods);
	char *initrd = initramfs_for(exe, virtio ? mods : NULL, error);
	g_free(exe);
	if (mods)
		g_ptr_array_unref(mods);
	if (!initrd) {
		g_free(img);
		return NULL;
	}
	const char *accel = access("/dev/kvm", R_OK | W_OK) == 0 ? "kvm" : "tcg";
	const char *console = g_getenv("MMREF_VM_CONSOLE");
	char *con = console && *console ? g_strdup_printf("file:%s", console) : g_strdup("null");
	const char *mem = g_getenv("MMREF_VM_MEMORY");
	/* transparent_hugepage=madvise: Debian builds THP=always; madvise is
	 * the documented default profile (docs/profiles.md) and the host's.
	 * The exec protocol goes over a virtio-serial port where the kernel has
	 * the virtio console (a few MB/s under TCG), else over the second
	 * serial port (a 16550: about 70 KB/s under TCG). */
	char *append = g_strdup_printf("console=ttyS0 loglevel=3 panic=-1 transparent_hugepage=madvise mmref.tty=%s",
	                               virtio ? "vport0p1" : "ttyS1");
	char *q_img = g_shell_quote(img), *q_initrd = g_shell_quote(initrd), *q_con = g_shell_quote(con),
	     *q_append = g_shell_quote(append);
	/* The CPU: qemu64 (no PKU: profile pkeys=off), with PKU for a spec
	 * ending in +pku, or whatever $MMREF_VM_CPU says. */
	const char *cpu_env = g_getenv("MMREF_VM_CPU");
	char *cpu = g_strdup(cpu_env && *cpu_env ? cpu_env : spec_wants_pku(spec) ? "qemu64,+pku" : "qemu64");
	char *q_cpu = g_shell_quote(cpu);
	char *cmd = g_strdup_printf("exec qemu-system-x86_64 -nodefaults -no-reboot -display none -monitor none "
	                            "-accel %s -cpu %s -smp 1 -m %s -serial %s %s "
	                            "-kernel %s -initrd %s -append %s",
	                            accel, q_cpu, mem && *mem ? mem : "1G", q_con,
	                            virtio ? "-device virtio-serial-pci,max_ports=2 -chardev stdio,id=mmref "
	                                     "-device virtserialport,chardev=mmref,nr=1,name=mmref"
	                                   : "-serial stdio",
	                            q_img, q_initrd, q_append);
	target *tg = target_exec_new(name, cmd, error);
	if (tg) {
		target_exec_set_timeout(tg, VM_DEFAULT_TIMEOUT_MS);
		target_exec_set_banner(tg, VM_READY_BANNER);
	}
	const char *env = g_getenv("MMREF_EXEC_TIMEOUT");
	if (tg && env && *env && g_ascii_strtod(env, NULL) > 0)
		target_exec_set_timeout(tg, (int)(g_ascii_strtod(env, NULL) * 1000));
	g_free(q_cpu);
	g_free(cpu);
	g_free(q_img);
	g_free(q_initrd);
	g_free(q_con);
	g_free(q_append);
	g_free(append);
	g_free(con);
	g_free(cmd);
	g_free(img);
	g_free(initrd);
	return tg;
}
