/* The --max-* options (cli/cli_limits.c). */
#ifndef MMREF_CLI_LIMITS_H
#define MMREF_CLI_LIMITS_H

#include <glib.h>

/* Adds the "limits" option group (--max-arena, ...) to ctx. */
void cli_add_limit_options(GOptionContext *ctx);
/* FALSE (and a message naming the limit, prefixed with who) when out of range. */
gboolean cli_check_timeout(const char *who, double timeout);
gboolean cli_check_length(const char *who, gint64 length);
/* s as it may appear in a '# ' comment line: control characters and
 * backslashes as \xNN (g_free). */
char *cli_comment_text(const char *s);

#endif
