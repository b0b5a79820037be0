/* Reading /proc/PID/maps (and the VMA header lines of smaps): the one
 * parser for every reader in the tree (mmref-kernel's arena placement and
 * observations, the tests, bench/kernel.c). No allocation and no glib:
 * mmref-kernel calls it while its arena must not move. */
#ifndef MMREF_TRACE_PROCMAPS_H
#define MMREF_TRACE_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One line "START-END PERMS OFFSET MAJOR:MINOR INODE [NAME]"
 * (fs/proc/task_mmu.c show_vma_header_prefix, show_map_vma). The text
 * fields point into the line. */
typedef struct tr_maps_entry {
	uint64_t start, end;
	size_t range_len;   /* "START-END": the first range_len characters */
	const char *perms;  /* PERMS (perms_len characters) */
	size_t perms_len;
	const char *offset; /* OFFSET as written (offset_len characters) */
	size_t offset_len;
	uint64_t off;       /* OFFSET, parsed */
	unsigned dev_major, dev_minor;
	uint64_t inode;
	const char *name;   /* the rest after the spaces: "" when none */
} tr_maps_entry;

/* Parses one line (no newline): false when it does not start with
 * START-END (an smaps field line, say); then only start is set. */
bool tr_maps_parse(const char *line, tr_maps_entry *e);

/* Lower-case hex digits from *pp on, as the kernel prints them
 * (seq_put_hex_ll): their value; *pp is left after them. */
uint64_t tr_maps_hex(const char **pp);

/* Reads the whole file at path into buf, NUL-terminated: its length, or -1
 * when it cannot be read or does not fit in cap - 1 bytes. */
long tr_maps_read_file(const char *path, char *buf, size_t cap);

#endif
