/*
 * Bug: `memtree check` was cubic on deep trees. Every problem's message
 * named its region by its full path, rebuilt by walking up the containers
 * once per level, and every address was summed up the whole chain again:
 * 4,000 levels took 37.5 s and printed 44 MB, a 100,000-deep chain over
 * 300 s. Fixed by finding each region's place once (tools/memtree/
 * cmd_check.c) and shortening deep paths to their two outermost and three
 * innermost names. This checks the output: one line per problem, each
 * short, with the right addresses at the bottom of the chain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "mt_test.h"

#define DEPTH 5000

/* c0 (2^64) holds c1 at 0x10, which holds c2 at 0x10, ...: each level of
 * 2^62 bytes overhangs its container by 0x10. */
static void write_chain(const char *path)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "memtree-map 1\n");
    fprintf(f, "region c0 - container 0 10000000000000000 0 - - - - system\n");
    for (int i = 1; i < DEPTH - 1; i++)
        fprintf(f, "region c%d c%d container 10 4000000000000000 0 - - - - c%d\n", i, i - 1,
                i);
    fprintf(f, "region leaf c%d ram 10 1000 0 - - - - leaf\n", DEPTH - 2);
    fprintf(f, "as c0 memory\n");
    assert_int_equal(fclose(f), 0);
}

static void check_output_is_one_short_line_per_level(void **state)
{
    (void)state;
    const char *memtree = getenv("MEMTREE");
    if (!memtree)
        skip(); /* registered with it by tests/CMakeLists.txt */
    char path[] = "/tmp/mt_check_deep_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    write_chain(path);

    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s' check '%s' 2>/dev/null", memtree, path);
    FILE *out = popen(cmd, "r");
    assert_non_null(out);
    char *line = NULL;
    size_t cap = 0, lines = 0, longest = 0;
    ssize_t len;
    char last[512] = "";
    while ((len = getline(&line, &cap, out)) > 0) {
        lines++;
        if ((size_t)len > longest)
            longest = (size_t)len;
        if ((size_t)len < sizeof(last))
            memcpy(last, line, (size_t)len + 1);
    }
    free(line);
    int status = pclose(out);
    unlink(path);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1); /* problems found */
    /* c2 ... c4998 overhang (c1 fits in the 2^64 root; the leaf fits) */
    assert_int_equal(lines, DEPTH - 3);
    assert_true(longest < 400);
    /* the deepest: c4998 at 4998 * 0x10, in a path cut in the middle */
    assert_non_null(strstr(last, "overhang: system/c1/...(4994 more).../c4996/c4997/c4998 "
                                 "(0000000000013860-400000000001385f)"));
    assert_non_null(strstr(last, "container 'c4997' at 4000000000013850"));
}

MT_TEST_MAIN(
    cmocka_unit_test(check_output_is_one_short_line_per_level))
