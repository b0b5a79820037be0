/* The /init of ci/vm-ctest's guest: mounts the host's root (virtiofs tag
 * "host"), chroots into it with the guest's own /proc, /sys, /dev, /tmp and
 * /run, runs the script named by vmctest.script= on the kernel command line
 * with /bin/sh, and powers the guest off. Static, libc only. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void script_from_cmdline(char *out, size_t n)
{
	char cmdline[4096] = "";
	mkdir("/proc", 0755);
	if (mount("proc", "/proc", "proc", 0, NULL) == 0) {
		int fd = open("/proc/cmdline", O_RDONLY);
		if (fd >= 0) {
			ssize_t r = read(fd, cmdline, sizeof(cmdline) - 1);
			cmdline[r > 0 ? r : 0] = '\0';
			close(fd);
		}
		umount("/proc");
	}
	const char *s = strstr(cmdline, "vmctest.script=");
	snprintf(out, n, "%.*s", s ? (int)strcspn(s + 15, " \n") : 0, s ? s + 15 : "");
}

int main(void)
{
	char script[1024];
	script_from_cmdline(script, sizeof(script));
	mkdir("/host", 0755);
	if (mount("host", "/host", "virtiofs", 0, NULL) != 0 || chroot("/host") != 0 || chdir("/") != 0) {
		perror("vm-ctest init: the host's root over virtiofs");
		goto off;
	}
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mkdir("/dev/pts", 0755);
	mkdir("/dev/shm", 01777);
	mount("devpts", "/dev/pts", "devpts", 0, NULL);
	mount("tmpfs", "/dev/shm", "tmpfs", 0, NULL);
	mount("tmpfs", "/tmp", "tmpfs", 0, "size=2G");
	mount("tmpfs", "/run", "tmpfs", 0, NULL);
	symlink("/proc/self/fd", "/dev/fd"); /* what udev would make: bash's <(...) */
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		execl("/bin/sh", "sh", script, (char *)NULL);
		_exit(127);
	}
	while (wait(NULL) > 0)
		;
off:
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
