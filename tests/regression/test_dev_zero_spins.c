/*
 * Bug: an endless input never ended a load. `memtree show /dev/zero` spun
 * forever, and mt_machine_load read an endless stream (standard input fed
 * by `yes`) into memory without bound before looking at a byte of it.
 * Fixed in the commit that added this test: the loader checks each chunk
 * for binary bytes as it arrives and reads at most the context's input
 * limit (mt_context_set_input_limit; 1 GiB by default), failing with
 * -EFBIG beyond it. (The CLI's side, refusing devices, is in
 * tests/cli/cli_test.sh, group input.)
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mt_test.h"

#include "memtree.h"
#include <memtree/format.h>

/* An endless, valid-looking text stream. */
struct endless {
    size_t served;
};

static ssize_t endless_read(void *cookie, char *buf, size_t size)
{
    struct endless *e = cookie;
    static const char line[] = "  0000000000000000-0000000000000fff (prio 0, ram): ram\n";
    for (size_t i = 0; i < size; i++)
        buf[i] = line[(e->served + i) % (sizeof(line) - 1)];
    e->served += size;
    return (ssize_t)size;
}

static void dev_zero_fails_at_once(void **state)
{
    (void)state;
    FILE *in = fopen("/dev/zero", "r");
    assert_non_null(in);
    mt_context *ctx = mt_context_new();
    mt_machine *m = NULL;
    char err[512] = "";
    assert_int_equal(mt_machine_load(ctx, MT_FORMAT_AUTO, in, "/dev/zero", NULL, NULL, &m,
                                     err, sizeof(err)), -EINVAL);
    assert_null(m);
    assert_string_equal(err, "/dev/zero:1: binary data (byte 0x00): not a text file");
    /* it stopped at the first chunk */
    assert_true(ftell(in) <= (1 << 20));
    fclose(in);
    mt_context_free(ctx);
}

static void endless_text_stops_at_the_limit(void **state)
{
    (void)state;
    struct endless e = {0};
    FILE *in = fopencookie(&e, "r", (cookie_io_functions_t){.read = endless_read});
    assert_non_null(in);
    mt_context *ctx = mt_context_new();
    assert_int_equal(mt_context_set_input_limit(ctx, 1 << 20), 0);
    mt_machine *m = NULL;
    char err[512] = "";
    assert_int_equal(mt_machine_load(ctx, MT_FORMAT_AUTO, in, "<stdin>", NULL, NULL, &m,
                                     err, sizeof(err)), -EFBIG);
    assert_null(m);
    assert_non_null(strstr(err, "<stdin>: larger than the input limit of 1048576 bytes"));
    /* read one chunk past the limit at most */
    assert_true(e.served <= (2u << 20) + 65536);
    fclose(in);
    assert_int_equal(mt_context_set_input_limit(NULL, 1), -EINVAL);
    mt_context_free(ctx);
}

MT_TEST_MAIN(
    cmocka_unit_test(dev_zero_fails_at_once),
    cmocka_unit_test(endless_text_stops_at_the_limit))
