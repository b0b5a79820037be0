/* mmref-kernel as the /init of a guest's initramfs (the vm:VERSION targets,
 * harness/target_vm.c, docs/versions.md).
 *
 * As PID 1 it mounts /proc, /sys and /dev, puts the serial port named by
 * `mmref.tty=NAME` on the kernel command line (default ttyS1) in raw mode and
 * makes it standard input and output, then forks: the child goes on as the
 * executor (so that the executor is an ordinary process, not the global init
 * with its special signal and OOM rules), the parent reaps and powers the
 * guest off when the executor ends (end of input, or a crash). Does nothing
 * when not PID 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
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
	char tty[64];
	tty_name(tty, sizeof(tty));
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
