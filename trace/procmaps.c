/* /proc/PID/maps lines: see procmaps.h. */
#define _POSIX_C_SOURCE 200809L
#include "procmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

uint64_t tr_maps_hex(const char **pp)
{
	const char *p = *pp;
	uint64_t v = 0;
	for (;; p++) {
		int d;
		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else
			break;
		v = v << 4 | (uint64_t)d;
	}
	*pp = p;
	return v;
}

/* The next space-separated field: its start, and its length in *len. */
static const char *field(const char *p, size_t *len, const char **after)
{
	while (*p == ' ')
		p++;
	const char *s = p;
	while (*p && *p != ' ')
		p++;
	*len = (size_t)(p - s);
	*after = p;
	return s;
}

bool tr_maps_parse(const char *line, tr_maps_entry *e)
{
	const char *p = line;
	e->start = tr_maps_hex(&p);
	if (*p != '-')
		return false;
	p++;
	e->end = tr_maps_hex(&p);
	e->range_len = (size_t)(p - line);
	e->perms = field(p, &e->perms_len, &p);
	e->offset = field(p, &e->offset_len, &p);
	const char *o = e->offset;
	e->off = tr_maps_hex(&o);
	while (*p == ' ')
		p++;
	e->dev_major = (unsigned)tr_maps_hex(&p);
	if (*p == ':')
		p++;
	e->dev_minor = (unsigned)tr_maps_hex(&p);
	while (*p == ' ')
		p++;
	uint64_t ino = 0;
	for (; *p >= '0' && *p <= '9'; p++)
		ino = ino * 10 + (uint64_t)(*p - '0');
	e->inode = ino;
	while (*p && *p != ' ') /* whatever else the field holds */
		p++;
	while (*p == ' ')
		p++;
	e->name = p;
	return true;
}

long tr_maps_read_file(const char *path, char *buf, size_t cap)
{
	if (cap == 0)
		return -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	for (;;) {
		if (len == cap - 1) {
			close(fd);
			return -1;
		}
		ssize_t n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (long)len;
}
