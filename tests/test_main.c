/* The test runner behind tests/test.h: forks a child per test, enforces a timeout, reports. */
#include "test.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TESTS_MAX 512

static struct {
    const char *name;
    eddy_test_fn fn;
} tests[TESTS_MAX];
static int tests_count;
static char tmpdir_path[4096];
static char build_dir[4096];
static char build_path_buf[4096];
static uint64_t seed;

void eddy_test_register(const char *name, eddy_test_fn fn)
{
    if (tests_count == TESTS_MAX) {
        fprintf(stderr, "too many tests (max %d)\n", TESTS_MAX);
        exit(2);
    }
    tests[tests_count].name = name;
    tests[tests_count].fn = fn;
    tests_count++;
}

void eddy_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (seed %llu)\n", (unsigned long long)seed);
    fflush(stderr);
    _exit(1);
}

const char *test_tmpdir(void)
{
    if (tmpdir_path[0] == '\0') {
        const char *base = getenv("TMPDIR");
        snprintf(tmpdir_path, sizeof(tmpdir_path), "%s/eddy-test-XXXXXX", base ? base : "/tmp");
        if (!mkdtemp(tmpdir_path)) {
            fprintf(stderr, "mkdtemp %s: %s\n", tmpdir_path, strerror(errno));
            _exit(1);
        }
    }
    return tmpdir_path;
}

const char *test_build_path(const char *name)
{
    snprintf(build_path_buf, sizeof(build_path_buf), "%s/%s", build_dir, name);
    return build_path_buf;
}

uint64_t test_seed(void)
{
    return seed;
}

int test_soak(void)
{
    const char *s = getenv("EDDY_SOAK");
    return s && *s && strcmp(s, "0") != 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static int run_one(int i, int timeout_s)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0); /* so a timeout kills any processes the test started */
        alarm((unsigned)timeout_s);
        tests[i].fn();
        if (tmpdir_path[0])
            nftw(tmpdir_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
        fflush(stdout);
        fflush(stderr);
        exit(0);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    kill(-pid, SIGKILL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("  ok   %-50s %8.1f ms\n", tests[i].name, ms);
        return 0;
    }
    if (WIFSIGNALED(status))
        printf("  FAIL %-50s (signal %d%s)\n", tests[i].name, WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        printf("  FAIL %-50s (exit %d)\n", tests[i].name, WEXITSTATUS(status));
    return 1;
}

int main(int argc, char **argv)
{
    const char *s = getenv("EDDY_TEST_SEED");
    seed = s ? strtoull(s, NULL, 10) : (uint64_t)time(NULL);
    const char *t = getenv("EDDY_TEST_TIMEOUT_S");
    int timeout_s = t ? atoi(t) : 120;
    if (test_soak())
        timeout_s *= 30;
    /* The build directory is the parent of the test binary's directory (build/tests/x). */
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        slash = strrchr(self, '/');
        if (slash)
            *slash = '\0';
        snprintf(build_dir, sizeof(build_dir), "%s", self);
    }
    int failed = 0, ran = 0;
    printf("seed %llu\n", (unsigned long long)seed);
    for (int i = 0; i < tests_count; i++) {
        int selected = argc <= 1;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], tests[i].name) == 0)
                selected = 1;
        if (!selected)
            continue;
        ran++;
        failed += run_one(i, timeout_s);
    }
    printf("%d of %d tests passed\n", ran - failed, ran);
    return failed == 0 && ran > 0 ? 0 : 1;
}
