/* See wdc-rules.h. */
#define _GNU_SOURCE
#include "wdc-rules.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wdc-win32.h"

extern char **environ;

static const char *const BINARIES[2] = {"iptables", "ip6tables"};
#define MAX_ARGS 24
#define MAX_JUMP_DELETIONS 16

/* Where a program is: the first of PATH, /usr/sbin, /sbin holding it; NULL if none. */
static const char *find_program(const char *name, char *buf, size_t len)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    char *save = NULL, *dir;
    snprintf(dirs, sizeof(dirs), "%s:/usr/sbin:/sbin", path != NULL ? path : "");
    for (dir = strtok_r(dirs, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
        if (*dir == '\0') continue;
        if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len) continue;
        if (access(buf, X_OK) == 0) return buf;
    }
    return NULL;
}

/*
 * Runs `argv` (argv[0] a program name) without a shell. Returns its exit
 * status, -1 if it could not be started. Stdout goes to `out` (NUL-ended,
 * truncated to `outlen`) when given, else to /dev/null; stderr to /dev/null.
 */
static int run(const char *const argv[], char *out, size_t outlen)
{
    char program[512];
    posix_spawn_file_actions_t fa;
    int pipefd[2] = {-1, -1}, status = -1, rc;
    pid_t pid;
    if (find_program(argv[0], program, sizeof(program)) == NULL) {
        errno = ENOENT;
        return -1;
    }
    if (out != NULL && pipe2(pipefd, O_CLOEXEC) != 0) return -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (out != NULL) posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    else posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    rc = posix_spawn(&pid, program, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (out != NULL) close(pipefd[1]);
    if (rc != 0) {
        if (out != NULL) close(pipefd[0]);
        errno = rc;
        return -1;
    }
    if (out != NULL) {
        size_t used = 0;
        char sink[4096];
        for (;;) {
            ssize_t n = used + 1 < outlen ? read(pipefd[0], out + used, outlen - 1 - used) : read(pipefd[0], sink, sizeof(sink));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            if (used + 1 < outlen) used += (size_t)n;
        }
        out[used] = '\0';
        close(pipefd[0]);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* `BIN -w 5 -t TABLE args...`; returns the exit status (-1: could not run). */
static int ipt(int family, const char *table, const char *const args[], char *out, size_t outlen)
{
    const char *argv[MAX_ARGS];
    int n = 0;
    argv[n++] = BINARIES[family];
    argv[n++] = "-w";
    argv[n++] = "5";
    argv[n++] = "-t";
    argv[n++] = table;
    for (int i = 0; args[i] != NULL && n < MAX_ARGS - 1; i++) argv[n++] = args[i];
    argv[n] = NULL;
    return run(argv, out, outlen);
}

static void remove_chain(int family, const char *table, const char *hook, const char *chain)
{
    const char *del[] = {"-D", hook, "-j", chain, NULL};
    const char *flush[] = {"-F", chain, NULL};
    const char *drop[] = {"-X", chain, NULL};
    for (int i = 0; i < MAX_JUMP_DELETIONS && ipt(family, table, del, NULL, 0) == 0; i++) {
    }
    if (ipt(family, table, flush, NULL, 0) == 0) ipt(family, table, drop, NULL, 0);
}

static int fill_chain(int family, const char *table, const char *hook, const char *chain, const char *queue, const char *mark, int skip_lo)
{
    const char *create[] = {"-N", chain, NULL};
    const char *lo[] = {"-A", chain, "-i", "lo", "-j", "RETURN", NULL};
    const char *marked[] = {"-A", chain, "-m", "mark", "--mark", mark, "-j", "RETURN", NULL};
    const char *queue_rule[] = {"-A", chain, "-j", "NFQUEUE", "--queue-num", queue, "--queue-bypass", NULL};
    const char *jump[] = {"-I", hook, "1", "-j", chain, NULL};
    if (ipt(family, table, create, NULL, 0) != 0) return -1;
    if (skip_lo && ipt(family, table, lo, NULL, 0) != 0) return -1;
    if (ipt(family, table, marked, NULL, 0) != 0) return -1;
    if (ipt(family, table, queue_rule, NULL, 0) != 0) return -1;
    return ipt(family, table, jump, NULL, 0) == 0 ? 0 : -1;
}

/* raw OUTPUT: datagrams the library sends on through its raw sockets for that (marked) leave untracked. */
static int fill_notrack_chain(int family, const char *chain, const char *mark)
{
    const char *create[] = {"-N", chain, NULL};
    const char *notrack[] = {"-A", chain, "-p", "udp", "-m", "mark", "--mark", mark, "-j", "CT", "--notrack", NULL};
    const char *jump[] = {"-I", "OUTPUT", "1", "-j", chain, NULL};
    if (ipt(family, "raw", create, NULL, 0) != 0) return -1;
    if (ipt(family, "raw", notrack, NULL, 0) != 0) return -1;
    return ipt(family, "raw", jump, NULL, 0) == 0 ? 0 : -1;
}

uint32_t wdc_rules_install(struct wdc_rules *r, unsigned queue, uint32_t skip_mark, uint32_t notrack_mark)
{
    char q[16], mark[32], untracked[32], probe[512];
    memset(r, 0, sizeof(*r));
    snprintf(r->pre, sizeof(r->pre), WDC_CHAIN_PREFIX "%d_%u_PRE", (int)getpid(), queue);
    snprintf(r->post, sizeof(r->post), WDC_CHAIN_PREFIX "%d_%u_POST", (int)getpid(), queue);
    snprintf(r->out, sizeof(r->out), WDC_CHAIN_PREFIX "%d_%u_OUT", (int)getpid(), queue);
    snprintf(q, sizeof(q), "%u", queue);
    snprintf(mark, sizeof(mark), "0x%x/0x%x", skip_mark, skip_mark);
    snprintf(untracked, sizeof(untracked), "0x%x/0x%x", notrack_mark, notrack_mark);
    for (int family = 0; family < 2; family++) {
        if (find_program(BINARIES[family], probe, sizeof(probe)) == NULL) {
            if (family == 0) return WDC_ERROR_FILE_NOT_FOUND;
            continue; /* no ip6tables: IPv4 only */
        }
        r->installed[family] = 1;
        if (fill_chain(family, "raw", "PREROUTING", r->pre, q, mark, 1) != 0 ||
            fill_chain(family, "mangle", "POSTROUTING", r->post, q, mark, 0) != 0 ||
            fill_notrack_chain(family, r->out, untracked) != 0) {
            wdc_rules_remove(r);
            return geteuid() != 0 ? WDC_ERROR_ACCESS_DENIED : WDC_ERROR_GEN_FAILURE;
        }
    }
    return 0;
}

void wdc_rules_remove(struct wdc_rules *r)
{
    for (int family = 0; family < 2; family++) {
        if (!r->installed[family]) continue;
        /* The PREROUTING jump first: nothing new is queued while the rest goes. */
        remove_chain(family, "raw", "PREROUTING", r->pre);
        remove_chain(family, "mangle", "POSTROUTING", r->post);
        remove_chain(family, "raw", "OUTPUT", r->out);
        r->installed[family] = 0;
    }
}

void wdc_rules_sweep_stale(void)
{
    static const char *const TABLES[2] = {"raw", "mangle"};
    static const char *const HOOKS[2] = {"PREROUTING", "POSTROUTING"};
    const char *list[] = {"-S", NULL};
    char *out = malloc(1 << 20);
    if (out == NULL) return;
    for (int family = 0; family < 2; family++) {
        for (int t = 0; t < 2; t++) {
            char *save = NULL, *line;
            if (ipt(family, TABLES[t], list, out, 1 << 20) != 0) continue;
            for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
                char chain[64];
                int pid;
                if (sscanf(line, "-N %63s", chain) != 1) continue;
                if (strncmp(chain, WDC_CHAIN_PREFIX, strlen(WDC_CHAIN_PREFIX)) != 0) continue;
                if (sscanf(chain + strlen(WDC_CHAIN_PREFIX), "%d_", &pid) != 1 || pid <= 0) continue;
                if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its owner lives */
                size_t len = strlen(chain);
                int out = len > 4 && strcmp(chain + len - 4, "_OUT") == 0;
                remove_chain(family, TABLES[t], out ? "OUTPUT" : HOOKS[t], chain);
            }
        }
    }
    free(out);
}
