/*
 * Deferred backings (docs/regions.md, "Backing on demand") made by racing
 * readers: a loaded machine's RAM regions have no host memory until the
 * first access, and reader threads started together all reach for the
 * same regions first, while the writer commits re-renders that read the
 * backing pointers. Every write must land in the one backing that wins
 * (none in a loser's, freed), every read must see the bytes written before
 * it by its own thread, and ASan/TSan must see nothing.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mt_test.h"

#include "memtree.h"
#include <memtree/format.h>

#define READERS 4
#define REGIONS 32
#define ROUNDS 40
#define PAGE 0x1000u

struct stage {
    mt_machine *m;
    mt_address_space *as;
    pthread_barrier_t start;
    atomic_bool stop;
    atomic_uint errors;
};

struct reader {
    struct stage *st;
    unsigned id;
};

static void *reader_main(void *arg)
{
    struct reader *rd = arg;
    struct stage *st = rd->st;
    mt_reader_register();
    pthread_barrier_wait(&st->start);
    for (unsigned r = 0; r < REGIONS; r++) {
        /* RAM regions, then the RAM devices above them */
        for (unsigned half = 0; half < 2; half++) {
            uint64_t addr = (uint64_t)(half * REGIONS + r) * PAGE + rd->id;
            uint8_t v = (uint8_t)(0xa0 + rd->id), back = 0;
            if (mt_address_space_write(st->as, addr, MT_ATTRS_UNSPECIFIED, &v, 1) ||
                mt_address_space_read(st->as, addr, MT_ATTRS_UNSPECIFIED, &back, 1) ||
                back != v)
                atomic_fetch_add(&st->errors, 1);
        }
    }
    mt_reader_unregister();
    return NULL;
}

/* The writer re-renders while the readers race: the render reads each
 * RAM region's backing pointer. */
static void *writer_main(void *arg)
{
    struct stage *st = arg;
    mt_context *ctx = mt_machine_context(st->m);
    mt_region *spare = mt_machine_region_by_label(st->m, "spare");
    pthread_barrier_wait(&st->start);
    while (!atomic_load(&st->stop)) {
        mt_region_set_enabled(spare, !mt_region_enabled(spare));
        mt_context_reclaim(ctx);
    }
    return NULL;
}

static char *machine_text(void)
{
    mt_test_text t;
    FILE *f = mt_test_text_open(&t);
    fprintf(f, "memtree-map 1\nregion sys - container 0 10000000000000000 0 - - - - system\n");
    for (unsigned i = 0; i < REGIONS; i++)
        fprintf(f, "region r%u sys ram %x 1000 0 - - - - ram%u\n", i, i * PAGE, i);
    for (unsigned i = 0; i < REGIONS; i++)
        fprintf(f, "region d%u sys ramd %x 1000 0 - - - - dev%u\n", i, (REGIONS + i) * PAGE, i);
    fprintf(f, "region spare sys ram 100000000 1000 0 - - - - spare\nas sys memory\n");
    return mt_test_text_close(&t);
}

static void racing_first_accesses_share_one_backing(void **state)
{
    (void)state;
    char *text = machine_text();
    for (int round = 0; round < ROUNDS; round++) {
        mt_context *ctx = mt_context_new();
        FILE *in = fmemopen(text, strlen(text), "r");
        struct stage st = {0};
        char err[512];
        assert_int_equal(mt_machine_load(ctx, MT_FORMAT_MAP, in, "race.map", NULL, NULL,
                                         &st.m, err, sizeof(err)), 0);
        fclose(in);
        st.as = mt_machine_address_space(st.m, 0);
        pthread_barrier_init(&st.start, NULL, READERS + 1);
        pthread_t readers[READERS], writer;
        struct reader rd[READERS];
        for (unsigned i = 0; i < READERS; i++) {
            rd[i] = (struct reader){&st, i};
            assert_int_equal(pthread_create(&readers[i], NULL, reader_main, &rd[i]), 0);
        }
        assert_int_equal(pthread_create(&writer, NULL, writer_main, &st), 0);
        for (unsigned i = 0; i < READERS; i++)
            pthread_join(readers[i], NULL);
        atomic_store(&st.stop, true);
        pthread_join(writer, NULL);
        pthread_barrier_destroy(&st.start);
        assert_int_equal(atomic_load(&st.errors), 0);
        /* every thread's byte is in the backing that won */
        for (unsigned r = 0; r < 2 * REGIONS; r++) {
            uint8_t bytes[READERS];
            assert_int_equal(mt_address_space_read(st.as, (uint64_t)r * PAGE,
                                                   MT_ATTRS_UNSPECIFIED, bytes, READERS),
                             0);
            for (unsigned i = 0; i < READERS; i++)
                assert_int_equal(bytes[i], 0xa0 + i);
        }
        mt_machine_free(st.m);
        mt_context_free(ctx);
    }
    free(text);
}

MT_TEST_MAIN(
    cmocka_unit_test(racing_first_accesses_share_one_backing))
