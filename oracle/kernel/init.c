/* mmref-kernel as the /init of a guest's initramfs (the vm:VERSION targets,
 * harness/target_vm.c, docs/versions.md).
 *
 * As PID 1 it mounts /proc, /sys and /dev, puts the serial port named by
 * `mmref.tty=NAME` on the kernel command line (default ttyS1) in raw mode and
 * makes it standard input and output, then forks: the child goes on as the
 * executor (so that the executor is an ordinary process, not the global init
 * with its special signal and OOM rules), the parent reaps and powers the
 * guest off when the executor ends (end of input, or a crash). Does nothing
 * when not PID 1.
 *
 * The port is a virtio-serial port (`mmref.tty=vport0p1`, the fast transport)
 * or a serial port (ttyS1). Kernel modules in the initramfs's /modules
 * (N-NAME.ko, put there by harness/target_vm.c from ci/setup-vms's cache: the
 * virtio console where it is not built in, Debian's 6.1) are loaded first, in
 * the order of their names; a virtio port appears shortly after its driver
 * probes, so /init waits for the device node. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <termios.h>
#include <unistd.h>

#include "kernel.h"

static void tty_name(char *out, size_t n)
{
	snprintf(out, n, "/dev/ttyS1");
	char buf[4096];
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return;
	buf[r] = '\0';
	char *p = strstr(buf, "mmref.tty=");
	if (!p)
		return;
	p += 10;
	size_t l = strcspn(p, " \n");
	if (l > 0 && l < 32)
		snprintf(out, n, "/dev/%.*s", (int)l, p);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the .ko files of /modules in name order (finit_module; a module that is already
 * there, or fails, is reported on the console and skipped). */
static void load_modules(void)
{
	DIR *d = opendir("/modules");
	if (!d)
		return;
	char *names[64];
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)) && n < 64) {
		size_t l = strlen(e->d_name);
		if (l > 3 && strcmp(e->d_name + l - 3, ".ko") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[300];
		snprintf(path, sizeof(path), "/modules/%s", names[i]);
		int fd = names[i] ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST))
			fprintf(stderr, "mmref-kernel init: cannot load %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(names[i]);
	}
}

/* Waits up to 30 s for path to exist (a virtio port's node). */
static void wait_for(const char *path)
{
	for (int i = 0; i < 3000 && access(path, F_OK) != 0; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

void k_init_if_pid1(void)
{
	if (getpid() != 1)
		return;
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mkdir("/dev", 0755);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	load_modules();
	char tty[64];
	tty_name(tty, sizeof(tty));
	wait_for(tty);
	int fd = open(tty, O_RDWR | O_NOCTTY);
	if (fd >= 0) {
		struct termios t;
		if (tcgetattr(fd, &t) == 0) {
			cfmakeraw(&t);
			cfsetispeed(&t, B115200);
			cfsetospeed(&t, B115200);
			tcsetattr(fd, TCSANOW, &t);
		}
		dup2(fd, 0);
		dup2(fd, 1);
		if (fd > 2)
			close(fd);
	}
	int con = open("/dev/console", O_WRONLY | O_NOCTTY);
	if (con >= 0 && con != 2) {
		dup2(con, 2);
		close(con);
	}
	/* Bytes that arrived before the port was opened are partly lost: the
	 * harness sends nothing before this line (harness/target_vm.c). */
	tcflush(0, TCIFLUSH);
	static const char ready[] = "# mmref-kernel: ready\n\n";
	if (write(1, ready, sizeof(ready) - 1) < 0)
		(void)0;
	pid_t child = fork();
	if (child == 0)
		return; /* the executor */
	for (;;) {
		int st;
		pid_t w = wait(&st);
		if (w == child || (w < 0 && errno == ECHILD))
			break;
	}
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}
