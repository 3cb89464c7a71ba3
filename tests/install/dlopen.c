/*
 * Built by tests/install/check.sh without linking memtree: loads the
 * installed shared library with dlopen, as a plugin host or a language
 * binding would, and reads RAM through it. The library and liburcu come in
 * after the program started, so their thread-local variables cannot take
 * the program's static TLS block (docs/building.md, "Thread-local state").
 */
#include <memtree.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* p_NAME: NAME from the library, typed as the header declares it. */
#define LOAD(name) __typeof__(&name) p_##name = (__typeof__(&name))load_symbol(h, #name)

static void *load_symbol(void *h, const char *name)
{
    void *p = dlsym(h, name);
    if (!p)
        fprintf(stderr, "dlopen: no symbol %s\n", name);
    return p;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: dlopen LIBMEMTREE.so\n");
        return 2;
    }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    LOAD(mt_context_new);
    LOAD(mt_context_free);
    LOAD(mt_context_reclaim);
    LOAD(mt_region_init_ram);
    LOAD(mt_region_finalize);
    LOAD(mt_region_ram_ptr);
    LOAD(mt_address_space_new);
    LOAD(mt_address_space_destroy);
    LOAD(mt_address_space_read);
    if (!p_mt_context_new || !p_mt_context_free || !p_mt_context_reclaim ||
        !p_mt_region_init_ram || !p_mt_region_finalize || !p_mt_region_ram_ptr ||
        !p_mt_address_space_new || !p_mt_address_space_destroy || !p_mt_address_space_read)
        return 1;

    mt_context *ctx = p_mt_context_new();
    mt_region ram = {0};
    mt_address_space *as = NULL;
    if (ctx && p_mt_region_init_ram(&ram, ctx, NULL, "ram", 0x1000) == 0)
        as = p_mt_address_space_new(ctx, &ram, "memory");
    if (!as) {
        fprintf(stderr, "dlopen: could not build a map\n");
        return 1;
    }
    memcpy((uint8_t *)p_mt_region_ram_ptr(&ram) + 0x10, "\x11\x22\x33\x44", 4);
    uint32_t v = 0;
    mt_result res = p_mt_address_space_read(as, 0x10, MT_ATTRS_UNSPECIFIED, &v, 4);
    if (res != MT_RESULT_OK || memcmp(&v, "\x11\x22\x33\x44", 4) != 0) {
        fprintf(stderr, "dlopen: read gave %d, %08x\n", (int)res, (unsigned)v);
        return 1;
    }
    p_mt_address_space_destroy(as);
    p_mt_context_reclaim(ctx);
    if (p_mt_region_finalize(&ram) != 0)
        return 1;
    p_mt_context_free(ctx);
    printf("dlopen: loaded %s and read RAM through it\n", argv[1]);
    return 0;
}
