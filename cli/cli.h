/* What the commands of `mmref` share: one set of exit statuses, and the
 * commands that live in their own files. */
#ifndef MMREF_CLI_H
#define MMREF_CLI_H

/* The exit status of every command (README: "Exit status"). */
enum mmref_exit {
	MMREF_EXIT_OK = 0,             /* all held, all agree, done */
	MMREF_EXIT_DIFFERED = 1,       /* a result differed / a disagreement */
	MMREF_EXIT_INVALID = 2,        /* invalid input or usage: nothing (more) run */
	MMREF_EXIT_NOT_APPLICABLE = 3, /* cannot run here: a profile differs, no KVM */
};
/* mmref shrink: 1 says the trace does not diverge at all (nothing to shrink). */
#define MMREF_EXIT_NO_DIVERGENCE MMREF_EXIT_DIFFERED

/* cli/cmd_fuzzing.c */
int cmd_decode(int argc, char **argv);
int cmd_shrink(int argc, char **argv);
/* cli/cmd_profile_deps.c */
int cmd_profile_deps(int argc, char **argv);
/* cli/cmd_profile.c */
int cmd_profile(int argc, char **argv);
/* cli/cmd_walkcheck.c */
int cmd_walkcheck(int argc, char **argv);

#endif
