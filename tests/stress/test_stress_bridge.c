/*
 * Readers while bridges re-program their windows (BR-15, docs/pci-bridge.md,
 * "Tests"): reader threads read 4 bytes at random addresses through
 * the root `I/O` space and both bridges' I/O address spaces while the
 * writer reprograms both bridges (finalising and re-initialising their
 * window aliases in the same storage), moves the device's BAR and nests
 * writes in transactions. Every read must give the device's value (OK), the
 * root I/O region's all-ones (OK), or zeros with DECODE_ERROR; ASan/TSan
 * must see nothing. Runs for MT_STRESS_SECONDS (default 3) seconds.
 */
#include "../lifetime/test_bridge_common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define READERS 4
#define DEV_VALUE 0xd2d2d2d2u

static uint64_t dev_read(void *opaque, uint64_t offset, unsigned size)
{
    (void)opaque;
    (void)offset;
    return size >= 4 ? DEV_VALUE : DEV_VALUE & ((1u << (8 * size)) - 1);
}

static const mt_region_ops dev_ops = {
    .read = dev_read,
    .write = mt_test_ignore_write,
    .endianness = MT_ENDIAN_LITTLE,
};

struct shared {
    mt_address_space *spaces[3];
    atomic_bool stop;
};

struct reader_result {
    struct shared *sh;
    uint64_t seed;
    uint64_t reads, device, ones, unassigned;
    char failure[200];
};

static void *reader(void *arg)
{
    struct reader_result *rr = arg;
    mt_reader_register();
    while (!atomic_load_explicit(&rr->sh->stop, memory_order_relaxed)) {
        mt_test_xorshift(&rr->seed);
        mt_address_space *as = rr->sh->spaces[rr->seed % 3];
        uint64_t addr = (rr->seed >> 8) % 0xfffd;
        uint32_t v = 0x12345678;
        mt_result res = mt_address_space_read(as, addr, MT_ATTRS_UNSPECIFIED, &v, 4);
        rr->reads++;
        if (res == MT_RESULT_OK && v == DEV_VALUE)
            rr->device++;
        else if (res == MT_RESULT_OK && v == 0xffffffffu)
            rr->ones++;
        else if (res == MT_RESULT_DECODE_ERROR && v == 0)
            rr->unassigned++;
        else if (res == MT_RESULT_OK || res == MT_RESULT_DECODE_ERROR) {
            /* a 4-byte read may straddle two ranges: each byte must still
             * come from one of the three sources */
            const uint8_t *b = (const uint8_t *)&v;
            for (int i = 0; i < 4; i++)
                if (b[i] != 0xd2 && b[i] != 0xff && b[i] != 0 && !rr->failure[0])
                    snprintf(rr->failure, sizeof(rr->failure),
                             "read at %llx: result %d value %08x",
                             (unsigned long long)addr, res, v);
        } else if (!rr->failure[0]) {
            snprintf(rr->failure, sizeof(rr->failure), "read at %llx: result %d",
                     (unsigned long long)addr, res);
        }
    }
    mt_reader_unregister();
    return NULL;
}

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void readers_during_bridge_reprogramming(void **state)
{
    mt_test_env *e = *state;
    double seconds = getenv("MT_STRESS_SECONDS") ? atof(getenv("MT_STRESS_SECONDS")) : 3.0;
    bt_root root = bt_root_new(e);
    bt_bridge *b1 = bt_bridge_new(e, "dev id=b1", NULL);
    bt_realize(e, b1, root.pci, root.io);
    mt_pci_bridge_options o2 = {.io_32bit = true};
    bt_bridge *b2 = bt_bridge_new(e, "dev id=b2", &o2);
    bt_realize(e, b2, mt_pci_bridge_sec_mem(&b1->b), mt_pci_bridge_sec_io(&b1->b));
    bt_poison poison[2] = {0};
    bt_poison_install(&b1->b, &poison[0]);
    bt_poison_install(&b2->b, &poison[1]);
    mt_region *dev = mt_test_io_ops(e, e->O2, &dev_ops, NULL, "d2-io", 0x40);
    mt_test_map_prio(mt_pci_bridge_sec_io(&b2->b), 0x1000, dev, 1);
    /* the seed's situation to start from: B1's I/O view rooted at B2's window */
    assert_ptr_equal(mt_view_root(mt_address_space_view(mt_pci_bridge_io_as(&b1->b))),
                     mt_pci_bridge_window_region(&b2->b, MT_PCI_BRIDGE_WIN_IO));

    struct shared sh = {.spaces = {root.io_as, mt_pci_bridge_io_as(&b1->b),
                                   mt_pci_bridge_io_as(&b2->b)}};
    atomic_store(&sh.stop, false);
    pthread_t th[READERS];
    struct reader_result rr[READERS];
    for (int i = 0; i < READERS; i++) {
        rr[i] = (struct reader_result){.sh = &sh, .seed = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)};
        assert_int_equal(pthread_create(&th[i], NULL, reader, &rr[i]), 0);
    }

    uint64_t seed = 42, steps = 0, end = now_ns() + (uint64_t)(seconds * 1e9);
    static const uint16_t io_windows[] = {0x0000, 0x1010, 0x2010, 0x00f0, 0x1000, 0x0101};
    while (now_ns() < end) {
        mt_test_xorshift(&seed);
        bt_bridge *b = seed & 1 ? b1 : b2;
        bool nested = (seed >> 1) % 4 == 0;
        if (nested)
            mt_transaction_begin(e->ctx);
        switch ((seed >> 3) % 5) {
        case 0: bt_write(e, b, 0x1c, io_windows[(seed >> 8) % 6], 2); break;
        case 1: bt_write(e, b, 0x04, (uint32_t)((seed >> 8) % 4), 2); break;
        case 2: bt_write(e, b, 0x3e, (seed >> 8) & 1 ? 0x08 : 0, 2); break;
        case 3: bt_write(e, b, 0x30, (uint32_t)((seed >> 8) % 2), 2); break;
        default:
            assert_int_equal(mt_region_set_address(dev, ((seed >> 8) % 3) * 0x1000), 0);
            break;
        }
        if (nested) {
            bt_write(e, seed & 1 ? b2 : b1, 0x04, 1, 2);
            assert_int_equal(mt_transaction_commit(e->ctx), 0);
        }
        if (++steps % 100 == 0)
            mt_test_reclaim(e);
    }
    atomic_store(&sh.stop, true);
    uint64_t reads = 0, device = 0, ones = 0, unassigned = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        if (rr[i].failure[0])
            fail_msg("reader %d: %s", i, rr[i].failure);
        reads += rr[i].reads;
        device += rr[i].device;
        ones += rr[i].ones;
        unassigned += rr[i].unassigned;
    }
    fprintf(stderr, "bridge stress: %llu steps, %llu reads: %llu device, %llu all-ones, "
            "%llu unassigned\n", (unsigned long long)steps, (unsigned long long)reads,
            (unsigned long long)device, (unsigned long long)ones,
            (unsigned long long)unassigned);
    assert_true(steps > 100 && reads > 1000);
    assert_true(device > 0 && ones > 0 && unassigned > 0);

    mt_test_unmap(mt_pci_bridge_sec_io(&b2->b), dev);
    bt_unplug(e, b2);
    bt_unplug(e, b1);
}

MT_TEST_MAIN(
    MT_TEST(readers_during_bridge_reprogramming))
